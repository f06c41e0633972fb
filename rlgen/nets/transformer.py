"""Transformer sequence encoder: pre-LN blocks, causal by default."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from rlgen.errors import RlgenError
from rlgen.nets.common import (
    POOLS,
    NORMS,
    as_sequence,
    check_dropout,
    check_shape,
    make_activation,
    make_norm,
    masked_mean,
    pick,
)

POSITIONALS = ("learned", "sinusoidal")


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """(max_len, d_model) fixed position codes of Vaswani et al. 2017, section 3.5."""
    position = torch.arange(max_len, dtype=torch.float32).unsqueeze(1)  # (L, 1)
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(position * freq)
    table[:, 1::2] = torch.cos(position * freq)[:, : d_model // 2]  # odd d_model has one cos fewer
    return table


class Block(nn.Module):
    """(B, T, D) -> (B, T, D): pre-norm self-attention and feed-forward, each residual.

    Written out rather than nn.TransformerEncoderLayer, which only takes relu or gelu.
    """

    def __init__(self, d_model: int, n_heads: int, ff_dim: int, activation: str, norm: str, dropout: float) -> None:
        super().__init__()
        self.norm1 = make_norm(norm, d_model)
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm2 = make_norm(norm, d_model)
        self.ff = nn.Sequential(
            nn.Linear(d_model, ff_dim), make_activation(activation), nn.Dropout(dropout), nn.Linear(ff_dim, d_model)
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor, attn_mask: Tensor | None) -> Tensor:
        """(B, T, D), mask (T, T) or (B * heads, T, T) bool, True = may not attend -> (B, T, D)."""
        h = self.norm1(x)
        attended, _ = self.attn(h, h, h, attn_mask=attn_mask, need_weights=False)  # (B, T, D)
        x = x + self.drop(attended)
        return x + self.drop(self.ff(self.norm2(x)))


class TransformerEncoder(nn.Module):
    """(B, T, F) or (B, F), mask (B, T) bool or None -> (B, out_dim), or (B, T, out_dim) for "sequence".

    Linear(F, d_model) + position code, `n_layers` pre-norm blocks, a final norm (Radford et al.
    2019, GPT-2 layout). `mask` is True at real steps; padding keys are never attended to and
    positions count from each row's first real step, so a left-padded window encodes its real
    steps exactly as the unpadded sequence would. `causal=True` stops step t seeing t+1 and later.
    Pools: "last" (last real step), "mean" (over real steps), "sequence" (every step; padding 0).
    Note: with norm="batch" in train mode, padding steps enter the batch statistics; "layer"
    (the default) has no such leak.
    """

    description = "pre-norm Transformer over (T, F) sequences, causal by default"
    sequence = True
    prefers_accelerator = True

    def __init__(
        self,
        in_shape: tuple[int, ...],
        d_model: int = 64,
        n_heads: int = 4,
        n_layers: int = 2,
        ff_dim: int = 128,
        activation: str = "gelu",
        norm: str = "layer",
        dropout: float = 0.0,
        positional: str = "learned",
        causal: bool = True,
        pool: str = "last",
        max_len: int | None = None,
    ) -> None:
        super().__init__()
        where = "transformer backbone"
        self.in_shape = check_shape(in_shape, (2, 1), "in_shape (T, F) or (F,)", where)
        self.max_len = (self.in_shape[0] if len(self.in_shape) == 2 else 1) if max_len is None else max_len
        if min(d_model, n_heads, n_layers, ff_dim, self.max_len) < 1 or d_model % n_heads:
            raise RlgenError(
                f"{where}: d_model {d_model}, n_heads {n_heads}, n_layers {n_layers}, ff_dim {ff_dim},"
                f" max_len {self.max_len} must be >= 1, and d_model divisible by n_heads"
                " — fix backbone.d_model / backbone.n_heads"
            )
        if len(self.in_shape) == 2 and self.in_shape[0] > self.max_len:
            # known when it is built (the data's or the window's length): refused here, where the
            # builder puts the config path in front (build_backbone), not at the first forward
            raise RlgenError(self._too_long(self.in_shape[0]))
        pick(POSITIONALS, positional, "positional encoding")
        self.pool = pick(POOLS, pool, "pool")
        pick(NORMS, norm, "norm")
        check_dropout(dropout, where)
        self.n_heads, self.causal = n_heads, causal
        self.proj = nn.Linear(self.in_shape[-1], d_model)
        if positional == "learned":
            # small init as in GPT-2, so position codes start well below the projected inputs
            self.pos_table = nn.Parameter(torch.randn(self.max_len, d_model) * 0.02)
        else:
            # derived from the shape, so kept out of the state dict
            self.register_buffer("pos_table", sinusoidal_table(self.max_len, d_model), persistent=False)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, ff_dim, activation, norm, dropout) for _ in range(n_layers)
        )
        self.norm = make_norm(norm, d_model)
        self.out_dim = d_model

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """(B, T, F) or (B, F), mask (B, T) bool or None -> (B, out_dim) or (B, T, out_dim)."""
        x, mask = as_sequence(x, mask, "transformer backbone")
        batch, steps, _ = x.shape
        if steps > self.max_len:
            raise RlgenError(self._too_long(steps))
        if mask is None:
            position = torch.arange(steps, device=x.device).expand(batch, steps)  # (B, T)
        else:
            x = x.masked_fill(~mask.unsqueeze(-1), 0.0)  # padding values, even NaN, must not leak
            position = (mask.long().cumsum(1) - 1).clamp(min=0)  # (B, T), 0 at the first real step
        h = self.drop(self.proj(x) + self.pos_table[position])  # (B, T, D)
        attn_mask = self._attention_mask(mask, steps, x.device)
        for block in self.blocks:
            h = block(h, attn_mask)
        return self._pool(self.norm(h), mask)

    def _too_long(self, steps: int) -> str:
        return (f"transformer backbone: sequence of {steps} steps is longer than max_len {self.max_len}"
                f" — set backbone.max_len >= {steps} or use a shorter window")

    def _attention_mask(self, mask: Tensor | None, steps: int, device: torch.device) -> Tensor | None:
        """(T, T) or (B * heads, T, T) bool, True where a query may not attend to a key; or None."""
        future = torch.ones(steps, steps, dtype=torch.bool, device=device).triu(1)  # (T, T) key after query
        if mask is None:
            return future if self.causal else None
        allowed = mask.unsqueeze(1).expand(-1, steps, -1)  # (B, T_query, T_key): no padding keys
        if self.causal:
            allowed = allowed & ~future
        # A padding query may have no key left. Softmax over nothing is NaN on some attention
        # paths (need_weights=True, older torch), and a NaN value poisons the next layer even at
        # weight 0. Letting every query see itself avoids that and changes nothing for real
        # queries, which see themselves already.
        allowed = allowed | torch.eye(steps, dtype=torch.bool, device=device)
        return (~allowed).repeat_interleave(self.n_heads, dim=0)  # (B * heads, T, T), batch-major

    def _pool(self, h: Tensor, mask: Tensor | None) -> Tensor:
        """(B, T, D) -> (B, D), or (B, T, D) for "sequence"; padding steps and empty rows give 0."""
        if mask is None:
            if self.pool == "sequence":
                return h
            return h[:, -1] if self.pool == "last" else h.mean(1)
        if self.pool == "sequence":
            return h.masked_fill(~mask.unsqueeze(-1), 0.0)
        if self.pool == "mean":
            return masked_mean(h, mask)
        steps = torch.arange(h.shape[1], device=h.device)
        last = torch.where(mask, steps, -1).amax(1)  # (B,), -1 for a row with no real step
        pooled = h[torch.arange(h.shape[0], device=h.device), last.clamp(min=0)]  # (B, D)
        return pooled.masked_fill((last < 0).unsqueeze(-1), 0.0)
