"""Tiny envs for the demonstration tests: image frames SB3 transposes, and action masks that matter.

Registered under `rlgen_test/...` by importing this module; the entry points are strings, so their
specs are JSON (what `rlgen record` keeps with the demos).
"""

import gymnasium as gym
import numpy as np


class TinyImageEnv(gym.Env):
    """(8, 7, 3) uint8 frames, channels last (SB3 wraps such an env in VecTransposeImage); Discrete(2)."""

    def __init__(self, episode_length: int = 5):
        self.observation_space = gym.spaces.Box(0, 255, (8, 7, 3), np.uint8)
        self.action_space = gym.spaces.Discrete(2)
        self.episode_length, self._t = episode_length, 0

    def _frame(self) -> np.ndarray:
        return self.np_random.integers(0, 256, (8, 7, 3), dtype=np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._frame(), {}

    def step(self, action):
        self._t += 1
        return self._frame(), float(action), False, self._t >= self.episode_length, {}


class OneLegalActionEnv(gym.Env):
    """Discrete(4) actions of which `action_masks()` allows one, a different one each step (shown
    one-hot); a forbidden action costs -10."""

    def __init__(self, episode_length: int = 12):
        self.observation_space = gym.spaces.Box(0.0, 1.0, (4,), np.float32)
        self.action_space = gym.spaces.Discrete(4)
        self.episode_length, self._t, self._legal = episode_length, 0, 0

    def _obs(self) -> np.ndarray:
        self._legal = int(self.np_random.integers(4))
        return np.eye(4, dtype=np.float32)[self._legal]

    def action_masks(self) -> np.ndarray:
        return np.arange(4) == self._legal

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return self._obs(), {}

    def step(self, action):
        reward = 1.0 if int(action) == self._legal else -10.0
        self._t += 1
        return self._obs(), reward, False, self._t >= self.episode_length, {}


for _id, _entry in (("rlgen_test/TinyImage-v0", "TinyImageEnv"), ("rlgen_test/OneLegalAction-v0", "OneLegalActionEnv")):
    if _id not in gym.registry:
        gym.register(_id, entry_point=f"tests.envs.demo_envs:{_entry}")
