"""Checks a run makes as it is set up, before its first unit: for `kind: rl`, and for `kind: bc` and
`kind: imitation`, whose policies read the same frames and whose learners train as kind: rl's. Each
refusal is one `RlgenError` line; each function says which runs it refuses.
"""

from __future__ import annotations

from rich.markup import escape
from sb3_contrib.common.maskable.utils import is_masking_supported
from stable_baselines3.common.vec_env import VecEnv

from rlgen.agents.rl.algos import schedule_problems
from rlgen.agents.rl.config import RLConfig, unused_by_recurrent_lstm
from rlgen.agents.rl.sb3_bridge import policy_kwargs
from rlgen.agents.rl.vec import float_frames_problem, normalized_images_problem, stacked_frames_problem
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.runner import RunContext


def new_run_env_problem(cfg: RLConfig, env: VecEnv, ctx: RunContext) -> str | None:
    """Why a new run cannot train on `env` as its observations come, or None: normalized images,
    float frames channels last under a cnn, a frame stack SB3 reads in another layout than its
    frames (of `env.unwrapped`, the frames before stacking). Checked for a new run only: one an
    earlier rlgen trained so still opens, and resumes, as it was."""
    if not ctx.training or ctx.resumed:
        return None
    backbone = getattr(cfg.agent.policy.backbone, "type", None)
    return normalized_images_problem(env, cfg.env) or float_frames_problem(env, backbone) \
        or stacked_frames_problem(env.unwrapped.observation_space, cfg.env.frame_stack)


def require_action_masks(cfg: RLConfig, env: VecEnv) -> None:
    """maskable_ppo acts on the env's `action_masks()` (training and evaluation): refuse an env
    without them at setup, in one line, rather than in sb3-contrib's first rollout."""
    if cfg.agent.algo == "maskable_ppo" and not is_masking_supported(env):
        raise RlgenError(f"agent.algo: maskable_ppo needs action masks, and env {cfg.env.id!r} has no "
                         "action_masks() method; use ppo, or wrap the env in sb3_contrib's ActionMasker")


def check_schedules(cfg: RLConfig, ctx: RunContext) -> None:
    """A run that trains (new or resumed) refuses `lin_X` where SB3 takes a number (schedule_problems)."""
    if ctx.training and (problems := schedule_problems(cfg.agent.algo, cfg.agent.hyperparams)):
        raise RlgenError("; ".join(problems))


def _check_recurrent_lstm(cfg: RLConfig, ctx: RunContext) -> None:
    """An lstm backbone under recurrent_ppo is sb3-contrib's own LSTM, which takes its size and
    depth only: other keys set away from their defaults would be dropped without a word. A new run
    is refused; a run that already trained with them (an rlgen that did not refuse them) opens to
    act, evaluate or export as it is, and resumes with a warning (its agent.* cannot change on
    resume). Here rather than in `RLExperiment.check`, which every reopening of a run's config.yaml runs too."""
    backbone = cfg.agent.policy.backbone
    if cfg.agent.algo != "recurrent_ppo" or backbone is None or backbone.type != "lstm" or not ctx.training:
        return
    unused = unused_by_recurrent_lstm(backbone)
    if not unused:
        return
    why = ("agent.policy.backbone: under recurrent_ppo an lstm backbone is sb3-contrib's own LSTM, which takes "
           f"hidden_size and num_layers only, so {', '.join(unused)}")
    it, has = ("it", "has") if len(unused) == 1 else ("them", "have")
    if not ctx.resumed:
        raise RlgenError(f"{why} would have no effect; remove {it}, or use algo: ppo with env.history: {{length: N}} "
                         "for rlgen's lstm over a window of past steps")
    console.print(f"[yellow]warning:[/] {escape(why)} {has} no effect: this run trained without {it}, and goes on so")


def check_eval_normalize(cfg: RLConfig, ctx: RunContext) -> None:
    """An eval_env.normalize other than env.normalize, which evaluation does not follow (it
    normalizes as training does: `_eval_env_config`): a new run is refused; a run trained with it
    (an rlgen that honoured it) opens and resumes, evaluated as it trained, and says so."""
    if "normalize" not in cfg.eval_env:
        return
    given = EnvConfig.model_validate({**cfg.env.model_dump(), "normalize": cfg.eval_env["normalize"]}).normalize
    if given == cfg.env.normalize:
        return
    why = "evaluation normalizes observations as training does, with its statistics"
    if ctx.training and not ctx.resumed:
        raise RlgenError(f"eval_env.normalize differs from env.normalize, but {why}: drop eval_env.normalize")
    console.print("[yellow]warning:[/] " + escape(f"eval_env.normalize is ignored: {why} (this run's earlier "
                                                   "evaluations did not)"))


# The rlgen key that sets each SB3 policy_kwargs key sb3_bridge.policy_kwargs makes from rlgen's sections
_SET_FROM = {
    "lstm_hidden_size": "agent.policy.backbone.hidden_size", "n_lstm_layers": "agent.policy.backbone.num_layers",
    "shared_lstm": "agent.policy.share_backbone", "enable_critic_lstm": "agent.policy.share_backbone",
    "features_extractor_class": "agent.policy.backbone", "features_extractor_kwargs": "agent.policy.backbone",
    "share_features_extractor": "agent.policy.share_backbone", "net_arch": "agent.policy.net_arch",
    "activation_fn": "agent.policy.activation", "optimizer_class": "optim.type",
    "optimizer_kwargs": "optim (eps, betas, momentum, weight_decay, fused)",
}


def overwritten_policy_kwargs(cfg: RLConfig, policy_cls: type) -> dict[str, str]:
    """The agent.policy.kwargs keys that `policy_kwargs` sets itself for this algorithm, backbone
    and optim, and so would overwrite without a word, each with the rlgen key that sets it. The
    keys are the ones `policy_kwargs` makes with no kwargs given, so that this check and what SB3
    gets cannot drift apart."""
    pol = cfg.agent.policy
    owned = policy_kwargs(pol.model_copy(update={"kwargs": {}}), cfg.optim, policy_cls)
    return {key: _SET_FROM.get(key, "agent.policy and optim") for key in pol.kwargs if key in owned}


def check_policy_kwargs(cfg: RLConfig, ctx: RunContext, policy_cls: type) -> None:
    """agent.policy.kwargs that rlgen overwrites (`overwritten_policy_kwargs`): a new run is
    refused; a run that trained with them (an rlgen that dropped them silently) opens to act,
    evaluate or export as it is, and resumes with a warning. Here rather than in
    `RLExperiment.check`, which every reopening of a run's config.yaml runs too."""
    if not ctx.training or not (overwritten := overwritten_policy_kwargs(cfg, policy_cls)):
        return
    if not ctx.resumed:
        raise RlgenError("; ".join(f"agent.policy.kwargs.{key}: rlgen sets it from {instead}, which would overwrite "
                                   f"the value given here; set {instead} instead"
                                   for key, instead in overwritten.items()))
    keys = ", ".join(f"agent.policy.kwargs.{key}" for key in overwritten)
    console.print(f"[yellow]warning:[/] {escape(keys)} had no effect: rlgen set them from its own keys (this run "
                  "trained so, and goes on so)")
