"""Fully connected backbone and decoder."""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from rlgen.nets.common import (
    NORMS,
    check_dims,
    check_dropout,
    check_shape,
    make_activation,
    make_norm,
    pick,
)


class MLP(nn.Module):
    """(B, *in_shape) -> (B, out_dim): flatten, then Linear -> norm -> activation -> dropout per layer.

    `hidden=()` only flattens, so out_dim = prod(in_shape). E.g. `MLP((4,), hidden=(64, 64))` maps
    (B, 4) to (B, 64).
    """

    description = "fully connected layers over the flattened input"
    sequence = False
    prefers_accelerator = False  # small MLPs are bound by per-call overhead, not FLOPs

    def __init__(
        self,
        in_shape: tuple[int, ...],
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        where = "mlp backbone"
        self.in_shape = check_shape(in_shape, range(1, 8), "in_shape", where)
        self.hidden = check_dims(hidden, "hidden", where)
        pick(NORMS, norm, "norm")
        make_activation(activation)  # fail on a bad name even when hidden=() builds no activation
        check_dropout(dropout, where)
        layers: list[nn.Module] = [nn.Flatten(start_dim=1)]
        width = math.prod(self.in_shape)
        for size in self.hidden:
            # batch norm re-centres each feature, so a bias before it would be dead weight
            layers.append(nn.Linear(width, size, bias=norm != "batch"))
            # no Identity / Dropout(0) placeholders: in RL this forward runs once per env step and
            # each do-nothing module is a few microseconds of Python on the hot path
            if norm != "none":
                layers.append(make_norm(norm, size))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = size
        self.layers = nn.Sequential(*layers)
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        """(B, *in_shape) -> (B, out_dim)."""
        return self.layers(x)


class MLPDecoder(nn.Module):
    """(B, in_dim) -> (B, *out_shape): an MLP, a Linear to prod(out_shape), out_activation, reshape.

    `out_activation` is an activation name or None (no activation).
    """

    def __init__(
        self,
        in_dim: int,
        out_shape: tuple[int, ...],
        hidden: Sequence[int] = (64, 64),
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.0,
        out_activation: str | None = "tanh",
    ) -> None:
        super().__init__()
        self.body = MLP((in_dim,), hidden, activation=activation, norm=norm, dropout=dropout)
        self.in_shape = self.body.in_shape
        self.out_shape = check_shape(out_shape, range(1, 8), "out_shape", "mlp decoder", "check the data shape")
        self.out_dim = math.prod(self.out_shape)
        self.out = nn.Linear(self.body.out_dim, self.out_dim)
        self.out_activation = nn.Identity() if out_activation is None else make_activation(out_activation)

    def forward(self, z: Tensor) -> Tensor:
        """(B, in_dim) -> (B, *out_shape)."""
        x = self.out_activation(self.out(self.body(z)))  # (B, prod(out_shape))
        return x.reshape(x.shape[0], *self.out_shape)
