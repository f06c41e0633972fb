"""Each GAN loss and penalty against values computed by hand."""

import math

import pytest
import torch

from rlgen.agents.gan.losses import LOSSES, bce_d, minimax_g, non_saturating_g
from rlgen.agents.gan.regularizers import gradient_penalty, r1_from_logits, r1_penalty

REAL = torch.tensor([2.0, 0.5])
FAKE = torch.tensor([-2.0, 0.5])


def test_bce_at_zero_logits_is_two_log_two():
    zero = torch.zeros(3)
    assert bce_d(zero, zero).item() == pytest.approx(2 * math.log(2))
    assert non_saturating_g(zero).item() == pytest.approx(math.log(2))
    assert minimax_g(zero).item() == pytest.approx(-math.log(2))


def test_bce_by_hand():
    # -log sigmoid(2) and -log sigmoid(0.5) for real; -log(1 - sigmoid(f)) = log(1 + e^f) for fake
    real = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(-0.5))) / 2
    fake = (math.log(1 + math.exp(-2.0)) + math.log(1 + math.exp(0.5))) / 2
    assert bce_d(REAL, FAKE).item() == pytest.approx(real + fake, rel=1e-6)


@pytest.mark.parametrize("name, d_value, g_value", [
    # hinge: relu(1 - [2, .5]) = [0, .5] -> .25; relu(1 + [-2, .5]) = [0, 1.5] -> .75; G: -mean(fake) = .75
    ("hinge", 1.0, 0.75),
    # wasserstein: mean(fake) - mean(real) = -.75 - 1.25; G: -mean(fake)
    ("wasserstein", -2.0, 0.75),
    # least squares: .5 * mean([1, .25]) + .5 * mean([4, .25]); G: .5 * mean([9, .25])
    ("least_squares", 0.3125 + 1.0625, 2.3125),
])
def test_loss_by_hand(name, d_value, g_value):
    loss = LOSSES[name]
    assert loss.d(REAL, FAKE).item() == pytest.approx(d_value)
    assert loss.g(FAKE).item() == pytest.approx(g_value)


def test_every_loss_rewards_a_better_discriminator():
    """Moving real logits up and fake logits down never raises the D loss (least squares excepted:
    it pulls logits to the targets 1 and 0, not past them)."""
    for name, loss in LOSSES.items():
        if name == "least_squares":
            continue
        assert loss.d(REAL + 1, FAKE - 1) <= loss.d(REAL, FAKE), name
        assert loss.g(FAKE + 1) <= loss.g(FAKE), name  # G gains when D rates its samples higher


def test_gradient_penalty_linear_critic():
    """critic(x) = w.x has gradient w everywhere: penalty = lambda (|w| - 1)^2 = 10 * 16."""
    w = torch.tensor([3.0, 4.0])
    real, fake = torch.randn(5, 2), torch.randn(5, 2)
    assert gradient_penalty(lambda x: x @ w, real, fake, 10.0).item() == pytest.approx(160.0)


def test_gradient_penalty_interpolates_real_and_fake():
    """critic(x) = |x|^2 has gradient 2x: at alpha real + (1 - alpha) fake the norms are known."""
    critic = lambda x: (x ** 2).sum(1)  # noqa: E731
    real, fake = torch.tensor([[2.0, 0.0], [1.0, 0.0]]), torch.zeros(2, 2)
    # alpha = 1 -> x_hat = (2, 0), |grad| = 4, (4 - 1)^2 = 9; alpha = .5 -> x_hat = (.5, 0), |grad| = 1, 0
    value = gradient_penalty(critic, real, fake, 1.0, alpha=torch.tensor([1.0, 0.5]))
    assert value.item() == pytest.approx(4.5)


def test_gradient_penalty_has_a_gradient_for_the_critic():
    w = torch.tensor([3.0, 4.0], requires_grad=True)
    gradient_penalty(lambda x: x @ w, torch.randn(4, 2), torch.randn(4, 2), 1.0).backward()
    # d/dw (|w| - 1)^2 = 2 (|w| - 1) w / |w| = 2 * 4 * (3, 4) / 5
    assert torch.allclose(w.grad, torch.tensor([4.8, 6.4]))


def test_r1_penalty_by_hand():
    w = torch.tensor([3.0, 4.0])
    assert r1_penalty(lambda x: x @ w, torch.randn(6, 2), gamma=0.2).item() == pytest.approx(0.1 * 25)


def test_r1_from_logits_matches_r1_penalty():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    critic = lambda x: net(x).squeeze(1)  # noqa: E731
    real = torch.randn(16, 2).requires_grad_(True)
    assert r1_from_logits(critic(real), real, 0.3).item() == pytest.approx(r1_penalty(critic, real, 0.3).item())
