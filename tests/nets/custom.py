"""A user's own backbone, used by import path in configs (tests/nets/test_custom_backbone.py)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from torch import Tensor, nn


class TinyArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int = Field(8, gt=0)


class TinyEncoder(nn.Module):
    """(B, *in_shape) -> (B, width): one Linear over the flattened input, then tanh."""

    config_model = TinyArgs

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        self.in_shape, self.out_dim = tuple(in_shape), width
        n = 1
        for d in in_shape:
            n *= d
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(n, width), nn.Tanh())

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)


class StepMean(nn.Module):
    """(B, T, F) -> (B, width): a sequence backbone that only pools (it takes no `pool`)."""

    sequence = True

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        self.in_shape, self.out_dim = tuple(in_shape), width
        self.lin = nn.Linear(in_shape[-1], width)

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.lin(x).tanh().mean(1)


class Refusing(nn.Module):
    """(B, *in_shape) -> (B, width), refusing a width below 1 in its constructor, as a plugin's own
    check does (it has no config_model for rlgen to check the value at load)."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1 (got {width})\nsecond line")
        self.out_dim = width
        self.lin = nn.LazyLinear(width)

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x.flatten(1))
