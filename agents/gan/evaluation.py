"""Evaluation of a generator against its data source: metrics by data modality, and a picture.

Metrics (all `eval/...`):
- every source: `mmd` (MMD^2 on 500 vs 500 samples) and `diversity_ratio` (spread of generated
  samples / spread of the data; near 1 is healthy, near 0 is collapse);
- mixtures (`mode_centres`): `modes_covered`, `high_quality` (share of samples within 3 std of a mode);
- digits: `frechet` (Fréchet distance in the features of a locally trained, cached classifier),
  `classes_covered`, and with class-conditional samples `class_accuracy`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from rlgen.agents.gan import metrics, pictures
from rlgen.agents.gan.config import GANConfig
from rlgen.envs.datasets import digits
from rlgen.envs.source_checks import sample_from
from rlgen.logging import Image
from rlgen.registry import SOURCES

GRID_SAMPLES = 64  # the images a picture draws, 8 x 8

Sampler = Callable[[int, torch.Generator], tuple[np.ndarray, np.ndarray | None]]


def mode_centres(source: Any) -> tuple[np.ndarray, float] | None:
    """The centres (K, D) and std the mode metrics score against, when the source has both `modes`
    (K, D) for samples of shape (D,) and a positive `std`: rlgen's mixtures (gaussian, ring8, grid25),
    or a source of one's own. Neither is part of the source contract, so a source that means
    something else by `modes` (or gives no `std`) is scored without the mode metrics, not stopped
    at its first evaluation."""
    modes, std = getattr(source, "modes", None), getattr(source, "std", None)
    if isinstance(std, bool) or not isinstance(std, (int, float, np.integer, np.floating)) \
            or not np.isfinite(std) or std <= 0:
        return None
    try:
        modes = np.asarray(modes, dtype=np.float32)
    except (TypeError, ValueError):
        return None
    if modes.ndim != 2 or not len(modes) or modes.shape[1:] != tuple(source.shape) or not np.isfinite(modes).all():
        return None
    return modes, float(std)


class Evaluator:
    """Holds a fixed real reference set and the digits classifier; scores batches of samples."""

    def __init__(self, cfg: GANConfig, source: Any, modality: str, seed: int):
        self.cfg, self.source, self.modality = cfg, source, modality
        # the reference set is the source's first batch: checked as training's is. A conditional
        # generator is scored on samples drawn for these same labels (GANExperiment.evaluate), so a
        # generator that matches the data class by class scores as fresh real data does, whatever
        # the data's label mix (balanced labels against a 90/10 source read as a poor generator)
        self.real, self.real_labels = sample_from(cfg.data.source, source, cfg.eval.samples,
                                                  np.random.default_rng(seed + 99_991))
        self.real_spread = metrics.spread(self.real)
        self.modes = mode_centres(source)
        self.classifier = None
        # by what the name resolves to, not how it is spelled: `rlgen.envs.datasets:digits` is digits too
        if SOURCES.get(cfg.data.source) is digits:
            from rlgen.agents.gan.classifier import load_classifier

            self.classifier = load_classifier(source.x, source.y, cfg.eval.classifier_cache)
            self.real_features = self._features(source.x)

    def _features(self, x: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.classifier.features(torch.as_tensor(x, dtype=torch.float32)).numpy()

    def score(self, fake: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
        out: dict[str, float] = {}
        n = min(500, len(fake), len(self.real))
        out["eval/mmd"] = metrics.mmd2(fake[:n], self.real[:n])
        # data of no spread at all (a source of one's own drawing one point) has no ratio to read:
        # NaN, not the generator's spread over 1e-12
        out["eval/diversity_ratio"] = metrics.spread(fake) / self.real_spread if self.real_spread > 0 else float("nan")
        if self.modes is not None:
            covered, hq = metrics.mode_quality(fake, *self.modes, self.cfg.eval.mode_share)
            out["eval/modes_covered"], out["eval/high_quality"] = float(covered), hq
        if self.classifier is not None:
            with torch.no_grad():
                logits = self.classifier(torch.as_tensor(fake, dtype=torch.float32))
            predicted = logits.argmax(1).numpy()
            out["eval/frechet"] = metrics.frechet_from_features(self._features(fake), self.real_features)
            counts = np.bincount(predicted, minlength=10)
            out["eval/classes_covered"] = float((counts >= self.cfg.eval.mode_share * len(fake) / 10).sum())
            if labels is not None:
                out["eval/class_accuracy"] = float((predicted == labels).mean())
        return out

    def picture(self, fake: np.ndarray, media_dir: Path, step: int) -> Image:
        path = media_dir / f"samples_step_{step:08d}.png"
        title = f"{self.cfg.name} step {step:,}"
        if self.modality == "points":
            pictures.scatter(fake[:1000], self.real[:1000], path, title)
        elif self.modality == "image":
            pictures.image_grid(fake[:GRID_SAMPLES], path)
        else:
            pictures.curves(fake, self.real, path, title)
        return Image(path, caption=title)
