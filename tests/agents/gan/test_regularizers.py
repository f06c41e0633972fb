"""Spectral norm bounds every layer's top singular value."""

import torch
from torch import nn

from rlgen.agents.gan.regularizers import add_spectral_norm


def top_singular_value(weight: torch.Tensor) -> float:
    return torch.linalg.matrix_norm(weight.detach().flatten(1), ord=2).item()


def test_spectral_norm_bounds_top_singular_value():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Sequential(nn.Conv2d(3, 8, 3)), nn.Linear(32, 1))
    with torch.no_grad():
        net[0].weight.mul_(10.0)
    assert top_singular_value(net[0].weight) > 5  # far above 1 before
    add_spectral_norm(net)
    for _ in range(30):  # each training-mode forward runs one power iteration
        net[0](torch.randn(4, 16))
        net[2][0](torch.randn(1, 3, 5, 5))
        net[3](torch.randn(4, 32))
    for layer in (net[0], net[2][0], net[3]):
        assert top_singular_value(layer.weight) <= 1.0 + 1e-3
    assert top_singular_value(net[0].weight) >= 0.99  # normalised, not shrunk to nothing


def test_spectral_norm_leaves_other_layers_alone():
    net = nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    add_spectral_norm(net)
    assert hasattr(net[0], "parametrizations") and not hasattr(net[1], "parametrizations")
