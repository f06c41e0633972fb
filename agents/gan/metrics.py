"""Sample-quality metrics as pure numpy functions (tests call them with known answers).

- 2-D mixtures: modes covered and the share of high-quality samples. A sample is high quality
  when it lies within 3 standard deviations of its nearest mode's centre (Srivastava et al. 2017,
  VEEGAN, sec. 5.1); a mode is covered when its high-quality samples reach `share` of the
  count a perfect generator would put there (share 0.2 with 2,500 samples on 25 modes is the
  "fewer than 20 samples means lost" rule of Lin et al. 2018, PacGAN).
- Images: the Fréchet distance between Gaussians fitted to classifier features (Heusel et al.
  2017, FID, with a small digits classifier in place of Inception).
- Anything: the MMD^2 with a sum of RBF kernels, and a diversity ratio against real data.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def nearest_mode(x: np.ndarray, modes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2), (K, 2) -> index (N,) of each sample's nearest mode and the distance (N,) to it."""
    d = np.linalg.norm(x[:, None, :] - modes[None, :, :], axis=-1)  # (N, K)
    idx = d.argmin(1)
    return idx, d[np.arange(len(x)), idx]


def mode_quality(x: np.ndarray, modes: np.ndarray, std: float, share: float = 0.2) -> tuple[int, float]:
    """(modes covered, share of high-quality samples) for samples x (N, 2) of a mixture."""
    idx, dist = nearest_mode(x, modes)
    good = dist <= 3.0 * std
    counts = np.bincount(idx[good], minlength=len(modes))  # (K,) high-quality samples per mode
    needed = max(1.0, share * len(x) / len(modes))
    return int((counts >= needed).sum()), float(good.mean())


def gaussian_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, F) -> mean (F,), covariance (F, F)."""
    f = features.astype(np.float64)
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, cov1: np.ndarray, mu2: np.ndarray, cov2: np.ndarray) -> float:
    """||mu1 - mu2||^2 + tr(C1 + C2 - 2 (C1 C2)^(1/2)), the squared 2-Wasserstein distance of two
    Gaussians. tr((C1 C2)^(1/2)) is the sum of square roots of the eigenvalues of the symmetric
    C1^(1/2) C2 C1^(1/2), which avoids a non-symmetric matrix square root."""
    w, v = np.linalg.eigh(cov1)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T  # C1^(1/2)
    middle = np.linalg.eigvalsh(root1 @ cov2 @ root1)
    trace_root = np.sqrt(np.clip(middle, 0, None)).sum()
    return float(((mu1 - mu2) ** 2).sum() + np.trace(cov1) + np.trace(cov2) - 2 * trace_root)


def frechet_from_features(a: np.ndarray, b: np.ndarray) -> float:
    """The Fréchet distance between Gaussians fitted to feature sets a (N, F) and b (M, F)."""
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


def mmd2(x: np.ndarray, y: np.ndarray, bandwidths: Sequence[float] | None = None) -> float:
    """Biased MMD^2 between samples x (N, ...) and y (M, ...) with a sum of RBF kernels
    (Gretton et al. 2012). Default bandwidths: the median pairwise distance times 0.5, 1, 2."""
    x, y = x.reshape(len(x), -1).astype(np.float64), y.reshape(len(y), -1).astype(np.float64)
    z = np.concatenate([x, y])
    sq = (z * z).sum(1)
    d2 = np.clip(sq[:, None] + sq[None, :] - 2 * z @ z.T, 0, None)  # (N+M, N+M) squared distances
    if bandwidths is None:
        med = float(np.sqrt(np.median(d2[np.triu_indices(len(z), 1)])))
        bandwidths = [0.5 * med, med, 2.0 * med] if med > 0 else [1.0]
    k = sum(np.exp(-d2 / (2 * h * h)) for h in bandwidths)
    n = len(x)
    return float(k[:n, :n].mean() + k[n:, n:].mean() - 2 * k[:n, n:].mean())


def spread(x: np.ndarray, seed: int = 0) -> float:
    """Mean distance between random pairs of samples: a cheap diversity figure.

    The pairs come from a permutation fixed by `seed` and the sample count, so two sets of the same
    size (real and generated) are paired alike. Fixed pairs such as (x[i], x[i + N/2]) would line up
    with any order in the samples: class-conditional samples drawn for labels i % K pair one class
    with itself whenever K divides N/2, and a perfect generator reads as collapsed.
    """
    flat = x.reshape(len(x), -1).astype(np.float64)
    half = len(flat) // 2
    order = np.random.default_rng(seed).permutation(len(flat))
    return float(np.linalg.norm(flat[order[:half]] - flat[order[half : 2 * half]], axis=1).mean())


def training_warning(d_losses: Sequence[float], g_losses: Sequence[float], diversity_ratio: float | None,
                     window: int = 5, d_floor: float = 0.05, diversity_floor: float = 0.2) -> str | None:
    """A one-line warning when a run looks collapsed or diverging, else None.

    Diverging: the discriminator loss has stayed near zero for `window` units while the generator
    loss kept rising (D wins outright; G gets no useful gradient). Collapsed: the samples are far
    less spread than the data (`diversity_ratio` = spread(fake) / spread(real) below the floor).
    """
    if diversity_ratio is not None and diversity_ratio < diversity_floor:
        return (f"samples look mode-collapsed: their spread is {diversity_ratio:.0%} of the data's "
                "(try a lower G learning rate, spectral norm, a gradient penalty or the EMA generator)")
    if len(d_losses) >= window:
        d, g = list(d_losses)[-window:], list(g_losses)[-window:]
        if max(abs(v) for v in d) < d_floor and all(b > a for a, b in zip(g, g[1:])):
            return (f"training looks like it is diverging: discriminator loss near 0 for {window} units "
                    "while the generator loss rises (try n_critic=1, a lower D learning rate, or R1)")
    return None
