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
    sequences as curves of their first feature (grey input, red reconstruction), points as a
    scatter (2 numbers), reconstruction against input (1 number), else as profiles over their
    flattened features."""
    if modality == "image":
        pairs = np.stack([displayable(real, lo, hi), displayable(recon, lo, hi)], 1)  # (N, 2, C, H, W)
        return gan_pictures.image_grid(pairs.reshape(-1, *pairs.shape[2:]), path, columns=8)
    if modality == "points":
        real, recon = real.reshape(len(real), -1), recon.reshape(len(recon), -1)  # (N, F), as an mlp reads them
        if real.shape[1] == 2:
            return gan_pictures.scatter(recon, real, path, title + " (red: reconstructions)")
        if real.shape[1] == 1:
            return against(real[:, 0], recon[:, 0], path, title)
    plt = _plt()
    n = min(6, len(real))
    fig, axes = plt.subplots(1, n, figsize=(2.2 * n, 2.2), dpi=100, sharey=True, squeeze=False)
    for ax, a, b in zip(axes[0], real, recon):
        # a sequence's first feature over its steps; a point's features in order (one marker each)
        a, b = (a[:, 0], b[:, 0]) if modality == "sequence" else (a, b)
        ax.plot(a, c="0.6", lw=1.5, marker=".")
        ax.plot(b, c="tab:red", lw=1, marker=".")
    fig.suptitle(title + " (grey: input, red: reconstruction)", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def against(real: np.ndarray, recon: np.ndarray, path: Path, title: str) -> Path:
    """1-D data, (N,) inputs and their reconstructions: each reconstruction against its input, on
    the diagonal when it is perfect."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    ends = [min(real.min(), recon.min()), max(real.max(), recon.max())]
    ax.plot(ends, ends, c="0.7", lw=1, label="perfect")
    ax.scatter(real, recon, s=8, c="tab:red", label="reconstruction")
    ax.set(xlabel="input", ylabel="reconstruction", title=title)
    ax.legend(loc="upper left", fontsize=7)
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


TEXT_CLASSES = 20  # the most classes whose counts are written in their cells (one matplotlib text each; past
# 20 the capped figure leaves a cell too small for its count)
MAX_INCHES = 12.0  # the figure's largest side: its pixels, and so its time and memory, stop growing


def confusion(matrix: np.ndarray, path: Path, title: str) -> Path:
    """A (K, K) count matrix, rows the true class, columns the predicted one. Up to TEXT_CLASSES
    classes each cell shows its count and each class its tick; beyond that a colour bar reads the
    counts, and the figure stops growing at MAX_INCHES (drawing cost bounded whatever K is)."""
    from matplotlib.ticker import MaxNLocator

    plt = _plt()
    k = len(matrix)
    fig, ax = plt.subplots(figsize=(min(1.5 + 0.45 * k, MAX_INCHES), min(1.2 + 0.45 * k, MAX_INCHES)), dpi=100)
    shown = ax.imshow(matrix, cmap="Blues", interpolation="nearest")
    if k <= TEXT_CLASSES:
        for i, j in zip(*np.nonzero(matrix)):
            ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                    color="white" if matrix[i, j] > matrix.max() / 2 else "black")
        ax.set(xticks=range(k), yticks=range(k))
    else:
        fig.colorbar(shown, ax=ax, shrink=0.8, label="count")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(xlabel="predicted", ylabel="true", title=title)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
