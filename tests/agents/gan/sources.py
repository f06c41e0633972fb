"""Data sources of one's own for the GAN kind's tests, used by import path."""

from __future__ import annotations

import numpy as np


class Clusters:
    """Two labeled clusters in 2-D, at (0, 0) (label 0) and (4, 4) (label 1), std 0.1, with label 1
    drawn at rate `p1`: an imbalanced conditional source. `draw(y, rng)` samples given the labels."""

    modality, shape, n_classes = "points", (2,), 2
    centers = np.array([[0.0, 0.0], [4.0, 4.0]], dtype=np.float32)

    def __init__(self, p1: float = 0.1):
        self.p1 = p1

    def draw(self, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return (self.centers[y] + 0.1 * rng.standard_normal((len(y), 2))).astype(np.float32)

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        y = (rng.random(batch) < self.p1).astype(np.int64)
        return self.draw(y, rng), y


def undeclared() -> Clusters:
    """A builder (a function) that declares no modality: what it gives is known once it is built."""
    return Clusters(0.5)


class Centred:
    """Points (2,) around `modes` (K, 2) = (0, 0) and (3, 3), with a `std` only when one is given:
    `modes` and `std` are no part of the source contract, so a source may mean anything by them."""

    modality, shape, n_classes = "points", (2,), 0
    centres = np.array([[0.0, 0.0], [3.0, 3.0]], dtype=np.float32)

    def __init__(self, modes: list | None = None, std: object = None):
        self.modes = self.centres if modes is None else np.asarray(modes, dtype=np.float32)
        if std is not None:
            self.std = std

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        which = rng.integers(0, 2, batch)
        return (self.centres[which] + 0.1 * rng.standard_normal((batch, 2))).astype(np.float32), None


class Classes:
    """Points (2,) with `n_classes` labels; the class attribute 0 is only a default an instance
    changes (data.kwargs.n_classes), so it declares nothing about labels."""

    modality, shape, n_classes = "points", (2,), 0

    def __init__(self, n_classes: int = 0):
        self.n_classes = n_classes

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray | None]:
        y = rng.integers(0, self.n_classes, batch) if self.n_classes else None
        return rng.standard_normal((batch, 2)).astype(np.float32), y


class Flat:
    """Points (2,) all at the origin: data of no spread, which no diversity ratio can be read against."""

    modality, shape, n_classes = "points", (2,), 0

    def sample(self, batch: int, rng: np.random.Generator) -> tuple[np.ndarray, None]:
        return np.zeros((batch, 2), np.float32), None
