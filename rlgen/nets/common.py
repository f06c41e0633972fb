"""Pieces every backbone shares: activation and norm registries, name lookup, input checks."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Callable, Iterable, Iterator, Sequence

import torch
from torch import Tensor, nn

from rlgen.errors import RlgenError

ACTIVATIONS: dict[str, Callable[[], nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}
NORMS = ("none", "batch", "layer")
POOLS = ("last", "mean", "sequence")  # how a sequence backbone turns (B, T, D) into its output


@contextlib.contextmanager
def no_distribution_checks() -> Iterator[None]:
    """torch.distributions without their argument checks, restored after. SB3 builds a
    distribution at every forward pass, and each check is a few ops and a sync: ~8% of a small
    PPO's training (agents/rl). A trace cannot follow their data-dependent branches either
    (rlgen export). What they would catch, non-finite parameters, rlgen's divergence checks catch."""
    validate = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(validate)


@contextlib.contextmanager
def differentiable_twice(on: bool = True) -> Iterator[None]:
    """Attention through its plain (math) kernel while `on`: torch's fused attention kernels
    (flash, memory-efficient) have no derivative of their backward, which a second derivative
    needs: a GAN penalty backpropagating through the discriminator's input gradient, TRPO's
    Hessian-vector products. A transformer needs it; other networks are unchanged."""
    if not on:
        yield
        return
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel(SDPBackend.MATH):
        yield


def pick(names: Iterable[str], name: str, what: str) -> str:
    """Return `name` if it is one of `names`, else raise RlgenError with a suggestion and the names."""
    known = list(names)
    if name in known:
        return name
    parts = [f"unknown {what} {name!r}"]
    close = difflib.get_close_matches(str(name), known, n=1)
    if close:
        parts.append(f"did you mean {close[0]!r}?")
    parts.append(f"known: {', '.join(known)}")
    raise RlgenError(" — ".join(parts))


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name (see ACTIVATIONS)."""
    return ACTIVATIONS[pick(ACTIVATIONS, name, "activation")]()


class FeatureBatchNorm(nn.Module):
    """(..., F) -> (..., F): BatchNorm1d with every leading position (batch, time) as a sample."""

    def __init__(self, features: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(features)

    def forward(self, x: Tensor) -> Tensor:
        """(..., F) -> (..., F)."""
        # BatchNorm1d wants features in dim 1; flattening the leading dims avoids a transpose of
        # (B, T, F) and treats every step as one more sample for the statistics.
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def make_norm(name: str, features: int) -> nn.Module:
    """A norm over the last dim of (..., features): "none", "batch" or "layer"."""
    name = pick(NORMS, name, "norm")
    if name == "batch":
        return FeatureBatchNorm(features)
    if name == "layer":
        return nn.LayerNorm(features)
    return nn.Identity()


def make_norm2d(name: str, channels: int) -> nn.Module:
    """A norm for (B, C, H, W) conv maps: "none", "batch" or "layer"."""
    name = pick(NORMS, name, "norm")
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "layer":
        # GroupNorm with one group normalises each sample over (C, H, W) — LayerNorm of the whole
        # map — and, unlike nn.LayerNorm, needs no H, W at build time and keeps per-channel affine.
        return nn.GroupNorm(1, channels)
    return nn.Identity()


def check_dropout(p: float, where: str) -> float:
    """`p` if it is a usable dropout probability, else RlgenError."""
    if not 0.0 <= p < 1.0:
        raise RlgenError(f"{where}: dropout {p} is outside [0, 1) — set dropout to e.g. 0.0 or 0.1")
    return float(p)


def check_dims(values: Sequence[int], what: str, where: str, *, min_len: int = 0) -> tuple[int, ...]:
    """`values` as a tuple if it holds at least `min_len` positive ints, else RlgenError."""
    dims = tuple(values)
    if len(dims) < min_len or not all(isinstance(d, int) and d > 0 for d in dims):
        need = f"at least {min_len} positive ints" if min_len else "positive ints"
        raise RlgenError(f"{where}: {what} {list(dims)} must be {need} — fix {what}")
    return dims


def check_shape(
    shape: Sequence[int],
    ndims: Sequence[int],
    what: str,
    where: str,
    fix: str = "check the observation shape, or pick a backbone type made for it",
) -> tuple[int, ...]:
    """`shape` as a tuple if it has one of `ndims` dims, all positive, else RlgenError saying `fix`."""
    dims = tuple(shape)
    if len(dims) not in ndims or not all(isinstance(d, int) and d > 0 for d in dims):
        counts = f"{min(ndims)} to {max(ndims)}" if len(ndims) > 2 else " or ".join(map(str, ndims))
        raise RlgenError(
            f"{where}: {what} must be {counts} positive ints, got {dims} — {fix}"
        )
    return dims


def as_sequence(x: Tensor, mask: Tensor | None, where: str) -> tuple[Tensor, Tensor | None]:
    """(B, T, F) or (B, F), mask (B, T) / (B,) or None -> (B, T, F) and a (B, T) bool mask or None."""
    if x.dim() == 2:
        x = x.unsqueeze(1)  # (B, 1, F): one step
    if x.dim() != 3:
        raise RlgenError(f"{where}: input must be (B, T, F) or (B, F), got {tuple(x.shape)}")
    if mask is None:
        return x, None
    if mask.dim() == 1:
        mask = mask.unsqueeze(1)
    if mask.shape != x.shape[:2]:
        raise RlgenError(
            f"{where}: mask {tuple(mask.shape)} does not match input {tuple(x.shape)}"
            " — pass a (B, T) bool mask, True for real steps"
        )
    return x, mask.to(torch.bool)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """(B, T, F), (B, T) bool -> (B, F): the mean over real steps; rows with none give 0."""
    weights = mask.unsqueeze(-1).to(x.dtype)  # (B, T, 1)
    # where() rather than a product, so NaN or inf in padding cannot leak into the mean
    total = torch.where(mask.unsqueeze(-1), x, torch.zeros_like(x)).sum(1)  # (B, F)
    return total / weights.sum(1).clamp(min=1.0)
