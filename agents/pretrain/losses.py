"""The losses of the pretraining kinds, as small pure functions of tensors (tests call them directly)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def reconstruction(pred: Tensor, target: Tensor, kind: str = "mse") -> Tensor:
    """(B, *shape) prediction and target -> (B,): the error of each sample, summed over its values.

    "mse": squared error (a Gaussian decoder of unit variance, up to constants); "bce": binary
    cross-entropy with `pred` as logits and targets in [0, 1] (a Bernoulli decoder, for binary
    frames). Summed, not averaged, over a sample's values so that the VAE's KL term keeps its
    meaning (Kingma & Welling 2014, eq. 10)."""
    if kind == "mse":
        err = (pred - target).square()
    elif kind == "bce":
        err = F.binary_cross_entropy_with_logits(pred, target, reduction="none")
    else:
        raise ValueError(f"unknown reconstruction loss {kind!r}; use mse or bce")
    return err.flatten(1).sum(1)


def kl_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """(B, D), (B, D) -> (B,): KL( N(mu, exp(logvar)) || N(0, I) ) per sample,
    0.5 * sum(mu^2 + exp(logvar) - 1 - logvar) (Kingma & Welling 2014, appendix B)."""
    return 0.5 * (mu.square() + logvar.exp() - 1.0 - logvar).sum(1)


def reparameterize(mu: Tensor, logvar: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """z = mu + exp(logvar / 2) * eps, eps ~ N(0, I): a sample that gradients flow through."""
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + (0.5 * logvar).exp() * eps


def cross_entropy(logits: Tensor, y: Tensor) -> Tensor:
    """(B, K) logits, (B,) classes -> mean of -log softmax(logits)[y]."""
    return F.cross_entropy(logits, y)


def multiclass_hinge(logits: Tensor, y: Tensor, margin: float = 1.0) -> Tensor:
    """(B, K), (B,) -> mean over the batch of sum_{j != y} max(0, margin - (s_y - s_j)): the
    multi-class SVM loss of Weston & Watkins (1999)."""
    true = logits.gather(1, y[:, None])  # (B, 1)
    slack = (margin - true + logits).clamp(min=0.0)  # (B, K); the true class itself gives `margin`
    slack = slack.masked_fill(F.one_hot(y, logits.shape[1]).bool(), 0.0)
    return slack.sum(1).mean()


def squared_error(pred: Tensor, y: Tensor, n_classes: int = 0) -> Tensor:
    """Mean squared error; for classes (`n_classes` > 0) between the logits and the one-hot target
    (the square loss for classification of Hui & Belkin 2021)."""
    target = F.one_hot(y, n_classes).to(pred.dtype) if n_classes else y.reshape(pred.shape).to(pred.dtype)
    return F.mse_loss(pred, target)


CLASSIFICATION = {"cross_entropy": cross_entropy, "hinge": multiclass_hinge, "mse": squared_error}
