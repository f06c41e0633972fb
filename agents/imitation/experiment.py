"""`kind: imitation` — GAIL and AIRL: an SB3 learner as the generator, an rlgen backbone as the discriminator.

One training unit: the learner's own SB3 unit (a rollout and update on-policy, ~1k steps
off-policy) on rewards from the current discriminator, then `imitation.disc_steps` discriminator
steps on expert batches against the learner's latest transitions, then (optionally) a few BC
steps. Before the first unit, an optional BC warm start. `global_step` counts env steps. The env's
own reward is never shown to the learner; evaluation plays the eval env and reports the true
return as eval/return_mean and eval/expert_ratio (see `Demos.score`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecNormalize

from rlgen.agents.imitation.bc import BCTrainer, action_log_prob
from rlgen.agents.imitation.bc_experiment import bc_loss_problems, demo_env_problems
from rlgen.agents.imitation.config import ImitationConfig
from rlgen.agents.imitation.data import DemoSource, raw_spaces
from rlgen.agents.imitation.discriminator import Discriminator, RewardFunction, discriminator_loss
from rlgen.agents.imitation.vec import DiscriminatorReward, RelabeledReplayBuffer, TransitionStore
from rlgen.agents.rl.algos import ALGOS, is_off_policy
from rlgen.agents.rl.action_noise import check_noise_keys, with_action_noise
from rlgen.agents.rl.experiment import RLExperiment, _policy_name
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.agents.rl.setup_checks import (check_eval_normalize, check_policy_kwargs, check_schedules,
                                          new_run_env_problem, require_action_masks)
from rlgen.agents.rl.vec import make_vec_env
from rlgen.errors import RlgenError
from rlgen.experiment import RunContext
from rlgen.process import process_state_kept

_DETERMINISTIC = ("td3", "ddpg", "dqn", "qrdqn")  # no log pi(a|s) for AIRL's logit
_OFF_POLICY_UNIT = 1000  # env steps of an off-policy unit: kind: rl's most (`RLExperiment._unit_steps`)


def state_mismatch(theirs: dict[str, torch.Tensor], mine: dict[str, torch.Tensor]) -> list[str]:
    """How a state dict fails to fit a module's, one item per tensor: only there, only here, or
    another shape (torch's load_state_dict says so on many lines)."""
    problems = [f"{k} is {tuple(theirs[k].shape)} there, {tuple(mine[k].shape)} here"
                for k in theirs if k in mine and theirs[k].shape != mine[k].shape]
    problems += [f"{k} only there" for k in theirs if k not in mine]
    return problems + [f"{k} only here" for k in mine if k not in theirs]


class ImitationExperiment(RLExperiment):
    """GAIL / AIRL: an SB3 learner rewarded by a discriminator on rlgen backbones (any GAN loss)."""

    config_model = ImitationConfig

    @property
    def prefers_accelerator(self) -> bool:
        return super().prefers_accelerator or self.cfg.discriminator.backbone.prefers_accelerator

    @classmethod
    def check(cls, cfg: ImitationConfig) -> list[str]:
        problems = super().check(cfg) + demo_env_problems(cfg, "imitation")
        im, d = cfg.imitation, cfg.discriminator
        if im.reward == "shaped" and im.algo != "airl":
            problems.append("imitation.reward: shaped is AIRL's f(s, a, s'); use logit, positive or negative for GAIL")
        if im.algo == "airl" and d.input in ("ss", "sas"):
            problems.append("discriminator.input: AIRL's reward g reads s or sa (its h(s') already sees s')")
        if im.algo == "airl" and cfg.agent.algo in _DETERMINISTIC:
            problems.append(f"agent.algo: AIRL's logit needs log pi(a|s); {cfg.agent.algo} has no stochastic policy")
        if im.algo == "airl" and cfg.agent.algo == "maskable_ppo":  # its pi is renormalized over the legal actions
            problems.append("agent.algo: AIRL's logit needs the learner's log pi(a|s) under the env's action masks, "
                            "which demos do not record; use imitation.algo: gail, or agent.algo: ppo")
        for key, body in (("backbone", d.backbone), ("potential", d.potential)):
            if getattr(body, "pool", None) == "sequence":
                problems.append(f"discriminator.{key}.pool: 'sequence' gives no single judgement; use last or mean")
        if cfg.env.history is not None and cfg.env.history.rewards:  # the expert's windows would hold the demos' own
            problems.append("env.history.rewards: the learner of kind imitation never sees the env's reward; drop "
                            "rewards from env.history (e.g. {length: 4, actions: true})")
        if d.backbone.sequence and cfg.env.history is None:
            problems.append("discriminator.backbone: a sequence backbone reads env.history windows; set env.history "
                            "(e.g. {length: 4})")
        if cfg.bc.weight or cfg.bc.warm_start_epochs:
            problems += bc_loss_problems(cfg)
        return problems

    # --- the protocol ---------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        cfg, im = self.cfg, self.cfg.imitation
        check_schedules(cfg, ctx)  # the learner trains as kind: rl's does
        check_policy_kwargs(cfg, ctx, ALGOS[cfg.agent.algo].policy_aliases[_policy_name(cfg)])  # and is built so
        check_eval_normalize(cfg, ctx)  # and is evaluated as it is
        check_noise_keys(cfg.agent.hyperparams, ctx)  # and its action noise is built as it is
        self.device = ctx.device
        gamma = float(cfg.agent.hyperparams.get("gamma", 0.99))
        venv = make_vec_env(cfg.env.model_copy(update={"normalize": None}), seed=ctx.seed, gamma=gamma)
        if problem := new_run_env_problem(cfg, venv, ctx):  # the learner reads these frames as kind: rl's
            venv.close()
            raise RlgenError(problem)
        require_action_masks(cfg, venv)
        obs_space, act_space = raw_spaces(venv)
        self.source = DemoSource(cfg.demos, cfg.env, obs_space, act_space, training=ctx.training)

        d = cfg.discriminator
        self.absorbing = im.terminal == "absorbing"
        self.disc = Discriminator(d, im.algo, venv.observation_space, act_space, self.absorbing, gamma).to(self.device)
        self.disc_opt = d.optim.build(self.disc.parameters())
        self.reward = RewardFunction(self.disc, im.reward, gamma, self._log_prob if im.algo == "airl" else None)
        self.learner_store = TransitionStore()
        self.rewarded = DiscriminatorReward(venv, self.reward, self.learner_store.add)
        env: Any = self.rewarded
        if cfg.env.normalize is not None:  # rewards only (check()): the discriminator's, as the learner sees them
            n = cfg.env.normalize
            env = VecNormalize(env, norm_obs=False, norm_reward=n.reward, clip_reward=n.clip_reward, gamma=gamma)
        self.env = env
        self._eval_seed = ctx.seed + 10_000  # RLExperiment's: a resume may rebuild the eval envs
        self._training = ctx.training  # a resume's evaluations go on with its saved eval envs
        self.eval_env = self._make_eval_env()
        self._check_eval_spaces()

        hyperparams = with_action_noise(cfg.agent.hyperparams, env)
        if is_off_policy(cfg.agent.algo):
            hyperparams = {**hyperparams, "replay_buffer_class": RelabeledReplayBuffer,
                           "replay_buffer_kwargs": {"reward_fn": self.reward}}
        self.learner = SB3Learner(ALGOS[cfg.agent.algo], _policy_name(cfg), env, cfg.optim, cfg.agent.policy,
                                  hyperparams, seed=ctx.seed, device=self.device,
                                  masked=cfg.env.history is not None, target=f"env {cfg.env.id!r}")
        self.model = self.learner.model
        self.unit_steps = self._unit_steps()
        self.learner_store.capacity = im.learner_buffer or self.unit_steps
        self.rng = np.random.default_rng([ctx.seed, 1])  # the discriminator's batches
        self.seed, self.expert, self.bc = ctx.seed, None, None
        if self.source.available:  # else a finished run, evaluated without its demos
            self._use_demos()
        elif ctx.training:  # what is wrong with the demos, before the run announces itself
            raise self.source.error
        self.warm_started = False  # bc.init_from and bc.warm_start_epochs come before the first unit

    def _use_demos(self) -> None:
        """The expert's transitions for the discriminator, and its rows for BC."""
        expert = self.source.expert  # raises what is wrong with the demos
        demos = expert.demos
        self.expert = TransitionStore.of(expert.obs, demos.actions, expert.next_obs, demos.terminations)
        if self.cfg.bc.weight or self.cfg.bc.warm_start_epochs:
            self.bc = BCTrainer(self.model.policy, expert.obs, demos.actions, self.cfg.bc, self.cfg.optim,
                                seed=self.seed)

    def _init_policy(self, source: str | Path) -> None:
        """`bc.init_from`: start the learner from the policy of a finished run, opened as `rlgen
        eval` and `rlgen.load_run` open it (its best checkpoint when it kept one). Any run with a
        `policy` role will do, a `kind: bc` one or an RL expert, when its agent section builds the
        same policy on the same observations."""
        from rlgen.api import load_run
        from rlgen.transfer import _trusting, resolve_run  # as a backbone's init.run: runs/<name>, --trust

        try:
            with process_state_kept(), load_run(resolve_run(source), trust=_trusting.get()) as run:
                policy = run.modules().get("policy")
                if policy is None:
                    raise RlgenError(f"{run.run_dir} is a kind: {run.config.kind} run, which has no policy (its roles: "
                                     f"{', '.join(run.modules()) or 'none'}); give a kind: bc, rl or imitation run")
                norm = getattr(getattr(run.config, "env", None), "normalize", None)
                if norm is not None and norm.obs:
                    raise RlgenError(f"the policy of {run.run_dir} reads observations normalized by env.normalize.obs, "
                                     "and this learner reads raw ones; give a run trained without it")
                theirs = {k: v.detach().cpu() for k, v in policy.state_dict().items()}
                what = f"the {type(policy).__name__} of {run.run_dir} ({run.checkpoint} checkpoint)"
        except RlgenError as e:
            raise RlgenError(f"bc.init_from: {e}") from None
        mine = self.model.policy.state_dict()
        if problems := state_mismatch(theirs, mine):
            shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
            raise RlgenError(f"bc.init_from: {what} does not fit this learner's {type(self.model.policy).__name__}: "
                             f"{shown}; train it with the same agent.algo, agent.policy and env")
        self.model.policy.load_state_dict(theirs)

    def _unit_steps(self) -> int:
        """On-policy, kind: rl's (one rollout); off-policy, ~1,000 env steps whatever train.eval_every
        is: kind: rl's unit shrinks to eval_every, and each unit here ends in a discriminator round, so
        the evaluation period would set how often the discriminator trains (and its learner_buffer)."""
        if not is_off_policy(self.cfg.agent.algo):
            return super()._unit_steps()
        n_envs = self.env.num_envs
        return max(n_envs, _OFF_POLICY_UNIT // n_envs * n_envs)

    def _unit_cuts(self) -> tuple[int, ...]:
        """None: a unit is cut only at train.total_steps. Each unit also runs `disc_steps`
        discriminator and `bc.steps` BC steps, so a unit cut at every evaluation or checkpoint (as
        kind: rl cuts them) would make those settings change how much the discriminator trains."""
        return ()

    def train_unit(self) -> dict[str, float]:
        cfg = self.cfg
        metrics: dict[str, float] = {}
        if self.expert is None:
            self._use_demos()
        if not self.warm_started and cfg.bc.init_from:
            self._init_policy(cfg.bc.init_from)
        if self.bc is not None and not self.warm_started and cfg.bc.warm_start_epochs:
            epochs = [self.bc.epoch()[0] for _ in range(cfg.bc.warm_start_epochs)]
            metrics["loss/bc_warm_start"] = epochs[-1]["loss/bc"]
        self.warm_started = True
        metrics.update(super().train_unit())  # the learner's unit (and a resumed run's eval envs)
        metrics.update(self.rewarded.stats())
        metrics.update(self._train_discriminator())
        if self.bc is not None and cfg.bc.weight:
            left = max(0.0, 1.0 - self.global_step / cfg.train.total_steps) if cfg.bc.anneal else 1.0
            metrics.update(self.bc.steps(cfg.bc.steps, cfg.bc.weight * left))
        return metrics

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        out = super().evaluate(episodes, video_dir)
        out["eval/expert_ratio"] = self.source.score(out["eval/return_mean"])
        return out

    def state_dict(self) -> dict[str, Any]:
        """kind: rl's (the learner, its envs with the reward wrapper's last step, the relabeled
        replay buffer, the eval envs) and the discriminator's side, all plain data."""
        return {
            **super().state_dict(),
            "discriminator": self.disc.state_dict(),
            "disc_opt": self.disc_opt.state_dict(),
            "learner_store": self.learner_store.state_dict(),
            "rng": self.rng.bit_generator.state,
            "warm_started": self.warm_started,
            "bc": None if self.bc is None else self.bc.state_dict(),
            "references": self.source.references,
            "demos_sha256": self.source.fingerprint,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.disc.load_state_dict(state["discriminator"])
        self.disc_opt.load_state_dict(state["disc_opt"])
        self.learner_store.load_state_dict(state["learner_store"])
        self.rng.bit_generator.state = state["rng"]
        self.warm_started = bool(state["warm_started"])
        self.source.restore(state)
        if self.bc is not None and state["bc"] is not None:
            self.bc.load_state_dict(state["bc"])

    def modules(self) -> dict[str, torch.nn.Module]:
        """The learner's roles (`policy`, and `value` for an actor-critic: `rlgen.transfer.policy_roles`)
        and the `discriminator`."""
        from rlgen.transfer import policy_roles

        return {**policy_roles(self.model.policy), "discriminator": self.disc}

    # --- the discriminator ----------------------------------------------------------------------

    def _train_discriminator(self) -> dict[str, float]:
        cfg, im = self.cfg.discriminator, self.cfg.imitation
        left = max(0.0, 1.0 - self.global_step / self.cfg.train.total_steps)
        for group in self.disc_opt.param_groups:
            group["lr"] = cfg.optim.lr_at(left)
        self.disc.train()
        totals: dict[str, torch.Tensor] = {}
        for _ in range(im.disc_steps):
            expert, learner = (self._sample(store) for store in (self.expert, self.learner_store))
            self.disc.update_statistics(expert["obs"][~expert["absorbing"]], learner["obs"][~learner["absorbing"]])
            (x_e, w_e, pi_e), (x_l, w_l, pi_l) = self._inputs(expert), self._inputs(learner)
            loss, stats = discriminator_loss(self.disc, cfg, x_e, x_l, pi_e, pi_l, (w_e, w_l))
            self.disc_opt.zero_grad(set_to_none=True)
            loss.backward()
            self.disc_opt.step()
            for k, v in stats.items():
                totals[k] = totals.get(k, 0.0) + v
        return {k: float(v) / im.disc_steps for k, v in totals.items()}  # one host sync per metric

    def _sample(self, store: TransitionStore) -> dict[str, torch.Tensor]:
        batch = store.sample(self.cfg.imitation.batch_size, self.rng, self.absorbing)
        return {k: torch.as_tensor(v, device=self.device) for k, v in batch.items()}

    def _inputs(self, t: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """A batch's features, AIRL's next-state weights and its log pi."""
        x = self.disc.features(t["obs"], t["actions"], t["next_obs"], t["absorbing"], t["next_absorbing"])
        weight, log_pi = None, torch.zeros(len(x), device=self.device)
        if self.disc.airl:
            if not self.absorbing:  # h(s') of a terminal state counts for nothing (AIRL's done mask)
                weight = self.disc.gamma * (~t["terminated"]).float()
            log_pi = self._log_prob(t["obs"], t["actions"]) * (~t["absorbing"]).float()
        return x, weight, log_pi

    @torch.no_grad()
    def _log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """The learner's log pi(a|s) for env-scale actions (AIRL's logit is f - log pi)."""
        policy = self.model.policy
        was_training = policy.training
        policy.set_training_mode(False)
        try:
            return action_log_prob(policy, obs.float(), actions)[0]
        finally:
            policy.set_training_mode(was_training)

