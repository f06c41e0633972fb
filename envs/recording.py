"""Demonstrations recorded from a policy (`rlgen record RUN_DIR`, `rlgen.record`): whole episodes of
any policy that acts on plain observations, in one env, episode i seeded seed + i (its reset and the
policy's sampled actions), as `rlgen.envs.demos.Demos`; and the two references of the expert ratio
that need an env, a random policy's return and the action masks it samples under.

    demos = record_episodes(run.agent(), make_env_fn("CartPole-v1"), episodes=10, seed=0)
    write_demos(demos, "demos/cartpole")
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Protocol

import gymnasium as gym
import numpy as np

from rlgen.envs import EPISODE_STEP_CAP
from rlgen.envs.demos import Demos, env_spec_metadata, without_step_cap
from rlgen.errors import RlgenError, RlgenWarning


class Policy(Protocol):
    """What `record_episodes` drives: rlgen's `Agent` (`rlgen.load_run(run).agent()`) is one. A
    policy with a true `takes_action_masks` attribute (MaskablePPO's agent) is also given the env's
    `action_masks()` at each step, as `predict(..., action_masks=...)`."""

    def predict(self, obs: Any, reward: float = 0.0, deterministic: bool = True) -> Any: ...

    def reset(self) -> None: ...


def record_episodes(policy: Policy, make_env: Callable[[], gym.Env], episodes: int, seed: int = 0,
                    deterministic: bool = True) -> Demos:
    """`episodes` episodes of `policy` in one env, episode i seeded seed + i: the env's reset and what
    the policy samples its actions with (`_sampling_seeded`), so that a stochastic recording is the same
    every time, and the caller's RNGs are as they were after. The metadata's expert_return is their
    mean return. Episodes cut at the EPISODE_STEP_CAP of `step_capped` are warned of, once."""
    if episodes < 1:
        raise RlgenError(f"episodes must be >= 1, got {episodes}")
    env = make_env()
    rows: dict[str, list[Any]] = {k: [] for k in ("observations", "actions", "next_observations", "rewards",
                                                  "terminations", "truncations")}
    lengths = []
    try:
        spec = env_spec_metadata(env)
        with _sampling_seeded(policy) as seed_sampling:
            for i in range(episodes):
                seed_sampling(seed + i)
                lengths.append(_play_episode(policy, env, seed + i, deterministic, rows))
    finally:
        env.close()
    _warn_if_capped(env, lengths)
    dtypes = {"rewards": np.float64, "terminations": bool, "truncations": bool}
    demos = Demos(**{k: np.asarray(v, dtype=dtypes.get(k)) for k, v in rows.items()},
                  lengths=np.asarray(lengths, np.int64))
    return demos.with_metadata(expert_return=float(demos.episode_returns.mean()), **spec)


def _play_episode(policy: Policy, env: gym.Env, seed: int, deterministic: bool, rows: dict[str, list[Any]]) -> int:
    """One episode of `policy` from `env.reset(seed=seed)`, its transitions appended to `rows`; its length."""
    masked = bool(getattr(policy, "takes_action_masks", False))
    policy.reset()
    obs, _ = env.reset(seed=seed)
    reward, done, length = 0.0, False, 0
    while not done:
        # the masks as sb3-contrib's get_action_masks reads them from one env (training and evaluation pass them)
        masks = {"action_masks": env.get_wrapper_attr("action_masks")()} if masked else {}
        action = policy.predict(obs, reward=reward, deterministic=deterministic, **masks)
        nxt, reward, terminated, truncated, _ = env.step(action)
        for key, value in zip(rows, (obs, action, nxt, reward, terminated, truncated)):
            rows[key].append(value)
        obs, done, length = nxt, terminated or truncated, length + 1
    return length


@contextmanager
def _sampling_seeded(policy: Policy) -> Iterator[Callable[[int], None]]:
    """`seed(n)`: seed what `policy` samples its actions with, the global RNGs (an SB3 policy samples
    from torch's, DQN's epsilon-greedy flips numpy's) and an SB3 model's action space (DQN's random
    actions, `model.action_space.sample()`). All of them are as they were before, after."""
    from rlgen.process import process_state_kept, seed_everything

    space = getattr(getattr(policy, "model", None), "action_space", None)
    kept = space.np_random.bit_generator.state if isinstance(space, gym.Space) else None

    def seed(n: int) -> None:
        seed_everything(n)
        if kept is not None:
            space.seed(n)

    with process_state_kept():
        try:
            yield seed
        finally:
            if kept is not None:  # a Run's model samples on from where it was, as if nothing was recorded
                space.np_random.bit_generator.state = kept


def _warn_if_capped(env: gym.Env, lengths: list[int]) -> None:
    """Say that episodes were cut at the EPISODE_STEP_CAP `step_capped` gave an env with no step limit
    of its own (evaluation says so too): the demos' truncations there are rlgen's, not the env's."""
    cut = sum(length == EPISODE_STEP_CAP for length in lengths)
    if not cut or env.spec is None or without_step_cap(env.spec).max_episode_steps is not None:
        return
    warnings.warn(f"env {env.spec.id!r} has no step limit of its own: {cut} of {len(lengths)} recorded episodes "
                  f"were cut (truncated) at {EPISODE_STEP_CAP:,} steps; choose the limit with "
                  "env.kwargs.max_episode_steps: N", RlgenWarning, stacklevel=3)


def random_return(make_env: Callable[[], gym.Env], episodes: int, seed: int = 0) -> float:
    """The mean return of uniformly random actions: the 0 of the expert ratio (D4RL's ref_min_score).
    In an env with `action_masks()` (sb3-contrib's convention, found through wrappers) the random
    policy picks uniformly among the actions the masks allow at each step, as a masked agent must."""
    env = make_env()
    env.action_space.seed(seed)
    masked = env.has_wrapper_attr("action_masks")
    total = 0.0
    try:
        for i in range(episodes):
            env.reset(seed=seed + i)
            done = False
            while not done:
                mask = gym_mask(env.action_space, env.get_wrapper_attr("action_masks")()) if masked else None
                _, reward, terminated, truncated, _ = env.step(env.action_space.sample(mask=mask))
                total += float(reward)
                done = terminated or truncated
    finally:
        env.close()
    return total / episodes


def gym_mask(space: gym.Space, masks: Any) -> Any:
    """sb3-contrib's flat action mask (one bool per choice: Discrete n, MultiDiscrete sum(nvec), MultiBinary
    2 per bit, [can be 0, can be 1]) as the `mask` gymnasium's `space.sample(mask=...)` takes: an int8
    array for Discrete, a tuple of them for MultiDiscrete, 0 / 1 / 2 (either) per bit for MultiBinary.
    Other spaces have no masks in sb3-contrib, so they sample unmasked (None)."""
    flat = np.asarray(masks).astype(bool).reshape(-1)
    if isinstance(space, gym.spaces.Discrete):
        groups = [int(space.n)]
    elif isinstance(space, gym.spaces.MultiDiscrete):
        groups = [int(n) for n in space.nvec.reshape(-1)]
    elif isinstance(space, gym.spaces.MultiBinary):
        groups = [2] * int(np.prod(space.shape))
    else:
        return None
    if flat.size != sum(groups):
        raise RlgenError(f"the env's action_masks() gave {flat.size} entries; sb3-contrib's layout for {space} "
                         f"needs {sum(groups)} (one per choice, two per MultiBinary bit)")
    split = np.split(flat, np.cumsum(groups)[:-1])
    if not all(group.any() for group in split):
        raise RlgenError(f"the env's action_masks() {flat.astype(int).tolist()} allows no action for some part of "
                         f"{space}; every step must leave at least one choice open")
    if isinstance(space, gym.spaces.Discrete):
        return flat.astype(np.int8)
    if isinstance(space, gym.spaces.MultiDiscrete):
        return _nested(space.nvec, iter(split))
    # MultiBinary: only 0 allowed -> 0, only 1 -> 1, both -> 2 (gymnasium samples the bit)
    bits = np.array([0 if not one else 1 if not zero else 2 for zero, one in split], np.int8)
    return bits.reshape(space.shape)


def _nested(nvec: np.ndarray, groups: Any) -> tuple:
    """The nested tuple of per-entry int8 masks gymnasium's MultiDiscrete takes, for any nvec shape."""
    if nvec.ndim == 1:
        return tuple(next(groups).astype(np.int8) for _ in nvec)
    return tuple(_nested(sub, groups) for sub in nvec)
