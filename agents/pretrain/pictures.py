"""Pictures of the pretraining kinds, saved as PNG under media/: inputs beside reconstructions,
VAE samples, a confusion matrix."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rlgen.agents.gan import pictures as gan_pictures
from rlgen.agents.gan.pictures import _plt


def displayable(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """(N, C, H, W) with values in [lo, hi] -> the same in [-1, 1], what `image_grid` draws (it
    turns any channel count but 1 and 3 into one grey picture)."""
    return (x - lo) / max(hi - lo, 1e-8) * 2.0 - 1.0


def reconstructions(real: np.ndarray, recon: np.ndarray, modality: str, path: Path, title: str,
                    lo: float, hi: float) -> Path:
    """Inputs beside their reconstructions: images in pairs of columns (input, reconstruction),
    sequences as curves (grey input, red reconstruction), points as a scatter."""
    if modality == "image":
        pairs = np.stack([displayable(real, lo, hi), displayable(recon, lo, hi)], 1)  # (N, 2, C, H, W)
        return gan_pictures.image_grid(pairs.reshape(-1, *pairs.shape[2:]), path, columns=8)
    if modality == "points" and real.ndim == 2 and real.shape[1] == 2:
        return gan_pictures.scatter(recon, real, path, title + " (red: reconstructions)")
    plt = _plt()
    n = min(6, len(real))
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.2), dpi=100, sharey=True, squeeze=False)
    for ax, a, b in zip(axes[0], real, recon):
        ax.plot(a.reshape(len(a), -1)[:, 0], c="0.6", lw=1.5)
        ax.plot(b.reshape(len(b), -1)[:, 0], c="tab:red", lw=1)
    fig.suptitle(title + " (grey: input, red: reconstruction)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def samples(fake: np.ndarray, modality: str, path: Path, title: str, lo: float, hi: float,
            real: np.ndarray) -> Path:
    """Samples decoded from the prior (the VAE)."""
    if modality == "image":
        return gan_pictures.image_grid(displayable(fake, lo, hi), path, columns=8)
    if modality == "sequence":
        return gan_pictures.curves(fake, real, path, title)
    return gan_pictures.scatter(fake.reshape(len(fake), -1), real.reshape(len(real), -1), path, title)


def confusion(matrix: np.ndarray, path: Path, title: str) -> Path:
    """A (K, K) count matrix, rows the true class, columns the predicted one."""
    plt = _plt()
    k = len(matrix)
    fig, ax = plt.subplots(figsize=(1.5 + 0.45 * k, 1.2 + 0.45 * k), dpi=100)
    ax.imshow(matrix, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if matrix[i, j] > matrix.max() / 2 else "black")
    ax.set(xticks=range(k), yticks=range(k), xlabel="predicted", ylabel="true", title=title)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
