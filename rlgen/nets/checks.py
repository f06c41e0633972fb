"""The contract every backbone honours, as a checker any new backbone's test can call."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from rlgen.errors import RlgenError


def check_backbone(net: nn.Module, x: Tensor, **forward_kwargs: Any) -> Tensor:
    """Run `net` on the batch `x`; raise RlgenError unless it honours the backbone contract.

    The contract (README, `rlgen.backbones`): an integer attribute `out_dim`; an `in_shape`
    attribute is optional (rlgen's own backbones keep one; a plugin's need not), and where there is
    one it is a tuple matching x.shape[1:]; output of shape (B, *out_shape) if the net has
    `out_shape`, else (B, ..., out_dim); finite floating-point values; and a nonzero gradient
    reaching every trainable parameter. Returns the output.
    """
    name = type(net).__name__
    in_shape, out_dim = getattr(net, "in_shape", tuple(x.shape[1:])), getattr(net, "out_dim", None)
    if not isinstance(out_dim, int) or isinstance(out_dim, bool):
        raise RlgenError(f"{name}: needs an attribute out_dim (int), the size of its output's last axis")
    if not isinstance(in_shape, tuple):
        raise RlgenError(f"{name}: in_shape is a {type(in_shape).__name__}; where a backbone keeps one, it is a tuple")
    if tuple(x.shape[1:]) != in_shape:
        raise RlgenError(f"{name}: input {tuple(x.shape)} is not (B, *in_shape) with in_shape {in_shape}")
    net.zero_grad(set_to_none=True)
    out = net(x, **forward_kwargs)
    if not isinstance(out, Tensor):
        raise RlgenError(f"{name}: forward returns a {type(out).__name__}; a backbone returns one tensor")
    out_shape = getattr(net, "out_shape", None)
    ok = out.shape[1:] == out_shape if out_shape is not None else out.shape[-1] == out_dim
    if out.shape[0] != x.shape[0] or not ok:
        want = f"(B, *{out_shape})" if out_shape is not None else f"(B, ..., {out_dim})"
        raise RlgenError(f"{name}: output {tuple(out.shape)} is not {want} for input {tuple(x.shape)}")
    fault = value_fault(out)
    if fault:
        raise RlgenError(f"{name}: {fault}")
    # a random projection, because the plain sum of a normalised output has zero gradient
    (out * torch.randn_like(out)).sum().backward()
    dead = [
        n for n, p in net.named_parameters() if p.requires_grad and (p.grad is None or not p.grad.any())
    ]
    if dead:
        raise RlgenError(f"{name}: no gradient reaches {', '.join(dead)}")
    return out


def value_fault(out: Tensor) -> str | None:
    """Why the values of the backbone output `out` cannot go on (an integer or bool dtype, NaN or
    inf), as words following the backbone's name; None where they can."""
    if not out.is_floating_point():
        # the heads and losses after a backbone are float matmuls: an integer output fails there, as
        # a dtype mismatch far from the backbone that made it
        return f"returns {out.dtype} values; forward must return a floating-point tensor"
    if not torch.isfinite(out).all():
        return "returns NaN or inf; guard the divisions, logs and square roots in its forward (an eps)"
    return None
