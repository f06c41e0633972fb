"""Demonstrations as a run needs them: read, checked against the env, seen through the policy's pipeline."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from rich.markup import escape

from rlgen.agents.imitation.config import DemosConfig
from rlgen.agents.rl.agent import replay_observations
from rlgen.config import EnvConfig
from rlgen.envs import EPISODE_STEP_CAP, make_env_fn
from rlgen.envs.demos import Demos, env_spec_metadata, expert_ratio, read_demos
from rlgen.errors import RlgenError
from rlgen.logging import console


def configured_returns(cfg: DemosConfig) -> dict[str, float]:
    """The return figures the config sets (demos.expert_return, demos.random_return): they win over
    the demos' own and over those a checkpoint kept."""
    return {k: v for k, v in (("expert_return", cfg.expert_return), ("random_return", cfg.random_return))
            if v is not None}


def load_demos(cfg: DemosConfig, env_cfg: EnvConfig, observation_space: gym.Space, action_space: gym.Space,
               *, warn: bool = True) -> Demos:
    """The configured episodes of the demos, with the config's return figures on top of the file's;
    their observations and actions must fit the env's raw spaces. `warn`: say what would mislead
    training (another env, an undefined expert ratio); a finished run opened to evaluate trains nothing."""
    demos = _configured_episodes(cfg, env_cfg).with_metadata(**configured_returns(cfg))
    estimated = demos.metadata.get("expert_return") is None
    if estimated:
        demos = demos.with_metadata(expert_return=float(demos.episode_returns.mean()))
    for what, rows, space in (("observations", demos.observations, observation_space),
                              ("next_observations", demos.next_observations, observation_space),
                              ("actions", demos.actions, action_space)):
        shape = np.shape(rows)[1:]
        if shape != tuple(space.shape):
            raise RlgenError(f"demos {cfg.path}: {what} of shape {shape}, but {env_cfg.id} has {space} "
                             f"(shape {tuple(space.shape)}); record the demos on this env")
    if problem := _values_problem(demos, observation_space, action_space):
        raise RlgenError(f"demos {cfg.path}: {problem}")
    if warn:
        _warn_training(demos, estimated, cfg, env_cfg)
    return demos


def _configured_episodes(cfg: DemosConfig, env_cfg: EnvConfig) -> Demos:
    """The first demos.episodes episodes of the demos at demos.path. Demos without rewards (zeros
    stand in: `rewards_missing`) are refused where env.history windows show rewards: the policy
    would be fitted to windows of zero rewards and play on windows of the env's own."""
    try:
        demos = read_demos(cfg.path, cfg.format)
    except RlgenError as e:
        raise RlgenError(f"demos.path: {e}") from None
    held = demos.n_episodes
    if cfg.episodes is not None and cfg.episodes > held:
        raise RlgenError(f"demos.episodes: {cfg.episodes} episodes asked for, but {cfg.path} holds only {held}; "
                         f"lower demos.episodes to {held} or fewer, or record more with `rlgen record RUN_DIR "
                         f"--episodes {cfg.episodes} --out DIR`")
    if demos.metadata.get("rewards_missing") and env_cfg.history is not None and env_cfg.history.rewards:
        raise RlgenError(f"demos.path: {cfg.path} holds no rewards, but env.history.rewards puts rewards in the "
                         "windows the policy reads (zeros in the demos'); give demos with rewards, or set "
                         "env.history.rewards: false")
    return demos.first(cfg.episodes)


def _warn_training(demos: Demos, estimated: bool, cfg: DemosConfig, env_cfg: EnvConfig) -> None:
    """One line each: demos of another env, or of this one set up otherwise, demos without rewards,
    and an expert ratio they leave undefined (`_ratio_problem`)."""
    recorded = demos.metadata.get("env_id")
    path = escape(str(cfg.path))  # as given, not read as rich markup (an env id holds no brackets)
    if recorded and recorded != env_cfg.id:
        console.print(f"[yellow]warning:[/] demos {path} were recorded on {escape(str(recorded))}, "
                      f"training on {env_cfg.id}")
    elif difference := _env_difference(demos.metadata.get("env_spec"), env_cfg):
        console.print(f"[yellow]warning:[/] demos {path} were recorded on {env_cfg.id} with {escape(difference)}")
    if demos.metadata.get("rewards_missing") and not estimated:  # else _ratio_problem says it
        source = "demos.expert_return" if cfg.expert_return is not None else "their metadata"
        console.print(f"[yellow]warning:[/] demos {path} hold no rewards (zeros stand in); eval/expert_ratio takes "
                      f"the expert's return, {demos.references['expert_return']:g}, from {source}")
    if (ratio := _ratio_problem(demos, estimated)) is not None:
        console.print(f"[yellow]warning:[/] demos {path}: {ratio}; set demos.expert_return (and "
                      "demos.random_return) to the expert's and a random policy's mean returns")


def _env_difference(recorded: str | None, env_cfg: EnvConfig) -> str | None:
    """How the env the demos were recorded on (its EnvSpec JSON) differs from `env_cfg`'s in kwargs,
    wrappers and time limit (gymnasium keeps `max_episode_steps` beside the kwargs, not in them),
    as "X, this run's env has Y"; None when alike or unknown."""
    if not recorded:
        return None
    env = make_env_fn(env_cfg.id, env_cfg.kwargs, env_cfg.wrappers)()
    try:
        ours = env_spec_metadata(env).get("env_spec")
    finally:
        env.close()
    if ours is None:
        return None

    def parts(text: str) -> dict[str, Any]:
        spec = json.loads(text)
        return {"kwargs": spec.get("kwargs") or {},
                "wrappers": [w["name"] if not w.get("kwargs") else {w["name"]: w["kwargs"]}
                             for w in spec.get("additional_wrappers") or []],
                # rlgen record caps an env without a limit of its own at EPISODE_STEP_CAP: still none
                "max_episode_steps": None if spec.get("max_episode_steps") == EPISODE_STEP_CAP
                else spec.get("max_episode_steps")}

    theirs, mine = parts(recorded), parts(ours)
    differ = [k for k in theirs if theirs[k] != mine[k]]
    if not differ:
        return None
    return (" and ".join(f"{k} {theirs[k]}" for k in differ) + ", this run's env has "
            + " and ".join(f"{k} {mine[k]}" for k in differ))


def _ratio_problem(demos: Demos, estimated: bool) -> str | None:
    """Why eval/expert_ratio would be nan (`expert_ratio`): an expert return `estimated` from demos
    without rewards, one equal to the random return, or one not above 0 with no random return."""
    if estimated and demos.metadata.get("rewards_missing"):
        return "they hold no rewards, so the expert's return is unknown and eval/expert_ratio would be nan"
    expert, low = demos.references["expert_return"], demos.references["random_return"]
    if expert == low:
        return f"the expert's return, {expert:g}, is a random policy's too, which leaves eval/expert_ratio undefined (nan)"
    if low is None and expert <= 0:
        return (f"an expert return of {expert:g} and no random policy's return leave eval/expert_ratio undefined "
                "(nan; R / expert scores only positive returns)")
    return None


def _values_problem(demos: Demos, observation_space: gym.Space, action_space: gym.Space) -> str | None:
    """What in the demos' values no policy could learn from: non-numbers, NaN or infinity (rewards
    included), discrete observations and actions the env's spaces do not hold (out of range or
    fractional), and continuous actions outside their bounds."""
    for what, rows in (("observations", demos.observations), ("next_observations", demos.next_observations),
                       ("actions", demos.actions), ("rewards", demos.rewards)):
        rows = np.asarray(rows)
        if not (np.issubdtype(rows.dtype, np.number) or rows.dtype == np.bool_):
            return f"{what} are {rows.dtype}, not numbers"
        if np.issubdtype(rows.dtype, np.complexfloating):
            return f"{what} are {rows.dtype}, not real numbers"
        if np.issubdtype(rows.dtype, np.floating) and not (finite := np.isfinite(rows).reshape(len(rows), -1).all(1)).all():
            return f"{what} hold NaN or infinity (row {int(np.argmin(finite))})"
    for what, rows in (("observation", demos.observations), ("next observation", demos.next_observations)):
        if problem := _discrete_problem(what, np.asarray(rows), observation_space):
            return problem
    actions = np.asarray(demos.actions)
    if problem := _discrete_problem("action", actions, action_space):
        return problem
    if isinstance(action_space, gym.spaces.Box):
        tolerance = 1e-6 * np.maximum(1.0, np.abs(action_space.high - action_space.low))
        if ((actions < action_space.low - tolerance) | (actions > action_space.high + tolerance)).any():
            return (f"actions reach [{actions.min():.3g}, {actions.max():.3g}], outside {action_space}; record the "
                    "demos on this env, or rescale them to its bounds")
    return None


def _discrete_problem(what: str, rows: np.ndarray, space: gym.Space) -> str | None:
    """The first value of `rows` a Discrete or MultiDiscrete space does not hold (fractional or out of range)."""
    if isinstance(space, gym.spaces.Discrete):
        low, high = space.start, space.start + space.n  # (N,) rows against one range
    elif isinstance(space, gym.spaces.MultiDiscrete):
        low, high = space.start, space.start + space.nvec  # (N, *nvec.shape) rows against one range each
    else:
        return None
    valid = (rows == np.round(rows)) & (rows >= low) & (rows < high)
    if valid.all():
        return None
    bad = rows.reshape(-1)[~valid.reshape(-1)][0]
    hint = f" (whole numbers {low}-{high - 1})" if isinstance(space, gym.spaces.Discrete) else ""
    return f"{what} {bad.item()!r} is not one of {space}{hint}; record the demos on this env"


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
    alike, so its own rows would flatter the held-out loss), else rows of the one episode. A share
    above 0 holds out round(share * n) of the n episodes (or rows), at least one; one that would
    leave nothing to train on is refused."""
    n = len(demos.observations)
    if share == 0:
        return np.arange(n), np.arange(0)
    several = demos.n_episodes >= 2
    units = demos.n_episodes if several else n
    k = max(1, round(share * units))
    if k >= units:
        what = f"{units} episodes" if several else f"the {units} transition(s) of a single episode"
        raise RlgenError(f"bc.holdout: {share} of {what} holds out all of them, and nothing is left to train on; "
                         "lower bc.holdout (0 holds out nothing) or use more demos.episodes")
    held = np.random.default_rng(seed).permutation(units)[:k]
    if not several:
        return np.setdiff1d(np.arange(n), held), np.sort(held)
    mask = np.zeros(n, bool)
    off = demos.offsets
    for i in held:
        mask[off[i] : off[i + 1]] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


def demos_fingerprint(demos: Demos) -> str:
    """sha256 over the arrays of the demos (dtypes and shapes included): the same demos, the same digest."""
    digest = hashlib.sha256()
    for key in ("observations", "actions", "next_observations", "rewards", "terminations", "truncations", "lengths"):
        rows = np.ascontiguousarray(getattr(demos, key))
        digest.update(f"{key} {rows.dtype.str} {rows.shape}".encode())
        digest.update(rows.tobytes())
    return digest.hexdigest()


class DemoSource:
    """A kind's demonstrations, read when training first needs them: a finished run is evaluated,
    recorded from and loaded (`rlgen eval`, `rlgen.load_run(...).agent()`) without its demos,
    from the expert and random returns its checkpoint keeps. `training`: False for a finished run
    opened outside training (`RunContext.training`), which warns of nothing in the demos."""

    def __init__(self, cfg: DemosConfig, env_cfg: EnvConfig, observation_space: gym.Space, action_space: gym.Space,
                 *, training: bool = True):
        self.cfg, self.env_cfg, self.spaces, self.training = cfg, env_cfg, (observation_space, action_space), training
        self._expert: Expert | None = None
        self.references: dict[str, float | None] | None = None
        self.fingerprint: str | None = None  # of the demos read, for the checkpoint (`check_resumed`)
        try:
            self.expert  # noqa: B018 - read now when they are there: a bad file fails before training starts
        except RlgenError as e:
            self.error = e

    @property
    def expert(self) -> Expert:
        if self._expert is None:
            demos = load_demos(self.cfg, self.env_cfg, *self.spaces, warn=self.training)
            self._expert = Expert.of(demos, self.env_cfg, *self.spaces)
            self.references = demos.references
            self.fingerprint = demos_fingerprint(demos)
        return self._expert

    def restore(self, state: dict[str, Any]) -> None:
        """The return figures after a checkpoint's `state` is loaded. A resume that trains goes on
        with the demos at demos.path and their figures, as it trains on them (`check_resumed`). A
        finished run opened outside training scores with the figures its checkpoint kept, under
        those the config sets, whatever lies at demos.path now (older checkpoints kept none)."""
        saved = state.get("references")
        if self.training:
            self.references = self.references or saved
            self.check_resumed(state.get("demos_sha256"))
        elif saved is not None:
            self.references = {**saved, **configured_returns(self.cfg)}

    def check_resumed(self, saved: str | None) -> None:
        """One line when a resumed run trains on other demos than those its checkpoint was trained on
        (`saved`, the checkpoint's fingerprint; older checkpoints have none)."""
        if saved is not None and self.fingerprint is not None and saved != self.fingerprint:
            console.print(f"[yellow]warning:[/] demos {escape(str(self.cfg.path))} differ from the demos this run was "
                          "trained on before the checkpoint; training goes on with the new ones")

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
