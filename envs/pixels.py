"""Pixel observations for the CNN backbone.

- `BinaryFrames`: (H, W, C) boolean frames, one channel per object kind, as MinAtar gives them
  (Young & Tian 2019, 10x10xC), -> (C, H, W) uint8 in {0, 255}: SB3 then sees an image space
  (scaled to [0, 1] by the policy) and the CNN reads channels first.
  `env: {id: MinAtar/Breakout-v1, wrappers: [BinaryFrames]}` with `pip install minatar`.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from rlgen.errors import RlgenError


class BinaryFrames(gym.ObservationWrapper):
    """(H, W, C) bool or {0, 1} -> (C, H, W) uint8, 0 or 255."""

    def __init__(self, env: gym.Env):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
            raise RlgenError(f"BinaryFrames needs (H, W, C) frames, got {space}")
        h, w, c = space.shape
        self.observation_space = gym.spaces.Box(0, 255, (c, h, w), dtype=np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.moveaxis(np.asarray(observation, dtype=bool), -1, 0)).astype(np.uint8) * 255
