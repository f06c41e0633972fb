"""Pictures of samples, saved as PNG under media/: a scatter for 2-D points, a grid for images,
curves for sequences."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg")  # no display; set before pyplot is first imported
    import matplotlib.pyplot as plt

    return plt


def scatter(fake: np.ndarray, real: np.ndarray, path: Path, title: str) -> Path:
    """(N, *shape) points: a histogram of one feature, else a scatter of the first two (a sample
    of more than one axis is read flattened, as the mlp players read it)."""
    plt = _plt()
    fake, real = fake.reshape(len(fake), -1), real.reshape(len(real), -1)  # (N, F)
    fig, ax = plt.subplots(figsize=(4, 4), dpi=100)
    if real.shape[1] == 1:  # 1-D data: two histograms
        ax.hist([real[:, 0], fake[:, 0]], bins=40, label=["data", "generated"], color=["0.7", "tab:red"])
        ax.set_title(title)
        ax.legend(fontsize=7)
        fig.savefig(path)
        plt.close(fig)
        return path
    ax.scatter(real[:, 0], real[:, 1], s=2, c="0.7", label="data")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:red", alpha=0.5, label="generated")
    # float64: data near float32's largest value (3.4e38) would overflow to inf in float32 here
    lim = np.abs(real.astype(np.float64)).max() * 1.3
    if np.isfinite(lim) and lim > 0:  # else matplotlib's own limits (it refuses inf, warns at 0)
        ax.set(xlim=(-lim, lim), ylim=(-lim, lim))
    ax.set(aspect="equal", title=title)
    ax.legend(loc="upper right", fontsize=7, markerscale=4)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def one_picture_per_image(images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) in [-1, 1] -> (N, 1 or 3, H, W) in [-1, 1]. A channel count other than 1 or 3
    (MinAtar's one channel per kind of object) becomes one grey picture, channel k drawn at shade
    (k + 1) / C, as MinAtar's own display gives each channel its colour."""
    c = images.shape[1]
    if c in (1, 3):
        return images
    shade = np.arange(1, c + 1, dtype=np.float32)[None, :, None, None] / c
    return (np.clip((images + 1) / 2, 0, 1) * shade).max(1, keepdims=True) * 2 - 1


def image_grid(images: np.ndarray, path: Path, columns: int = 8, scale: int = 4) -> Path:
    """(N, C, H, W) in [-1, 1] -> one PNG of a columns-wide grid, each pixel `scale` pixels wide."""
    plt = _plt()
    images = one_picture_per_image(images)
    n, c, h, w = images.shape
    rows = -(-n // columns)
    grid = np.ones((rows * (h + 1) + 1, columns * (w + 1) + 1, c), dtype=np.float32)
    for i, img in enumerate((np.clip(images, -1, 1) + 1) / 2):
        r, k = divmod(i, columns)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + k * (w + 1) : 1 + k * (w + 1) + w] = img.transpose(1, 2, 0)
    grid = np.kron(grid, np.ones((scale, scale, 1), dtype=np.float32))
    plt.imsave(path, grid[..., 0] if c == 1 else grid, cmap="gray" if c == 1 else None, vmin=0, vmax=1)
    return path


def curves(fake: np.ndarray, real: np.ndarray, path: Path, title: str, n: int = 6) -> Path:
    """(N, T, F) sequences: n generated (first feature) beside n real."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(8, 3), dpi=100, sharey=True)
    for ax, data, name in ((axes[0], real, "data"), (axes[1], fake, "generated")):
        for seq in data[:n]:
            ax.plot(seq[:, 0], lw=1)
        ax.set_title(name)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
