"""A finite data source of one's own for the pretraining kinds' tests, used by import path."""

from __future__ import annotations

import numpy as np


class Few:
    """`n` fixed points of shape (4,), no labels: a finite source (it has `x`), split by share."""

    modality, shape, n_classes = "points", (4,), 0

    def __init__(self, n: int = 2):
        self.x = np.random.default_rng(0).standard_normal((n, 4)).astype(np.float32)
        self.y = None

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        return self.x[rng.integers(0, len(self.x), batch)], None
