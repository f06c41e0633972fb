"""Generator and discriminator shapes on every backbone family; conditioning; EMA."""

import pytest
import torch

from rlgen.agents.gan.config import DiscriminatorConfig, GeneratorConfig
from rlgen.agents.gan.players import EMA, Discriminator, Generator, with_label

CASES = [  # (modality, shape, generator backbone, discriminator backbone)
    ("points", (2,), {"type": "mlp", "hidden": [16]}, {"type": "mlp", "hidden": [16]}),
    ("image", (1, 8, 8), {"type": "cnn", "channels": [16, 8]},
     {"type": "cnn", "channels": [8, 16], "kernels": [3, 3], "strides": [2, 2], "padding": [1, 1], "hidden": 32}),
    ("sequence", (12, 1), {"type": "lstm", "hidden_size": 16}, {"type": "gru", "hidden_size": 16}),
    ("sequence", (12, 1), {"type": "transformer", "d_model": 16, "n_heads": 2, "n_layers": 1, "ff_dim": 32},
     {"type": "transformer", "d_model": 16, "n_heads": 2, "n_layers": 1, "ff_dim": 32, "pool": "mean"}),
]


@pytest.mark.parametrize("conditional", ["none", "concat", "projection"])
@pytest.mark.parametrize("modality, shape, g_spec, d_spec", CASES, ids=["mlp", "cnn", "lstm", "transformer"])
def test_players_shapes_and_gradients(modality, shape, g_spec, d_spec, conditional):
    n_classes = 0 if conditional == "none" else 3
    G = Generator(GeneratorConfig(backbone=g_spec, noise_dim=4), modality, shape, n_classes)
    D = Discriminator(DiscriminatorConfig(backbone=d_spec, spectral_norm=True), modality, shape, n_classes, conditional)
    y = torch.tensor([0, 1, 2, 1, 0]) if n_classes else None
    x = G(G.noise(5), y)
    assert x.shape == (5, *shape)
    logits = D(x, y)
    assert logits.shape == (5,)
    logits.sum().backward()
    assert all(p.grad is not None for p in G.parameters())


def test_projection_uses_the_label():
    D = Discriminator(DiscriminatorConfig(backbone={"type": "mlp", "hidden": [8]}), "points", (2,), 3, "projection")
    x = torch.randn(4, 2)
    assert not torch.allclose(D(x, torch.zeros(4, dtype=torch.long)), D(x, torch.ones(4, dtype=torch.long)))


def test_with_label_appends_one_hot():
    assert with_label(torch.zeros(2, 3), torch.tensor([1, 0]), 2).tolist() == [[0, 0, 0, 0, 1], [0, 0, 0, 1, 0]]
    assert with_label(torch.zeros(2, 5, 3), torch.tensor([1, 0]), 2).shape == (2, 5, 5)
    img = with_label(torch.zeros(2, 1, 4, 4), torch.tensor([1, 0]), 2, axis=1)
    assert img.shape == (2, 3, 4, 4) and img[0, 2].eq(1).all() and img[0, 1].eq(0).all()


def test_concat_on_points_of_three_axes_puts_the_one_hot_on_the_last():
    """Points of shape (2, 3, 4) are no image: the one-hot goes on the last axis, where the
    discriminator sized its input (torch's "shapes cannot be multiplied" before, 60 against 42)."""
    points = with_label(torch.zeros(2, 2, 3, 4), torch.tensor([1, 0]), 3)
    assert points.shape == (2, 2, 3, 7) and points[0, ..., 5].eq(1).all() and points[0, ..., 4].eq(0).all()
    D = Discriminator(DiscriminatorConfig(backbone={"type": "mlp", "hidden": [8]}), "points", (2, 3, 4), 3, "concat")
    assert D(torch.randn(5, 2, 3, 4), torch.tensor([0, 1, 2, 1, 0])).shape == (5,)


def test_ema_moves_by_one_minus_decay():
    G = Generator(GeneratorConfig(backbone={"type": "mlp", "hidden": [4]}, noise_dim=2), "points", (2,))
    ema = EMA(G, decay=0.75)
    before = [p.clone() for p in ema.module.parameters()]
    with torch.no_grad():
        for p in G.parameters():
            p.add_(4.0)
    ema.update(G)
    for old, new in zip(before, ema.module.parameters()):
        assert torch.allclose(new, old + 1.0)  # 0.75 old + 0.25 (old + 4)


def test_ema_standing_stats_are_the_copys_own():
    """After standing_stats, each batch norm of the EMA copy holds the mean and variance of its own
    inputs over the given batches, not the trained G's running statistics that update() copied."""
    torch.manual_seed(0)
    G = Generator(GeneratorConfig(backbone={"type": "cnn", "channels": [8, 4], "norm": "batch"}, noise_dim=4),
                  "image", (1, 8, 8))
    ema = EMA(G, decay=0.5)
    with torch.no_grad():
        for p in G.parameters():
            p.add_(0.5 * torch.randn_like(p))
        G.train()
        for _ in range(5):
            G(G.noise(32))  # G's running statistics, of G's weights
    ema.update(G)
    norm = next(m for m in ema.module.modules() if isinstance(m, torch.nn.BatchNorm2d))
    copied = norm.running_mean.clone()
    seen = []
    hook = norm.register_forward_hook(lambda m, inp, out: seen.append(inp[0].detach()))
    gen = torch.Generator().manual_seed(1)
    ema.standing_stats(lambda: (ema.module.noise(64, gen), None), batches=3)
    hook.remove()
    inputs = torch.cat(seen)  # (3 * 64, C, H, W): what the copy's first batch norm saw
    assert len(seen) == 3 and not ema.module.training and norm.momentum == 0.1
    assert torch.allclose(norm.running_mean, inputs.mean((0, 2, 3)), atol=1e-5)
    per_batch_var = torch.stack([x.var((0, 2, 3), unbiased=True) for x in seen]).mean(0)
    assert torch.allclose(norm.running_var, per_batch_var, atol=1e-5)
    assert not torch.allclose(norm.running_mean, copied, atol=1e-3)
