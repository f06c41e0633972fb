"""A window of the last k steps as the observation, so any SB3 algorithm can use memory.

`VecHistory` wraps a VecEnv: each env's observation becomes its episode's last `length` steps,
oldest first, one row per step:

    row = [observation (F) | previous action (A, if actions) | previous reward (1, if rewards) | valid (1)]

An episode's first rows are left padding (all zero, valid = 0): the window never mixes two
episodes. The last entry of a row is the validity flag; `BackboneExtractor(masked=True)` splits it
off and hands it to a sequence backbone whose forward takes `mask` as its `mask`, so padding never reaches the cell or the
attention. An MLP simply sees the flattened window (flags included), like frame stacking.

Because the window is built in the VecEnv, rollout and replay buffers store whole windows and
every algorithm (PPO, A2C, DQN, SAC, TD3, ...) trains on them unchanged; episode starts across
the vector env are handled here, where SB3's auto-reset is visible (`dones` and the
`terminal_observation` each finished env leaves in its info, which gets its window too).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

from rlgen.config import MAX_HISTORY
from rlgen.errors import RlgenError


def shift_in(window: np.ndarray, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """(N, k, D) windows, (N, D) new rows, (N,) bool -> (N, k, D): each window drops its oldest
    row and appends the new one; where `starts`, the old rows are cleared first (a new episode)."""
    out = np.empty_like(window)
    out[:, :-1] = window[:, 1:]
    out[:, -1] = rows
    out[starts, :-1] = 0.0
    return out


def _encoder(space: gym.Space, what: str) -> tuple[int, np.ndarray, np.ndarray]:
    """The flat size of `space` as window entries and its bounds (one-hot for discrete spaces)."""
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape)), space.low.reshape(-1), space.high.reshape(-1)
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n), np.zeros(space.n), np.ones(space.n)
    if isinstance(space, gym.spaces.MultiDiscrete):
        n = int(np.sum(space.nvec))
        return n, np.zeros(n), np.ones(n)
    if isinstance(space, gym.spaces.MultiBinary):
        n = int(np.prod(space.shape))
        return n, np.zeros(n), np.ones(n)
    raise RlgenError(f"env.history: {what} space {space} is not supported (Box, Discrete, MultiDiscrete, "
                     "MultiBinary); flatten it with the FlattenObservation wrapper")


def _encode(space: gym.Space, values: np.ndarray, n: int) -> np.ndarray:
    """(N, ...) values of `space` -> (N, dim) float32 (discrete values one-hot)."""
    values = np.asarray(values)
    if isinstance(space, gym.spaces.Discrete):
        return np.eye(space.n, dtype=np.float32)[values.reshape(n).astype(np.int64) - int(space.start)]
    if isinstance(space, gym.spaces.MultiDiscrete):  # each entry one-hot from its own start
        index = values.reshape(n, -1).astype(np.int64) - space.start.reshape(-1).astype(np.int64)  # (N, entries)
        parts = [np.eye(k, dtype=np.float32)[v] for k, v in zip(space.nvec.reshape(-1), index.T)]
        return np.concatenate(parts, axis=1)
    return values.reshape(n, -1).astype(np.float32)


class VecHistory(VecEnvWrapper):
    """Observations (N, *obs_shape) -> windows (N, length, D), D = F [+ A] [+ 1] + 1 (module docstring)."""

    def __init__(self, venv: VecEnv, length: int, actions: bool = False, rewards: bool = False):
        if not 1 <= length <= MAX_HISTORY:  # as the config checks it, for a window made in Python
            raise RlgenError(f"env.history.length must be from 1 to {MAX_HISTORY:,}, got {length}")
        obs_dim, low, high = _encoder(venv.observation_space, "observation")
        if isinstance(venv.observation_space, gym.spaces.Box) and len(venv.observation_space.shape) == 3:
            raise RlgenError("env.history: image observations are not supported; use env.frame_stack for frames")
        lows, highs = [np.minimum(low, 0.0)], [np.maximum(high, 0.0)]  # zero padding stays inside the box
        act_dim = 0
        if actions:
            act_dim, a_low, a_high = _encoder(venv.action_space, "action")
            lows.append(np.minimum(a_low, 0.0))
            highs.append(np.maximum(a_high, 0.0))
        lows += [np.full(int(rewards), -np.inf), np.zeros(1)]
        highs += [np.full(int(rewards), np.inf), np.ones(1)]
        row_low, row_high = np.concatenate(lows), np.concatenate(highs)
        space = gym.spaces.Box(np.tile(row_low, (length, 1)).astype(np.float32),
                               np.tile(row_high, (length, 1)).astype(np.float32), dtype=np.float32)
        super().__init__(venv, observation_space=space)
        self.length, self.actions, self.rewards = length, actions, rewards
        self._obs_space = venv.observation_space
        self._act_dim = act_dim
        self.window = np.zeros((self.num_envs, *space.shape), np.float32)  # (N, k, D)
        self._last_actions = np.zeros((self.num_envs, act_dim), np.float32)

    def _rows(self, obs: Any, actions: np.ndarray, rewards: np.ndarray) -> np.ndarray:
        """(n, *obs_shape), (n, A), (n,) -> (n, D) window rows with valid = 1."""
        n = len(actions)
        parts = [_encode(self._obs_space, obs, n)]
        if self.actions:
            parts.append(actions)
        if self.rewards:
            parts.append(np.asarray(rewards, np.float32).reshape(n, 1))
        parts.append(np.ones((n, 1), np.float32))
        return np.concatenate(parts, axis=1)

    def reset(self) -> np.ndarray:
        obs = self.venv.reset()
        none = np.zeros((self.num_envs, self._act_dim), np.float32)
        rows = self._rows(obs, none, np.zeros(self.num_envs))
        self.window = shift_in(self.window, rows, np.ones(self.num_envs, bool))
        return self.window.copy()

    def step_async(self, actions: np.ndarray) -> None:
        if self.actions:
            self._last_actions = _encode(self.venv.action_space, actions, self.num_envs)
        self.venv.step_async(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        obs, rewards, dones, infos = self.venv.step_wait()
        # the reward as the env gave it, also under VecNormalize, so training and eval windows agree
        raw = self.venv.get_original_reward() if isinstance(self.venv, VecNormalize) else rewards
        for i in np.flatnonzero(dones):
            if "terminal_observation" in infos[i]:  # the finished episode's last window, for bootstrapping
                last = self._rows(np.asarray(infos[i]["terminal_observation"])[None], self._last_actions[i : i + 1], raw[i : i + 1])
                infos[i]["terminal_observation"] = shift_in(self.window[i : i + 1], last, np.zeros(1, bool))[0]
        going = ~dones.astype(bool)  # a new episode has no previous action or reward
        rows = self._rows(obs, self._last_actions * going[:, None], np.asarray(raw) * going)
        self.window = shift_in(self.window, rows, ~going)
        return self.window.copy(), rewards, dones, infos
