"""`kind: rl` — an SB3 algorithm on a gymnasium env, driven one training unit at a time.

A training unit is one `learn()` call of SB3: one rollout and update for on-policy algorithms; for
off-policy ones about a thousand env steps, or fewer where the next evaluation, checkpoint or the
end of the run comes first (`_off_policy_steps`). SB3 keeps its env state between calls
(`reset_num_timesteps=False`) and rlgen its action noise (`SB3Learner.learn_unit`), so the chunked
run is the same run SB3 would do in one call.
"""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from pydantic import ValidationError
from rich.markup import escape
from stable_baselines3.common.vec_env import VecEnv, unwrap_vec_normalize

from rlgen import checkpoint
from rlgen.agents.rl.action_noise import action_noise_problem, check_noise_keys, with_action_noise
from rlgen.agents.rl.agent import Agent
from rlgen.agents.rl.algos import (ALGOS, check_hyperparams, divergence_fix, is_off_policy, resolved_hyperparams,  # noqa: F401
                                   schedule_problems)
from rlgen.agents.rl.config import RLConfig, unused_by_recurrent_lstm  # noqa: F401
from rlgen.agents.rl.env_failures import close_vec_env, env_failures
from rlgen.agents.rl.evaluation import play_episodes
from rlgen.agents.rl.predict import fast_predictor
from rlgen.agents.rl.sb3_bridge import BackboneExtractor, SB3Learner
from rlgen.agents.rl.sb3_state import env_state, load_model_state, model_state, restore_env, warn_not_exact
# The setup checks moved into setup_checks; they, and what they import, stay importable from here, and
# `setup` looks them up here (a test that stands in for an older rlgen patches them here)
from rlgen.agents.rl.setup_checks import (_check_recurrent_lstm, check_eval_normalize, check_policy_kwargs,
                                          check_schedules, new_run_env_problem, require_action_masks)
from rlgen.agents.rl.vec import (float_frames_problem, make_vec_env, normalized_images_problem,  # noqa: F401
                                 stacked_frames_problem)
from rlgen.agents.rl.video import filmed, video_problem
from rlgen.config import EnvConfig, _describe
from rlgen.envs import EPISODE_STEP_CAP, step_capped
from rlgen.errors import RlgenError
from rlgen.experiment import ExperimentBase
from rlgen.logging import Video, console
from rlgen.nets import backbone_traits
from rlgen.nets.common import no_distribution_checks
from rlgen.runner import RunContext


class RLExperiment(ExperimentBase):
    """An SB3 algorithm on a gymnasium env, its policy built on an rlgen backbone."""

    config_model = RLConfig

    def __init__(self, cfg: RLConfig):
        self.cfg = cfg
        self.global_step = 0
        self.model: Any = None
        self._cap_said = False  # the eval-episode cap was hit and said
        self.env: VecEnv | None = None
        self.eval_env: VecEnv | None = None
        self._eval_env_saved: dict[str, Any] | None = None  # restored once training goes on (load_state_dict)

    @property
    def prefers_accelerator(self) -> bool:
        return self.cfg.agent.policy.prefers_accelerator

    @classmethod
    def check(cls, cfg: RLConfig) -> list[str]:
        """Cheap checks beyond the schema, run before anything heavy starts."""
        problems = []  # env.id and env.wrappers are checked by EnvConfig as the config loads
        try:
            eval_env = _eval_env_config(cfg)
        except ValidationError as e:  # the schema's own lines ("did you mean"), under eval_env
            eval_env = None
            problems += [_describe(err, EnvConfig, cfg.eval_env, under="eval_env") for err in e.errors()]
        if cfg.train.video_every and eval_env is not None and (problem := video_problem(eval_env)):
            problems.append(f"train.video_every: {problem}; set train.video_every: null")
        problems += check_hyperparams(cfg.agent.algo, cfg.agent.hyperparams, n_envs=cfg.env.n_envs,
                                      policy_kwargs=cfg.agent.policy.kwargs)
        if problem := action_noise_problem(ALGOS[cfg.agent.algo], cfg.agent.hyperparams.get("action_noise")):
            problems.append(problem)
        backbone = cfg.agent.policy.backbone
        if cfg.agent.algo == "recurrent_ppo" and backbone is not None and backbone.type != "lstm" \
                and cfg.env.history is None and backbone_traits(backbone.type)[0]:
            problems.append(f"agent.policy.backbone.type: a {backbone.type!r} backbone under recurrent_ppo would read "
                            "one step at a time beneath sb3-contrib's own LSTM; use type: lstm (its size and layers "
                            f"become that LSTM's), or algo: ppo with env.history for a {backbone.type} over a window")
        return problems  # lstm keys recurrent_ppo's LSTM ignores: refused in setup (`_check_recurrent_lstm`)

    # --- the protocol ---------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        _check_recurrent_lstm(cfg, ctx)  # before any env is made: a refused new run costs nothing
        check_policy_kwargs(cfg, ctx, ALGOS[cfg.agent.algo].policy_aliases[_policy_name(cfg)])
        check_schedules(cfg, ctx)
        check_eval_normalize(cfg, ctx)
        check_noise_keys(cfg.agent.hyperparams, ctx)
        self.env = make_vec_env(cfg.env, seed=ctx.seed, gamma=cfg.agent.hyperparams.get("gamma", 0.99))
        if problem := new_run_env_problem(cfg, self.env, ctx):
            self.close()
            raise RlgenError(problem)
        require_action_masks(cfg, self.env)
        self._eval_seed = ctx.seed + 10_000
        self._training = ctx.training  # a resume's evaluations go on with its saved eval envs
        self.eval_env = self._make_eval_env()
        self._check_eval_spaces()
        self.learner = SB3Learner(ALGOS[cfg.agent.algo], _policy_name(cfg), self.env, cfg.optim, cfg.agent.policy,
                                  with_action_noise(cfg.agent.hyperparams, self.env), seed=ctx.seed, device=ctx.device,
                                  masked=cfg.env.history is not None, target=f"env {cfg.env.id!r}")
        self.model = self.learner.model
        if ctx.training and not ctx.resumed:  # a trained run's policy cannot change: said once, as it starts
            self._warn_memoryless_sequence()  # after the learner: an env it refuses gets the refusal alone
        self.unit_steps = self._unit_steps()
        ctx.logger.config({"sb3": resolved_hyperparams(self.model, cfg.agent.hyperparams)})

    def train_unit(self) -> dict[str, float]:
        self._freeze_normalization()
        steps = self._off_policy_steps() if is_off_policy(self.cfg.agent.algo) else self.unit_steps
        with env_failures(self.cfg.env.id, "the training rollout", lambda: self.model.num_timesteps):
            metrics = self.learner.learn_unit(steps, self.global_step, self.cfg.train.total_steps)
        self.global_step = int(self.model.num_timesteps)
        self._restore_eval_env()
        return metrics

    def _off_policy_steps(self) -> int:
        """The env steps of the next off-policy unit: `unit_steps`, cut at the next multiple of
        train.eval_every or train.checkpoint_every, or at train.total_steps, whichever comes first.
        The runner evaluates and checkpoints only where a unit ends, so a unit that ran past one
        would delay it by up to a unit. SB3's `learn(n)` steps every env copy together and collects
        whole rollouts of `train_freq` until n steps are done, so the unit ends at the first rollout
        end at or past the mark: where SB3's EvalCallback would evaluate, to within `train_freq`."""
        train, step, n_envs = self.cfg.train, self.global_step, self.env.num_envs
        marks = [train.total_steps, *((step // every + 1) * every for every in self._unit_cuts())]
        left = min(marks) - step  # > 0: the next multiple lies past `step`, and the runner stops at total_steps
        return max(n_envs, min(self.unit_steps, -(-left // n_envs) * n_envs))

    def _unit_cuts(self) -> tuple[int, ...]:
        """The periods whose multiples end an off-policy unit early (besides train.total_steps)."""
        train = self.cfg.train
        return train.eval_every, train.checkpoint_every or train.eval_every

    def _freeze_normalization(self) -> None:
        """`env.normalize.freeze_after`: VecNormalize stops updating its statistics from the first
        unit that starts at or after N env steps (set before every unit: a resumed run agrees)."""
        n = self.cfg.env.normalize
        norm = unwrap_vec_normalize(self.env) if n is not None and n.freeze_after is not None else None
        if norm is not None:
            norm.training = self.global_step < n.freeze_after

    def _restore_eval_env(self) -> None:
        """A resumed run's next evaluation plays the episodes it would have: its saved eval envs."""
        if self._eval_env_saved is not None:
            if problems := restore_env(self.eval_env, self._eval_env_saved):
                # another number of eval envs (train.eval_episodes changed on resume), another
                # wrapper: the half-restored envs are dropped for fresh ones, as a new run's
                warn_not_exact("the evaluation envs", problems)
                self._fresh_eval_env()
            self._eval_env_saved = None

    def _fresh_eval_env(self) -> None:
        """The eval envs built anew from their seed: the next evaluation plays a new run's first episodes."""
        old = self.eval_env
        _close_what_is_left(old)
        self.eval_env = self._make_eval_env()
        if self.env is old:  # BC: its model is built on its only env, which it never steps
            self.env = self.eval_env
            self.model.env = self.model._wrap_env(self.eval_env, verbose=0)
            self.model.n_envs = self.eval_env.num_envs
            self.model._vec_normalize_env = unwrap_vec_normalize(self.model.env)

    def evaluation_state(self) -> None:
        return None  # the eval envs of a loaded run are fresh, and built so again from their seed

    def load_evaluation_state(self, state: None) -> None:
        """Before another evaluation of a loaded run (`Run.evaluate`): the first one's episodes."""
        self._fresh_eval_env()

    def _warn_memoryless_sequence(self) -> None:
        """A sequence backbone (lstm, gru, transformer) under a feed-forward algorithm reads the first
        axis of its extractor's input as time: a flat observation, or a frame it flattens (MinAtar's),
        is a sequence of one step, and the policy has no memory. A window (env.history) or the env's
        own (steps, features) reaches it as (T, F); recurrent_ppo's lstm is no rlgen extractor."""
        cfg, backbone = self.cfg, self.cfg.agent.policy.backbone
        if backbone is None or not backbone_traits(backbone.type)[0]:
            return
        extractor = next((m for m in self.model.policy.modules() if isinstance(m, BackboneExtractor)), None)
        if extractor is None or len(extractor.in_shape) != 1:
            return
        space = self.env.observation_space
        stacked = " (env.frame_stack concatenates its frames into one step)" if cfg.env.frame_stack else ""
        console.print("[yellow]warning:[/] " + escape(
            f"agent.policy.backbone.type: a {backbone.type!r} backbone reads each {_short_space(space)} observation "
            f"of {cfg.env.id!r} as a sequence of one step{stacked}, so the policy has no memory; give it a window of "
            "past steps with env.history: {length: N}, or use algo: recurrent_ppo with backbone type: lstm (its "
            "LSTM carries a memory from step to step)"))

    def _check_eval_spaces(self) -> None:
        """An `eval_env` that changes what the policy reads or does (its id, wrappers, frame stack,
        history) would fail at the first evaluation, after `eval_every` steps of training: refuse
        it now, as SB3's `check_for_correct_spaces` does for an env set on a model. Only the
        structure counts (kind, shape, dtype, number of choices): bounds that differ (a time
        feature under another step limit) change nothing the policy does with them."""
        for what in ("observation", "action"):
            train, ev = getattr(self.env, f"{what}_space"), getattr(self.eval_env, f"{what}_space")
            if not _same_structure(train, ev):
                self.close()
                raise RlgenError(f"eval_env: its {what} space {_short_space(ev)} is not the training env's "
                                 f"{_short_space(train)}: the policy could not act on it; change only what keeps "
                                 "the spaces (env.kwargs such as render_mode or max_episode_steps, reward wrappers), "
                                 "or leave eval_env out")

    def _make_eval_env(self) -> VecEnv:
        return make_vec_env(_eval_env_config(self.cfg), seed=self._eval_seed, training=False,
                            section=_eval_section(self.cfg))

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, Any]:
        if video_dir is not None and (problem := video_problem(_eval_env_config(self.cfg))):
            # before any episode is played: else the env refuses render_mode, or RecordVideo its frames
            raise RlgenError(f"{problem}: leave out --video (video_dir in Run.evaluate)")
        if self._training:  # a resume with no unit left to train evaluates at once: as the run it goes on would
            self._restore_eval_env()
        n = episodes or self.cfg.train.eval_episodes
        sync_normalization(self.env, self.eval_env)
        with env_failures(_eval_env_as_given(self.cfg).id, "an evaluation", lambda: self.global_step):
            returns, lengths = self._evaluate(self.eval_env, n)
        if max(lengths) >= EPISODE_STEP_CAP and not self._cap_said:
            self._cap_said = True
            console.print(f"[yellow]warning:[/] env {self.cfg.env.id!r} has no step limit of its own: evaluation "
                          f"episodes were cut at {EPISODE_STEP_CAP:,} steps; choose the limit with "
                          "env.kwargs.max_episode_steps: N")
        out: dict[str, Any] = {
            "eval/return_mean": float(np.mean(returns)),
            "eval/return_std": float(np.std(returns)),
            "eval/length_mean": float(np.mean(lengths)),
        }
        if video_dir is not None:
            out["eval/video"] = Video(self._record_video(Path(video_dir)), caption=f"step {self.global_step:,}")
        return out

    def state_dict(self) -> dict[str, Any]:
        """Plain data only (see `sb3_state.model_state`): the model, its envs (VecNormalize's
        statistics and the memory window included), the replay buffer, and the eval envs, whose
        generators carry over from one evaluation to the next."""
        saved = self._eval_env_saved
        return {**model_state(self.model, replay_buffer=self.cfg.agent.save_replay_buffer),
                "eval_env": saved if saved is not None else env_state(self.eval_env),
                "action_noise": self.learner.noise_state()}  # callable, so left out of model_state's walk

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """The model and its envs now; the eval envs once training goes on (the next `train_unit`
        or, in training, `evaluate`): a loaded run's `evaluate` plays the episodes of a fresh run's
        first evaluation (seed + 10000, ...), so `rlgen eval` scores every checkpoint of a run on
        the same episodes."""
        load_model_state(self.model, state, buffer_kept=self.cfg.agent.save_replay_buffer)
        self.global_step = self.model.num_timesteps
        if "eval_env" in state:
            self._eval_env_saved = state["eval_env"]
        elif state.get("vec_normalize") and (norm := unwrap_vec_normalize(self.env)) is not None:
            norm.obs_rms, norm.ret_rms = state["vec_normalize"]  # an older checkpoint (--trust)
        if "action_noise" in state and (problems := self.learner.load_noise_state(state["action_noise"])):
            if checkpoint.resuming():  # acting or evaluating draws no noise
                console.print(f"[yellow]warning:[/] this resume is not exact: the action noise cannot be restored "
                              f"({escape('; '.join(problems[:3]))}); it starts afresh, as at an episode's start")

    def divergence_fix(self) -> str | None:
        return divergence_fix(self.cfg.agent.algo)

    def close(self) -> None:
        for env in (self.env, self.eval_env):
            if env is not None:
                close_vec_env(env)

    def modules(self) -> dict[str, torch.nn.Module]:
        """`policy` (the whole SB3 policy: transfer takes its actor's backbone) and, for actor-critic
        policies, `value`: the critic's features extractor (the same one when the backbone is
        shared); see `rlgen.transfer.policy_roles`."""
        from rlgen.transfer import policy_roles

        return policy_roles(self.model.policy)

    def export(self, fmt: str, out_dir: Path) -> list[Path]:
        """`rlgen export`: SB3's model.zip (sb3), or the deterministic policy (onnx, torchscript)."""
        from rlgen.agents.rl.export import export

        return export(self, fmt, out_dir)

    def agent(self) -> Agent:
        """The trained policy acting on plain observations of one env (see agents/rl/agent.py)."""
        return Agent(self.model, self.cfg.env, _normalize_state(self.env), self.cfg.agent.hyperparams.get("gamma", 0.99))

    # --- helpers --------------------------------------------------------------------------------

    def predict(self, obs: np.ndarray, deterministic: bool = True) -> np.ndarray:
        """Actions for a batch of observations (used by tests and `rlgen eval`)."""
        return self.model.predict(obs, deterministic=deterministic)[0]

    def _evaluate(self, env: VecEnv, n: int) -> tuple[list[float], list[int]]:
        masked = self.cfg.agent.algo == "maskable_ppo"  # action masks: sb3-contrib's own predict
        model = self.model if masked else fast_predictor(self.model)
        with no_distribution_checks():  # the n episodes split over the vector env's copies, stepped together
            return play_episodes(model, env, n, deterministic=True, masked=masked)

    def _record_video(self, video_dir: Path) -> Path:
        """One deterministic episode of the eval env, filmed; returns the mp4."""
        env_cfg = filmed(_eval_env_config(self.cfg), video_dir)
        env = make_vec_env(env_cfg, seed=self.cfg.seed + 20_000, training=False, render_mode="rgb_array",
                           section=_eval_section(self.cfg))
        try:
            sync_normalization(self.env, env)
            self._evaluate(env, 1)
        finally:
            env.close()
        return video_dir / "eval-episode-0.mp4"

    def _unit_steps(self) -> int:
        n_envs = self.env.num_envs
        if is_off_policy(self.cfg.agent.algo):
            # Off-policy SB3 updates every `train_freq` steps; a unit of ~1k steps keeps learn() calls rare.
            return max(n_envs, min(self.cfg.train.eval_every, 1000) // n_envs * n_envs)
        return self.learner.rollout_steps


def sync_normalization(train: VecEnv, evaluation: VecEnv) -> None:
    """The training env's VecNormalize statistics into the evaluation env's. SB3's
    `sync_envs_normalization` walks both wrapper chains in step and refuses chains that differ,
    as imitation's are (its discriminator's reward wrapper trains, evaluation pays the env's)."""
    source, target = unwrap_vec_normalize(train), unwrap_vec_normalize(evaluation)
    if source is not None and target is not None:
        for stats in ("obs_rms", "ret_rms"):  # obs_rms exists only where observations are normalized
            if stats in vars(source):
                setattr(target, stats, deepcopy(vars(source)[stats]))


def _policy_name(cfg: RLConfig) -> str:
    return "MlpLstmPolicy" if cfg.agent.algo == "recurrent_ppo" else "MlpPolicy"


def _close_what_is_left(venv: VecEnv) -> None:
    """Close a vector env a failed restore left half-written: some of its copies may be None."""
    envs = getattr(venv, "envs", None)
    if envs is None:
        venv.close()
        return
    for env in envs:
        if env is not None:
            env.close()


def _eval_env_config(cfg: RLConfig) -> EnvConfig:
    """The eval envs' config: env's, with eval_env's fields, but normalized as training is: the
    policy reads observations scaled by training's statistics (`sync_normalization`), and raw ones
    score a policy trained on normalized ones far below what it does (`check_eval_normalize`)."""
    env = _eval_env_as_given(cfg)
    return env.model_copy(update={"kwargs": step_capped(env.id, env.kwargs, env.wrappers),  # evaluation always ends
                                  "normalize": cfg.env.normalize})


def _eval_section(cfg: RLConfig) -> str:
    """The section an eval env that cannot be made names: eval_env when it changes what is made,
    else env (BC's only envs are its eval envs, made from env's fields)."""
    return "eval_env" if {"id", "kwargs", "wrappers"} & set(cfg.eval_env) else "env"


def _eval_env_as_given(cfg: RLConfig) -> EnvConfig:
    n = min(cfg.train.eval_episodes, 32)  # all eval episodes side by side, up to 32 copies
    merged = {**cfg.env.model_dump(), "n_envs": n, "vectorize": "dummy"}
    for key, value in cfg.eval_env.items():  # `kwargs` merges key by key, the rest replaces
        merged[key] = {**merged[key], **value} if key == "kwargs" and isinstance(value, dict) else value
    return EnvConfig.model_validate(merged)  # eval_env's own values checked as env's are (kwargs: null)


def _same_structure(a: gym.Space, b: gym.Space) -> bool:
    """The same kind of space with the same shape and dtype (a Box) or the same choices (the rest)."""
    if type(a) is not type(b):
        return False
    return (a.shape, a.dtype) == (b.shape, b.dtype) if isinstance(a, gym.spaces.Box) else a == b


def _short_space(space: gym.Space) -> str:
    """A space on one line: a Box by its shape and dtype (its bounds print as whole arrays)."""
    return f"Box{space.shape} {space.dtype}" if isinstance(space, gym.spaces.Box) else " ".join(str(space).split())


def _normalize_state(env: VecEnv | None) -> tuple[Any, Any] | None:
    norm = unwrap_vec_normalize(env) if env is not None else None  # under env.history's window
    # SB3 makes no obs_rms when observations are not normalized (env.normalize.obs: false)
    return (getattr(norm, "obs_rms", None), norm.ret_rms) if norm is not None else None
