"""Pixel observations for the CNN backbone.

- `BinaryFrames`: (H, W, C) boolean frames, one channel per object kind, as MinAtar gives them
  (Young & Tian 2019, 10x10xC), -> (C, H, W) uint8 in {0, 255}: SB3 then sees an image space
  (scaled to [0, 1] by the policy) and the CNN reads channels first.
  `env: {id: MinAtar/Breakout-v1, wrappers: [BinaryFrames]}` with `pip install minatar`.
- `rgb_frame` / `RgbRender`: what an env's `render()` gives in rgb_array mode, as the (H, W, 3)
  uint8 picture video writers and the `frames` data source take. Gymnasium documents rgb_array
  frames as uint8, but not every env keeps to it: MinAtar renders (10, 10, 3) floats in [0, 1],
  which a video writer takes for near-black bytes.
"""

from __future__ import annotations

from typing import Any

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


VIDEO_MIN_SIDE = 64  # MinAtar's 10x10 is unreadable in a player at its own size, and codecs dislike it


def rgb_frame(frame: Any, min_side: int = 0) -> np.ndarray:
    """A rendered frame as (H, W, 3) uint8: floats in [0, 1] and booleans scaled by 255 (other floats
    clipped to [0, 255]), grayscale (H, W) or (H, W, 1) repeated over 3 channels, and, where its
    shorter side is under `min_side`, enlarged by the smallest whole factor that reaches it (nearest
    neighbour: each cell a block of pixels, nothing blurred). Anything else: RlgenError."""
    arr = np.asarray(frame)
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=-1)  # (H, W) -> (H, W, 3)
    if arr.ndim != 3 or arr.shape[-1] not in (3, 4) or arr.dtype.kind not in "biuf" or 0 in arr.shape:
        raise RlgenError(f"render() gave {arr.dtype} of shape {arr.shape}, not an (H, W, 3), (H, W, 1) or (H, W) "
                         "picture; use an env that renders rgb_array frames")
    arr = arr[..., :3]  # RGBA -> RGB
    if arr.dtype.kind in "bf":
        arr = arr.astype(np.float64)
        top = arr.max() if np.isfinite(arr).all() else np.inf
        arr = np.clip(np.nan_to_num(arr * 255.0 if top <= 1.0 else arr), 0, 255).round()
    arr = np.clip(arr, 0, 255).astype(np.uint8)
    short = min(arr.shape[:2])
    if short < min_side:
        factor = -(-min_side // short)  # ceil
        arr = arr.repeat(factor, axis=0).repeat(factor, axis=1)
    return arr


class RgbRender(gym.Wrapper):
    """`render()` in rgb_array mode as `rgb_frame` gives it (uint8 RGB, enlarged to `min_side`), so
    RecordVideo films what the env draws; other modes and the env's steps pass through."""

    def __init__(self, env: gym.Env, min_side: int = VIDEO_MIN_SIDE):
        super().__init__(env)
        self.min_side = min_side

    def render(self) -> Any:
        frame = self.env.render()
        if self.render_mode != "rgb_array" or frame is None:
            return frame
        return rgb_frame(frame, self.min_side)
