"""GAN losses as pure functions of discriminator logits.

Each loss is a pair: `d(real, fake)` for the discriminator and `g(fake)` for the generator, both
taking logits (B,) and returning a scalar to minimise. `softplus(-x) = -log sigmoid(x)` and
`softplus(x) = -log(1 - sigmoid(x))` are the stable forms of the binary cross-entropy terms.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch.nn.functional as F
from torch import Tensor


class Loss(NamedTuple):
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]


def bce_d(real: Tensor, fake: Tensor) -> Tensor:
    """-log D(x) - log(1 - D(G(z))) (Goodfellow et al. 2014, eq. 1), D = sigmoid(logit)."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def minimax_g(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))): the original minimax generator loss, which saturates when D wins."""
    return -F.softplus(fake).mean()


def non_saturating_g(fake: Tensor) -> Tensor:
    """-log D(G(z)): the same fixed point with strong gradients early (Goodfellow et al. 2014, sec. 3)."""
    return F.softplus(-fake).mean()


def hinge_d(real: Tensor, fake: Tensor) -> Tensor:
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018)."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g(fake: Tensor) -> Tensor:
    """-D(G(z))."""
    return -fake.mean()


def wasserstein_d(real: Tensor, fake: Tensor) -> Tensor:
    """D(G(z)) - D(x): the critic's side of the Kantorovich dual (Arjovsky et al. 2017); pair it
    with a gradient penalty or spectral norm to keep the critic Lipschitz."""
    return fake.mean() - real.mean()


def wasserstein_g(fake: Tensor) -> Tensor:
    """-D(G(z))."""
    return -fake.mean()


def least_squares_d(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2 (Mao et al. 2017, LSGAN with a=0, b=c=1)."""
    return 0.5 * (real - 1.0).pow(2).mean() + 0.5 * fake.pow(2).mean()


def least_squares_g(fake: Tensor) -> Tensor:
    """1/2 (D(G(z)) - 1)^2."""
    return 0.5 * (fake - 1.0).pow(2).mean()


LOSSES: dict[str, Loss] = {
    "minimax": Loss(bce_d, minimax_g),
    "non_saturating": Loss(bce_d, non_saturating_g),
    "hinge": Loss(hinge_d, hinge_g),
    "wasserstein": Loss(wasserstein_d, wasserstein_g),
    "least_squares": Loss(least_squares_d, least_squares_g),
}
