"""Sequence decoder: one vector -> a sequence, through any sequence backbone."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rlgen.errors import RlgenError
from rlgen.nets.common import check_shape, make_activation


class SequenceDecoder(nn.Module):
    """(B, in_dim) -> (B, T, F): the vector, with the step's position, read at every step by a
    sequence backbone (pool "sequence"), then a Linear per step to F features and `out_activation`.

    `body` maps (B, T, in_dim + T) to (B, T, H): it is built by `rlgen.nets.build_decoder` from a
    gru / lstm / rnn / transformer spec. The position is a one-hot of the step, so a recurrent
    body knows where it is without counting and a Transformer body needs no ordering of its own
    (the "repeat the code at every step" decoder of Srivastava et al. 2015, with positions).
    """

    def __init__(self, in_dim: int, out_shape: tuple[int, int], body: nn.Module,
                 out_activation: str | None = None) -> None:
        super().__init__()
        where = "sequence decoder"
        self.in_shape = check_shape((in_dim,), (1,), "in_dim", where, "use a positive latent size")
        self.out_shape = check_shape(out_shape, (2,), "out_shape (T, F)", where, "the data must be (T, F) sequences")
        self.out_dim = math.prod(self.out_shape)
        steps, features = self.out_shape
        if getattr(body, "in_shape", (steps, in_dim + steps)) != (steps, in_dim + steps):
            raise RlgenError(f"{where}: its body reads {body.in_shape}, not (T, in_dim + T) = {(steps, in_dim + steps)}")
        self.body = body
        self.register_buffer("positions", torch.eye(steps), persistent=False)  # (T, T) one-hot steps
        self.out = nn.Linear(body.out_dim, features)
        self.out_activation = nn.Identity() if out_activation is None else make_activation(out_activation)

    @property
    def backbone(self) -> nn.Module:
        """Its sequence backbone, without the per-step Linear: what transfer moves (rlgen.transfer.trunk),
        the same trunk a GAN's sequence generator has, so a decoder and a generator trade weights."""
        return self.body

    def forward(self, z: Tensor) -> Tensor:
        """(B, in_dim) -> (B, T, F)."""
        steps = self.out_shape[0]
        code = z.unsqueeze(1).expand(-1, steps, -1)  # (B, T, in_dim)
        where = self.positions.to(z.dtype).expand(z.shape[0], -1, -1)  # (B, T, T)
        h = self.body(torch.cat([code, where], -1))  # (B, T, H)
        return self.out_activation(self.out(h))  # (B, T, F)
