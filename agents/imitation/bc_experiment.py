"""`kind: bc` — behaviour cloning: any rlgen policy fitted to demonstrations.

The policy is the one `kind: rl` would build for the same `agent` section (any backbone, discrete
or continuous actions, `env.history` window policies included), so the result is a normal run for
`rlgen eval`, `rlgen.load_run(...).agent()` and as the warm start of `kind: imitation`. A training
unit is one epoch over the training split; `global_step` counts gradient steps. Each evaluation
plays the env (eval/return_mean, eval/expert_ratio) and scores the held-out demonstrations
(eval/bc_val_loss), so `train.early_stop: {metric: eval/bc_val_loss, mode: min, patience: N}` is
early stopping on the held-out split.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import torch

from rlgen.agents.imitation.bc import BCTrainer, bc_problems
from rlgen.agents.imitation.config import BCConfig
from rlgen.agents.imitation.data import DemoSource, holdout_rows, raw_spaces
from rlgen.agents.rl.algos import ALGOS, is_off_policy
from rlgen.agents.rl.action_noise import with_action_noise
from rlgen.agents.rl.experiment import RLExperiment, _policy_name
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.agents.rl.sb3_state import env_state
from rlgen.agents.rl.setup_checks import (check_eval_normalize, check_policy_kwargs, new_run_env_problem,
                                          require_action_masks)
from rlgen.envs import make_env_fn
from rlgen.errors import RlgenError
from rlgen.runner import RunContext


def bc_loss_problems(cfg: Any) -> list[str]:
    """`bc_problems` for the config's policy and, for `bc.loss: mse`, its env's action space (the
    env is built only then: mse on discrete actions is what needs it)."""
    policy_cls = ALGOS[cfg.agent.algo].policy_aliases[_policy_name(cfg)]
    action_space = None
    if cfg.bc.loss == "mse":
        try:
            env = make_env_fn(cfg.env.id, cfg.env.kwargs, cfg.env.wrappers)()
        except Exception:  # noqa: BLE001 - an env that cannot be made is reported where it is made
            env = None
        if env is not None:
            action_space = env.action_space
            env.close()
    return bc_problems(policy_cls, cfg.bc.loss, "bc", action_space)


def configured_buffer_size(algo: str, hyperparams: dict[str, Any]) -> int:
    """The replay buffer size the agent section asks for: its own, else SB3's default."""
    default = inspect.signature(ALGOS[algo].__init__).parameters["buffer_size"].default
    return int(hyperparams.get("buffer_size", default))


def demo_env_problems(cfg: Any, kind: str) -> list[str]:
    """What neither BC nor imitation supports in the env and agent sections."""
    problems = []
    if cfg.env.normalize is not None and cfg.env.normalize.obs:
        problems.append(f"env.normalize.obs: kind {kind} compares the learner's observations with the demos' raw "
                        "ones; set env.normalize.obs: false")
    if cfg.agent.algo == "recurrent_ppo":
        problems.append(f"agent.algo: recurrent_ppo carries an LSTM state through episodes, which kind {kind} does "
                        "not replay; use ppo with env.history windows and an lstm backbone")
    return problems


class BCExperiment(RLExperiment):
    """Behaviour cloning: any rlgen policy fitted to demonstrations, held-out early stopping."""

    config_model = BCConfig

    @classmethod
    def check(cls, cfg: BCConfig) -> list[str]:
        problems = super().check(cfg) + demo_env_problems(cfg, "bc")
        if cfg.env.normalize is not None and cfg.env.normalize.reward:
            problems.append("env.normalize.reward: kind bc sees no rewards; set env.normalize: null")
        return problems + bc_loss_problems(cfg)

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        check_eval_normalize(cfg, ctx)  # evaluated as kind: rl is
        check_policy_kwargs(cfg, ctx, ALGOS[cfg.agent.algo].policy_aliases[_policy_name(cfg)])  # and built so
        # BC steps no env: the evaluation env is the only one, and the SB3 model is built on it
        self._eval_seed = ctx.seed + 10_000  # RLExperiment's: a resume may rebuild the eval envs
        self._training = ctx.training  # a resume's evaluations go on with its saved eval envs
        self.eval_env = self._make_eval_env()
        self.env = self.eval_env
        if problem := new_run_env_problem(cfg, self.env, ctx):  # the policy reads these frames as kind: rl's
            self.close()
            raise RlgenError(problem)
        require_action_masks(cfg, self.env)  # evaluation plays the env with its masks
        hyperparams = dict(cfg.agent.hyperparams)
        if is_off_policy(cfg.agent.algo):
            hyperparams["buffer_size"] = 1  # nothing is ever collected: no replay memory to allocate
        self.learner = SB3Learner(ALGOS[cfg.agent.algo], _policy_name(cfg), self.env, cfg.optim, cfg.agent.policy,
                                  with_action_noise(hyperparams, self.env), seed=ctx.seed, device=ctx.device,
                                  masked=cfg.env.history is not None, target=f"env {cfg.env.id!r}")
        self.model = self.learner.model
        # SB3 seeds the env a model is built on with the run's seed (set_random_seed): BC's is its
        # eval env, which must start from its own seed, as the one a loaded run's later evaluations
        # rebuild (load_evaluation_state) does, or a run's first evaluation plays other episodes
        self._fresh_eval_env()
        if is_off_policy(cfg.agent.algo):  # what SB3's model.zip passes on to a later learn() (rlgen export)
            self.model.buffer_size = configured_buffer_size(cfg.agent.algo, cfg.agent.hyperparams)
        self.seed = ctx.seed
        self.source = DemoSource(cfg.demos, cfg.env, *raw_spaces(self.env), training=ctx.training)
        self.trainer = self._trainer() if self.source.available else None  # a finished run evaluates without demos
        if self.trainer is None and ctx.training:  # what is wrong with the demos, before the run announces itself
            raise self.source.error

    def _trainer(self) -> BCTrainer:
        expert = self.source.expert  # raises what is wrong with the demos
        train, held = holdout_rows(expert.demos, self.cfg.bc.holdout, self.seed)  # raises when nothing is left
        self.held = (expert.obs[held], expert.demos.actions[held])
        return BCTrainer(self.model.policy, expert.obs[train], expert.demos.actions[train], self.cfg.bc,
                         self.cfg.optim, seed=self.seed)

    def train_unit(self) -> dict[str, float]:
        if self.trainer is None:
            self.trainer = self._trainer()
        metrics, steps = self.trainer.epoch(max_steps=self.cfg.train.total_steps - self.global_step)
        self.global_step += steps
        self._restore_eval_env()
        return metrics

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        out = super().evaluate(episodes, video_dir)
        out["eval/expert_ratio"] = self.source.score(out["eval/return_mean"])
        if self.trainer is not None and len(self.held[0]):
            held = self.trainer.evaluate(*self.held)
            out["eval/bc_val_loss"] = held["loss/bc_fit"]
            if "train/bc_accuracy" in held:
                out["eval/bc_val_accuracy"] = held["train/bc_accuracy"]
        return out

    def state_dict(self) -> dict[str, Any]:
        saved = self._eval_env_saved  # the eval envs, as kind: rl keeps them
        return {"policy": self.model.policy.state_dict(), "global_step": self.global_step,
                "trainer": None if self.trainer is None else self.trainer.state_dict(),
                "references": self.source.references, "demos_sha256": self.source.fingerprint,
                "eval_env": saved if saved is not None else env_state(self.eval_env)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])
        if self.trainer is not None and state["trainer"] is not None:
            self.trainer.load_state_dict(state["trainer"])
        self.source.restore(state)
        self.global_step = int(state["global_step"])
        self._eval_env_saved = state.get("eval_env")  # restored once training goes on, as in kind: rl

    def divergence_fix(self) -> str | None:
        return None  # BC's own gradient steps: SB3's max_grad_norm never clips them

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"policy": self.model.policy}
