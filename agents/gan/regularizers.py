"""Discriminator regularizers: gradient penalty, R1, spectral norm.

The penalties take the discriminator as a callable `critic(x) -> (B,) logits`, so a test can pass a
hand-written function with a known gradient. Dropout is the backbone's own `dropout` field.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn
from torch.nn.utils import parametrizations

from rlgen.nets.common import differentiable_twice  # noqa: F401 - where the GAN and imitation kinds take it

Critic = Callable[[Tensor], Tensor]


def input_grad(out: Tensor, x: Tensor) -> Tensor:
    """(B,) outputs of a critic on x (B, *shape) -> (B, F): each row's d out_i / d x_i, flattened,
    kept in the graph for a second backward. x must require grad."""
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)  # rows are independent samples
    return grad.flatten(1)


def input_grad_norm(critic: Critic, x: Tensor) -> Tensor:
    """(B, *shape) -> (B,): ||d critic(x)_i / d x_i||."""
    x = x.detach().requires_grad_(True)
    return input_grad(critic(x), x).norm(dim=1)


def gradient_penalty(critic: Critic, real: Tensor, fake: Tensor, weight: float,
                     alpha: Tensor | None = None) -> Tensor:
    """weight * E[(||grad critic(x_hat)|| - 1)^2], x_hat = alpha real + (1 - alpha) fake
    (Gulrajani et al. 2017, WGAN-GP, lambda = 10). `alpha` (B,) defaults to U[0, 1)."""
    if alpha is None:
        alpha = torch.rand(real.shape[0], device=real.device, dtype=real.dtype)
    a = alpha.reshape(-1, *([1] * (real.dim() - 1)))  # (B, 1, ...) broadcast over the sample
    mixed = a * real.detach() + (1 - a) * fake.detach()
    return weight * (input_grad_norm(critic, mixed) - 1.0).pow(2).mean()


def r1_penalty(critic: Critic, real: Tensor, gamma: float) -> Tensor:
    """gamma / 2 * E[||grad critic(x)||^2] on real data (Mescheder et al. 2018, eq. 9)."""
    x = real.detach().requires_grad_(True)
    return r1_from_logits(critic(x), x, gamma)


def r1_from_logits(real_logits: Tensor, real: Tensor, gamma: float) -> Tensor:
    """R1 from logits the discriminator step has computed already on `real` (which must require
    grad), so the penalty costs no second forward."""
    return 0.5 * gamma * input_grad(real_logits, real).pow(2).sum(1).mean()


def add_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral-normalise every Linear and Conv weight in `module`, in place (Miyato et al. 2018):
    one power iteration per forward keeps each layer's top singular value near 1. Recurrent cells
    and attention's packed input projection are left as they are, and so is a frozen (transferred)
    part: it computes what it computed in its source run and, never stepped, keeps the Lipschitz
    constant its weights give it."""
    from rlgen.transfer import is_frozen

    if is_frozen(module):
        return module
    for name, child in list(module.named_children()):
        if isinstance(child, (nn.Linear, nn.Conv1d, nn.Conv2d, nn.ConvTranspose2d)):
            setattr(module, name, parametrizations.spectral_norm(child))
        else:
            add_spectral_norm(child)
    return module
