"""build_backbone runs a built backbone once on zeros: an `out_dim` that does not match the output
is one line naming the config section, before any run directory, not a matmul error deep inside
SB3's rollout or a GAN step. The probe changes nothing a seeded run reads (modes, batch-norm
statistics, the global RNGs)."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
import torch
from torch import Tensor, nn

import rlgen
from rlgen.errors import RlgenError
from rlgen.nets import _call, build_backbone, build_decoder
from rlgen.registry import BACKBONES

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
WRONG = f"{__name__}:WrongOutDim"


class WrongOutDim(nn.Module):
    """(B, *in_shape) -> (B, width), but claims width + 3."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        self.lin = nn.Linear(math.prod(in_shape), width)
        self.out_dim = width + 3

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x.flatten(1))


class FlatSequence(nn.Module):
    """Takes `pool` but ignores it: (B, T, F) -> (B, width) even when asked for every step."""

    sequence = True

    def __init__(self, in_shape: tuple[int, ...], width: int = 4, pool: str = "last"):
        super().__init__()
        self.lin, self.out_dim = nn.Linear(in_shape[-1], width), width

    def forward(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        return self.lin(x).mean(1)


class Crashes(nn.Module):
    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        self.lin, self.out_dim = nn.Linear(math.prod(in_shape) + 1, 4), 4

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x.flatten(1))


class DrawsAndNormalizes(nn.Module):
    """Draws from every global RNG in its forward, and has batch norm and dropout."""

    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(math.prod(in_shape), 6), nn.BatchNorm1d(6), nn.Dropout(0.5))
        self.out_dim = 6

    def forward(self, x: Tensor) -> Tensor:
        torch.rand(1), np.random.rand(), random.random()
        return self.net(x.flatten(1))


def test_a_wrong_out_dim_is_one_line_naming_the_section():
    with pytest.raises(RlgenError) as e:
        build_backbone({"type": WRONG}, (4,), where="discriminator.backbone")
    assert str(e.value).startswith(f"discriminator.backbone: backbone '{WRONG}' returns (2, 8) but sets out_dim 11")
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("config, section", [
    ("ppo_cartpole", "agent.policy.backbone"),
    ("gan_ring8", "discriminator.backbone"),
    ("gan_ring8", "generator.backbone"),
])
def test_a_run_on_a_backbone_with_a_wrong_out_dim_stops_before_its_run_directory(tmp_path, config, section):
    with pytest.raises(RlgenError, match=rf"^{section}: backbone '{WRONG}' returns \(2, 8\) but sets out_dim 11"):
        rlgen.train(config, [f"{section}={{type: '{WRONG}'}}", "train.total_steps=64", f"logging.dir={tmp_path}",
                             *QUIET])
    assert not any(tmp_path.iterdir())


def test_a_sequence_body_must_keep_every_step():
    with pytest.raises(RlgenError, match=r"returns \(2, 4\) but sets out_dim 4: forward must map \(B, \*in_shape\) "
                                         r"to \(B, T, out_dim\), here \(2, 5, 4\)"):
        build_decoder({"type": f"{__name__}:FlatSequence"}, in_dim=3, out_shape=(5, 2), where="decoder.backbone")


def test_a_forward_that_fails_on_its_own_in_shape_is_one_line():
    with pytest.raises(RlgenError, match=r"^model.backbone: backbone '.*:Crashes' fails on a batch of zeros \(2, 3\) "
                                         r"\(B, \*in_shape\): RuntimeError: mat1 and mat2"):
        build_backbone({"type": f"{__name__}:Crashes"}, (3,), where="model.backbone")


class IntOutput(nn.Module):
    """(B, *in_shape) -> (B, width) of 0/1 longs: the right shape, but no float for a head's matmul."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        self.lin, self.out_dim = nn.Linear(math.prod(in_shape), width), width

    def forward(self, x: Tensor) -> Tensor:
        return (self.lin(x.flatten(1)) > 0).long()


class LogOfInput(nn.Module):
    """(B, *in_shape) -> (B, width), -inf on zeros."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        self.lin, self.out_dim = nn.Linear(math.prod(in_shape), width), width

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x.flatten(1).log())


def test_an_integer_or_non_finite_output_is_one_line_naming_the_section():
    with pytest.raises(RlgenError, match=rf"^discriminator.backbone: backbone '{__name__}:IntOutput', on a batch "
                                         r"of zeros \(2, 4\) \(B, \*in_shape\), returns torch.int64 values; forward "
                                         r"must return a floating-point tensor$"):
        build_backbone({"type": f"{__name__}:IntOutput"}, (4,), where="discriminator.backbone")
    with pytest.raises(RlgenError, match=r"^model.backbone: backbone '.*:LogOfInput', on a batch of zeros \(2, 4\) "
                                         r"\(B, \*in_shape\), returns NaN or inf; guard the divisions"):
        build_backbone({"type": f"{__name__}:LogOfInput"}, (4,), where="model.backbone")


def test_a_gan_run_on_an_integer_backbone_stops_before_its_run_directory(tmp_path):
    with pytest.raises(RlgenError, match=r"^discriminator.backbone: backbone '.*:IntOutput', on a batch of zeros"):
        rlgen.train("gan_ring8", [f"discriminator.backbone={{type: '{__name__}:IntOutput'}}", "train.total_steps=64",
                                  f"logging.dir={tmp_path}", *QUIET])
    assert not any(tmp_path.iterdir())


def _unprobed(spec: dict, in_shape: tuple[int, ...]) -> nn.Module:
    """The backbone as build_backbone builds it, without the probe."""
    kwargs = dict(spec)
    name = kwargs.pop("type")
    return _call(BACKBONES.get(name), name, "backbone", kwargs, in_shape=in_shape)


@pytest.mark.parametrize("spec, in_shape", [
    ({"type": f"{__name__}:DrawsAndNormalizes"}, (3,)),
    ({"type": "mlp", "hidden": [16], "norm": "batch", "dropout": 0.3}, (4,)),
    ({"type": "cnn", "norm": "batch", "dropout": 0.2}, (3, 84, 84)),  # the Nature CNN on Atari frames
    ({"type": "lstm", "hidden_size": 8, "num_layers": 2, "dropout": 0.2}, (5, 3)),
    ({"type": "transformer", "d_model": 8, "n_heads": 2, "dropout": 0.2, "pool": "sequence"}, (5, 3)),
    ({"type": "transformer", "d_model": 8, "n_heads": 2}, (3,)),
], ids=["draws-in-forward", "mlp", "cnn", "lstm", "transformer-sequence", "transformer-flat"])
def test_the_probe_leaves_modes_statistics_and_the_global_rngs_as_they_were(spec, in_shape):
    """The same weights, batch-norm statistics, modes and later draws of every global RNG as
    without the probe: a seeded run is bitwise the run it was before the probe existed."""
    def build(make):
        torch.manual_seed(0), np.random.seed(0), random.seed(0)
        net = make(spec, in_shape)
        return net, (torch.rand(2), np.random.rand(2), random.random())

    net, draws = build(build_backbone)
    plain, plain_draws = build(_unprobed)
    assert torch.equal(draws[0], plain_draws[0]) and np.array_equal(draws[1], plain_draws[1])
    assert draws[2] == plain_draws[2]
    assert net.state_dict().keys() == plain.state_dict().keys()
    assert all(torch.equal(v, plain.state_dict()[k]) for k, v in net.state_dict().items())  # num_batches_tracked too
    assert all(m.training for m in net.modules())


class LazyBody(nn.Module):
    """A lazy layer: its weights are drawn in its first forward."""

    def __init__(self, in_shape: tuple[int, ...], width: int = 8):
        super().__init__()
        self.lin = nn.LazyLinear(width)
        self.out_dim = width

    def forward(self, x: Tensor) -> Tensor:
        return self.lin(x.flatten(1))


def test_a_lazy_backbone_keeps_the_draw_of_its_first_forward():
    """The probe puts the RNGs back after it, but not over a lazy module's own first draw: two lazy
    backbones built one after another are not copies of each other."""
    from rlgen.nets import _probe

    torch.manual_seed(0)
    a, b = LazyBody((4,)), LazyBody((4,))
    _probe(a, "a", (4,), per_step=False)
    _probe(b, "b", (4,), per_step=False)
    assert not torch.equal(a.lin.weight, b.lin.weight)
