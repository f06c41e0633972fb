"""The pretraining losses against values worked out by hand."""

import math

import pytest
import torch

from rlgen.agents.pretrain.losses import (
    cross_entropy,
    kl_normal,
    multiclass_hinge,
    reconstruction,
    reparameterize,
    squared_error,
)


def test_kl_of_a_normal_against_its_hand_value():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    logvar = torch.tensor([[0.0, math.log(2.0)], [0.0, 0.0]])
    # row 0: 0.5 * [(1 + 1 - 1 - 0) + (0 + 2 - 1 - ln 2)] = 0.5 * (2 - ln 2); row 1: the prior itself
    expected = torch.tensor([0.5 * (2.0 - math.log(2.0)), 0.0])
    assert torch.allclose(kl_normal(mu, logvar), expected, atol=1e-7)


def test_reparameterized_samples_have_the_asked_mean_and_spread():
    mu, logvar = torch.full((20000, 1), 3.0), torch.full((20000, 1), math.log(4.0))
    z = reparameterize(mu, logvar, torch.Generator().manual_seed(0))
    assert abs(z.mean().item() - 3.0) < 0.05 and abs(z.std().item() - 2.0) < 0.05


def test_reconstruction_sums_over_a_samples_values():
    pred = torch.tensor([[[0.0, 1.0]], [[2.0, 2.0]]])  # (B=2, 1, 2)
    target = torch.tensor([[[1.0, 1.0]], [[0.0, 0.0]]])
    assert reconstruction(pred, target, "mse").tolist() == [1.0, 8.0]
    logits, bits = torch.tensor([[0.0, 0.0]]), torch.tensor([[1.0, 0.0]])
    assert reconstruction(logits, bits, "bce").item() == pytest.approx(2 * math.log(2.0))


def test_cross_entropy_against_its_hand_value():
    logits = torch.tensor([[2.0, 0.0, 0.0]])
    expected = -math.log(math.exp(2) / (math.exp(2) + 2))
    assert cross_entropy(logits, torch.tensor([0])).item() == pytest.approx(expected)


def test_multiclass_hinge_against_its_hand_value():
    logits = torch.tensor([[3.0, 2.5, -1.0], [0.0, 0.0, 0.0]])
    y = torch.tensor([0, 2])
    # row 0: max(0, 1 - 3 + 2.5) + max(0, 1 - 3 - 1) = 0.5; row 1: (1 - 0 + 0) * 2 = 2; mean 1.25
    assert multiclass_hinge(logits, y).item() == pytest.approx(1.25)
    assert multiclass_hinge(logits, y, margin=0.25).item() == pytest.approx((0.0 + 0.5) / 2)


def test_squared_error_for_classes_and_for_targets():
    logits = torch.tensor([[1.0, 0.5], [0.0, 0.0]])
    # one-hot targets [1, 0] and [0, 1]: squared errors 0, 0.25, 0, 1 -> mean 0.3125
    assert squared_error(logits, torch.tensor([0, 1]), n_classes=2).item() == pytest.approx(0.3125)
    assert squared_error(torch.tensor([[1.0], [3.0]]), torch.tensor([2.0, 3.0])).item() == pytest.approx(0.5)
