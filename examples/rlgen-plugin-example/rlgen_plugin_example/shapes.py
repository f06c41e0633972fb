"""A data source: points on a 2-D spiral (the shape rlgen's source protocol asks for)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np


class Spiral:
    """A 2-D spiral with `arms` arms winding `turns` times out to radius 1, plus Gaussian noise.

    rlgen's source protocol: `shape` of one sample, `modality` ("points"), `n_classes` (0: no
    labels) and `sample(batch, rng) -> (x float32 (batch, 2), None)`. `modality` is a class
    attribute, so a config is checked against it before the source is built.
    """

    modality: ClassVar[str] = "points"
    n_classes: ClassVar[int] = 0
    shape: ClassVar[tuple[int, ...]] = (2,)

    def __init__(self, arms: int = 2, turns: float = 1.0, noise: float = 0.03):
        if arms < 1 or turns <= 0 or noise < 0:
            raise ValueError(f"Spiral needs arms >= 1, turns > 0, noise >= 0 (got {arms}, {turns}, {noise})")
        self.arms, self.turns, self.noise = int(arms), float(turns), float(noise)

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        t = rng.random(batch)  # position along an arm: 0 at the centre, 1 at its tip
        arm = rng.integers(0, self.arms, size=batch)
        angle = 2 * np.pi * (self.turns * t + arm / self.arms)  # (B,)
        x = t[:, None] * np.stack([np.cos(angle), np.sin(angle)], 1)  # (B, 2)
        x += self.noise * rng.standard_normal((batch, 2))
        return x.astype(np.float32), None
