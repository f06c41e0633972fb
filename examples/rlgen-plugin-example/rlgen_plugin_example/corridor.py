"""A gymnasium env with a known answer: walk to the end of a corridor that the observation names."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class CorridorEnv(gym.Env):
    """A corridor of 2 * half + 1 cells; start in the middle, the goal is the left or the right end,
    drawn each episode and shown in the observation. Action 0 steps left, 1 steps right; each step
    costs -1 and reaching the goal ends the episode, so the best return is -half. Episodes are cut
    after 4x the corridor's length. Observation: the one-hot cell, then -1 (goal left) or +1 (right).

    A constant policy reaches the goal in only half the episodes: the agent must read the goal side.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, half: int = 3):
        if half < 1:
            raise ValueError(f"a corridor needs half >= 1, got {half}")
        self.half, self.length = int(half), 2 * int(half) + 1
        self.max_steps = 4 * self.length
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (self.length + 1,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._cell, self._goal, self._t = self.half, 0, 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.length + 1, np.float32)
        obs[self._cell] = 1.0
        obs[-1] = 1.0 if self._goal > 0 else -1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._cell, self._t = self.half, 0
        self._goal = int(self.np_random.choice([0, self.length - 1]))
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._cell = min(max(self._cell + (1 if int(action) == 1 else -1), 0), self.length - 1)
        self._t += 1
        terminated = self._cell == self._goal
        return self._obs(), -1.0, terminated, self._t >= self.max_steps and not terminated, {}
