"""A data source of one's own that breaks the source contract in one way at a time (the GAN and
pretraining kinds' tests of their one-line refusals)."""

from __future__ import annotations

import numpy as np


class BrokenSource:
    """Points of shape (2,) with `n_classes` labels. `fault`: init (the constructor raises),
    sample (sample() raises), shape, float64, nan, labels (every label 7). `at`: the batch size
    it breaks at (None: every size, the evaluation's or held-out draws already). `after`: the
    number of draws it keeps its contract for first."""

    modality, shape = "points", (2,)

    def __init__(self, fault: str = "shape", at: int | None = None, n_classes: int = 0, after: int = 0):
        if fault == "init":
            raise ValueError("no such file: data.csv")
        self.fault, self.at, self.after = fault, at, after
        self.n_classes = n_classes or (3 if fault == "labels" else 0)

    def sample(self, batch, rng):
        self.after -= 1
        fault = self.fault if self.at in (None, batch) and self.after < 0 else None
        if fault == "sample":
            raise ValueError("boom")
        x = rng.standard_normal((batch, 3 if fault == "shape" else 2))
        x = x if fault == "float64" else x.astype(np.float32)
        if fault == "nan":
            x[0, 0] = np.nan
        if not self.n_classes:
            return x, None
        return x, np.full(batch, 7) if fault == "labels" else rng.integers(0, self.n_classes, size=batch)
