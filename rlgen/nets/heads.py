"""Small heads that sit on a backbone's features."""

from __future__ import annotations

import math

from torch import Tensor, nn

from rlgen.nets.common import check_shape


class LinearHead(nn.Module):
    """(..., in_dim) -> (..., *out_shape): one Linear, orthogonally initialised.

    `init_gain` scales the orthogonal weights; the bias starts at 0. The usual gains (Andrychowicz
    et al. 2021; SB3 and CleanRL defaults): 0.01 for policy logits, so the first policy is near
    uniform, and 1 for a value head. `out_shape=()` gives one scalar per input.
    """

    def __init__(self, in_dim: int, out_shape: int | tuple[int, ...], init_gain: float = 1.0) -> None:
        super().__init__()
        shape = (out_shape,) if isinstance(out_shape, int) else tuple(out_shape)
        self.in_shape = check_shape((in_dim,), (1,), "in_dim", "linear head", "check the backbone's out_dim")
        self.out_shape = check_shape(shape, range(0, 8), "out_shape", "linear head", "check the action shape")
        self.out_dim = math.prod(self.out_shape)
        self.linear = nn.Linear(in_dim, self.out_dim)
        nn.init.orthogonal_(self.linear.weight, gain=init_gain)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: Tensor) -> Tensor:
        """(..., in_dim) -> (..., *out_shape)."""
        y = self.linear(x)  # (..., prod(out_shape))
        return y.reshape(*y.shape[:-1], *self.out_shape)
