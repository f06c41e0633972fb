"""Identity tasks: the action that earns the reward is the observation itself.

Every algorithm must learn these in a few thousand steps (SB3's tests use the same idea), so they
are the known-answer problems of the test suite. Registered as `rlgen/Identity-v0` (discrete) and
`rlgen/IdentityBox-v0` (continuous).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np


class IdentityEnv(gym.Env):
    """Observe a digit in [0, n); reward 1 for choosing that digit. Random play scores 1/n per step."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, n: int = 4, episode_length: int = 20):
        self.n, self.episode_length = n, episode_length
        self.observation_space = gym.spaces.Discrete(n)
        self.action_space = gym.spaces.Discrete(n)
        self._t, self._state = 0, 0

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[int, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._state = int(self.np_random.integers(self.n))
        return self._state, {}

    def action_masks(self) -> np.ndarray:
        """Every action is legal (lets MaskablePPO run here too)."""
        return np.ones(self.n, dtype=bool)

    def step(self, action: int) -> tuple[int, float, bool, bool, dict]:
        reward = float(int(action) == self._state)
        self._t += 1
        self._state = int(self.np_random.integers(self.n))
        return self._state, reward, False, self._t >= self.episode_length, {}


class IdentityBoxEnv(gym.Env):
    """Observe x in [-1, 1]; reward -(a - x)^2 for action a. Perfect play scores 0 per step."""

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, episode_length: int = 20):
        self.episode_length = episode_length
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self._t, self._state = 0, np.zeros(1, np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t = 0
        self._state = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self._state.copy(), {}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        reward = -float(np.sum((np.asarray(action, np.float32) - self._state) ** 2))
        self._t += 1
        self._state = self.np_random.uniform(-1, 1, (1,)).astype(np.float32)
        return self._state.copy(), reward, False, self._t >= self.episode_length, {}
