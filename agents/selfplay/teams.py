"""`kind: teams` — two sides of a parallel PettingZoo game, one PPO policy per side, trained in
alternating phases against a frozen copy of the other side (the schedule of a GAN's alternating
G/D updates). Within a side the parameters are shared: every agent of the side is one entry of the
side's SuperSuit vector env, all acting through the same policy.

A training unit is one `learn()` chunk of the side whose phase it is; after
`schedule.units_per_phase` units that side's weights are frozen into its copy and the other side
trains. `global_step` counts agent-steps of both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO

from rlgen.agents.rl.algos import check_hyperparams
from rlgen.agents.rl.sb3_bridge import Progress, SB3Learner
from rlgen.agents.rl.sb3_state import load_model_state, model_state
from rlgen.agents.selfplay.config import TeamsConfig
from rlgen.agents.selfplay.players import cpu_params, frozen_policy
from rlgen.envs.games.teams import TeamPolicy, play_teams, random_team, side_vec_env, sides_of, team_game
from rlgen.errors import RlgenError
from rlgen.experiment import ExperimentBase
from rlgen.runner import RunContext


class TeamsExperiment(ExperimentBase):
    """Two sides of a parallel PettingZoo game, one PPO policy per side, in alternating phases."""

    config_model = TeamsConfig

    @property
    def prefers_accelerator(self) -> bool:
        return self.cfg.agent.policy.prefers_accelerator

    def __init__(self, cfg: TeamsConfig):
        self.cfg = cfg
        self.global_step = 0
        self.models: dict[str, Any] = {}
        self.envs: dict[str, Any] = {}

    @classmethod
    def check(cls, cfg: TeamsConfig) -> list[str]:
        try:
            sides = sides_of(team_game(cfg.game.name, **cfg.game.kwargs)())
        except (RlgenError, TypeError) as e:
            return [f"game: {e}"]
        problems = [] if len(sides) == 2 else [f"game.name: {cfg.game.name} has sides {list(sides)}, not two"]
        return problems + check_hyperparams("ppo", cfg.agent.hyperparams)

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        progress = Progress()  # one run-long schedule for both sides
        self.game = team_game(cfg.game.name, **cfg.game.kwargs)
        self.sides = list(sides_of(self.game()))
        self.frozen: dict[str, Any] = {}  # side -> frozen copy of its policy, what the other side meets
        self.learners: dict[str, SB3Learner] = {}
        for i, side in enumerate(self.sides):
            other = self.sides[1 - i]
            self.envs[side] = side_vec_env(self.game, side, self._frozen_team(other), cfg.game.copies)
            self.envs[side].seed(ctx.seed + i)
            self.learners[side] = SB3Learner(PPO, "MlpPolicy", self.envs[side], cfg.optim, cfg.agent.policy,
                                             cfg.agent.hyperparams, seed=ctx.seed + i, device=ctx.device,
                                             progress=progress, target=f"side {side!r} of game {cfg.game.name!r}")
            self.models[side] = self.learners[side].model
        for side in self.sides:
            self._freeze(side)
        self.phase, self.units_in_phase = 0, 0

    def train_unit(self) -> dict[str, float]:
        side = self.sides[self.phase % 2]
        learner = self.learners[side]
        side_metrics = learner.learn_unit(learner.rollout_steps, self.global_step, self.cfg.train.total_steps)
        self.global_step = sum(int(m.num_timesteps) for m in self.models.values())
        self.units_in_phase += 1
        if self.units_in_phase >= self.cfg.schedule.units_per_phase:
            self._freeze(side)  # the other side now trains against these weights, fixed
            self.phase, self.units_in_phase = self.phase + 1, 0
        metrics = {f"{k}_{side}": v for k, v in side_metrics.items()}
        metrics["league/phase"] = float(self.phase)
        return metrics

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        n = episodes or self.cfg.train.eval_episodes
        learned = {side: self._team(self.models[side].policy, deterministic=True) for side in self.sides}
        out = {f"eval/return_{s}": v for s, v in play_teams(self.game, learned, n, seed=self.cfg.seed + 1000).items()}
        for i, side in enumerate(self.sides):
            other = self.sides[1 - i]
            vs_random = {side: learned[side], other: random_team(self.game, other, seed=self.cfg.seed)}
            out[f"eval/return_{side}_vs_random"] = play_teams(self.game, vs_random, n, seed=self.cfg.seed + 2000)[side]
        return out

    def state_dict(self) -> dict[str, Any]:
        return {
            "models": {s: model_state(m) for s, m in self.models.items()},
            "frozen": {s: cpu_params(p) for s, p in self.frozen.items()},
            "phase": (self.phase, self.units_in_phase),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for side, s in state["models"].items():
            load_model_state(self.models[side], s)
        for side, params in state["frozen"].items():
            self.frozen[side].load_state_dict(params)
        self.phase, self.units_in_phase = state["phase"]
        self.global_step = sum(int(m.num_timesteps) for m in self.models.values())

    def close(self) -> None:
        for env in self.envs.values():
            env.close()

    def modules(self) -> dict[str, Any]:
        return {f"policy_{side}": model.policy for side, model in self.models.items()}

    # --- helpers --------------------------------------------------------------------------------

    def _freeze(self, side: str) -> None:
        policy = self.models[side].policy
        if side in self.frozen:
            self.frozen[side].load_state_dict(cpu_params(policy))
        else:
            self.frozen[side] = frozen_policy(policy, cpu_params(policy))

    def _frozen_team(self, side: str) -> TeamPolicy:
        """The side as the other side's opponent: reads the frozen copy at call time."""
        return lambda obs: self._team(self.frozen[side], deterministic=False)(obs)

    @staticmethod
    def _team(policy: Any, deterministic: bool) -> TeamPolicy:
        def act(obs: dict[str, np.ndarray]) -> dict[str, int]:
            if not obs:
                return {}
            names = list(obs)
            actions, _ = policy.predict(np.stack([obs[a] for a in names]), deterministic=deterministic)
            return {a: int(x) for a, x in zip(names, actions)}

        return act
