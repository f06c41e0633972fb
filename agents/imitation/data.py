"""Demonstrations as a run needs them: read, checked against the env, seen through the policy's pipeline."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rlgen.agents.imitation.config import DemosConfig
from rlgen.agents.rl.agent import replay_observations
from rlgen.config import EnvConfig
from rlgen.envs.demos import Demos, expert_ratio, read_demos
from rlgen.errors import RlgenError
from rlgen.logging import console


def load_demos(cfg: DemosConfig, env_cfg: EnvConfig, observation_space: gym.Space, action_space: gym.Space) -> Demos:
    """The configured episodes of the demos, with the config's return figures on top of the file's;
    their observations and actions must fit the env's raw spaces."""
    try:
        demos = read_demos(cfg.path, cfg.format).first(cfg.episodes)
    except RlgenError as e:
        raise RlgenError(f"demos.path: {e}") from None
    overrides = {k: v for k, v in (("expert_return", cfg.expert_return), ("random_return", cfg.random_return))
                 if v is not None}
    demos = demos.with_metadata(**overrides)
    if demos.metadata.get("expert_return") is None:
        demos = demos.with_metadata(expert_return=float(demos.episode_returns.mean()))
    for what, rows, space in (("observations", demos.observations, observation_space),
                              ("actions", demos.actions, action_space)):
        shape = np.shape(rows)[1:]
        if shape != tuple(space.shape):
            raise RlgenError(f"demos {cfg.path}: {what} of shape {shape}, but {env_cfg.id} has {space} "
                             f"(shape {tuple(space.shape)}); record the demos on this env")
    if problem := _values_problem(demos, action_space):
        raise RlgenError(f"demos {cfg.path}: {problem}")
    recorded = demos.metadata.get("env_id")
    if recorded and recorded != env_cfg.id:
        console.print(f"[yellow]warning:[/] demos {cfg.path} were recorded on {recorded}, training on {env_cfg.id}")
    return demos


def _values_problem(demos: Demos, action_space: gym.Space) -> str | None:
    """What in the demos' values no policy could learn from: non-numbers, NaN or infinity, and
    actions the env's action space does not hold (a discrete action out of range or fractional, a
    continuous one outside its bounds)."""
    for what, rows in (("observations", demos.observations), ("next_observations", demos.next_observations),
                       ("actions", demos.actions)):
        rows = np.asarray(rows)
        if not (np.issubdtype(rows.dtype, np.number) or rows.dtype == np.bool_):
            return f"{what} are {rows.dtype}, not numbers"
        if np.issubdtype(rows.dtype, np.floating) and not (finite := np.isfinite(rows).reshape(len(rows), -1).all(1)).all():
            return f"{what} hold NaN or infinity (row {int(np.argmin(finite))})"
    actions = np.asarray(demos.actions)
    if isinstance(action_space, gym.spaces.Discrete):
        whole = actions == np.round(actions)
        inside = (actions >= action_space.start) & (actions < action_space.start + action_space.n)
        if not (whole & inside).all():
            bad = actions.reshape(-1)[~(whole & inside).reshape(-1)][0]
            return (f"action {bad!r} is not one of {action_space} (actions 0-{action_space.n - 1}); record the "
                    "demos on this env")
    elif isinstance(action_space, gym.spaces.Box):
        tolerance = 1e-6 * np.maximum(1.0, np.abs(action_space.high - action_space.low))
        if ((actions < action_space.low - tolerance) | (actions > action_space.high + tolerance)).any():
            return (f"actions reach [{actions.min():.3g}, {actions.max():.3g}], outside {action_space}; record the "
                    "demos on this env, or rescale them to its bounds")
    return None


@dataclass
class Expert:
    """The demos as the learner sees them: observations through the env's pipeline (windows)."""

    demos: Demos
    obs: np.ndarray  # (N, *policy_obs) what the policy sees at s_t
    next_obs: np.ndarray  # (N, *policy_obs) ... at s_t+1

    @classmethod
    def of(cls, demos: Demos, env_cfg: EnvConfig, observation_space: gym.Space, action_space: gym.Space) -> Expert:
        obs, nxt = replay_observations(env_cfg, observation_space, action_space, demos.observations,
                                       demos.actions, demos.next_observations, demos.rewards, demos.lengths)
        return cls(demos, obs, nxt)


def holdout_rows(demos: Demos, share: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train rows, held-out rows): whole episodes when there are several (rows of one episode are
    alike, so its own rows would flatter the held-out loss), else a random share of the rows."""
    n = len(demos.observations)
    if share == 0:
        return np.arange(n), np.arange(0)
    rng = np.random.default_rng(seed)
    if demos.n_episodes >= 2:
        held = rng.permutation(demos.n_episodes)[: max(1, round(share * demos.n_episodes))]
        mask = np.zeros(n, bool)
        off = demos.offsets
        for i in held:
            mask[off[i] : off[i + 1]] = True
    else:
        mask = rng.random(n) < share
    return np.flatnonzero(~mask), np.flatnonzero(mask)


class DemoSource:
    """A kind's demonstrations, read when training first needs them: a finished run is evaluated,
    recorded from and loaded (`rlgen eval`, `rlgen.load_run(...).agent()`) without its demos,
    from the expert and random returns its checkpoint keeps."""

    def __init__(self, cfg: DemosConfig, env_cfg: EnvConfig, observation_space: gym.Space, action_space: gym.Space):
        self.cfg, self.env_cfg, self.spaces = cfg, env_cfg, (observation_space, action_space)
        self._expert: Expert | None = None
        self.references: dict[str, float | None] | None = None
        try:
            self.expert  # noqa: B018 - read now when they are there: a bad file fails before training starts
        except RlgenError as e:
            self.error = e

    @property
    def expert(self) -> Expert:
        if self._expert is None:
            demos = load_demos(self.cfg, self.env_cfg, *self.spaces)
            self._expert = Expert.of(demos, self.env_cfg, *self.spaces)
            self.references = demos.references
        return self._expert

    @property
    def available(self) -> bool:
        return self._expert is not None

    def score(self, returns: float) -> float:
        if self.references is None:
            raise self.error
        return expert_ratio(returns, **self.references)


def raw_spaces(env: Any) -> tuple[gym.Space, gym.Space]:
    """The env's own observation and action spaces, below the vector env's observation pipeline."""
    return env.get_attr("observation_space", [0])[0], env.get_attr("action_space", [0])[0]
