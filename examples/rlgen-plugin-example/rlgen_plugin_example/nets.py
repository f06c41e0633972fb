"""A backbone: random Fourier features, then rlgen's own MLP."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rlgen.nets.mlp import MLP


class FourierMLP(nn.Module):
    """(B, *in_shape) -> (B, out_dim): [sin, cos](2 pi x B) of the flattened input, then an MLP.

    A fixed random projection B ~ N(0, scale^2) lets an MLP fit sharp functions of low-dimensional
    inputs such as 2-D points (Tancik et al. 2020, "Fourier Features Let Networks Learn High
    Frequency Functions"). rlgen's backbone protocol: the constructor takes `in_shape` and the
    config's keys, and sets `out_dim`.
    """

    description = "random Fourier features of the input, then an MLP (for low-dimensional points)"
    sequence = False  # reads (B, *in_shape), not (B, T, F) windows
    prefers_accelerator = False  # small: device: auto keeps it on the CPU

    def __init__(self, in_shape: tuple[int, ...], features: int = 64, scale: float = 1.0,
                 hidden: Sequence[int] = (64, 64), activation: str = "relu", norm: str = "none",
                 dropout: float = 0.0) -> None:
        super().__init__()
        if features <= 0 or scale <= 0:
            raise ValueError(f"fourier backbone: features and scale must be > 0 (got {features}, {scale})")
        # a buffer, not a parameter: fixed after construction, yet saved in checkpoints
        self.register_buffer("projection", scale * torch.randn(math.prod(in_shape), features))
        self.mlp = MLP((2 * features,), hidden=hidden, activation=activation, norm=norm, dropout=dropout)
        self.out_dim = self.mlp.out_dim

    def forward(self, x: Tensor) -> Tensor:
        z = 2 * math.pi * x.flatten(1) @ self.projection  # (B, features)
        return self.mlp(torch.cat([z.sin(), z.cos()], 1))  # (B, out_dim)
