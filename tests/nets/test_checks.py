"""check_backbone holds a backbone to the README's contract (`rlgen.backbones`): `__init__(in_shape,
...)` and `self.out_dim`; an `in_shape` attribute is rlgen's own habit, not part of it."""

import pytest
import torch
from torch import nn

from rlgen.errors import RlgenError
from rlgen.nets import build_backbone
from rlgen.nets.checks import check_backbone
from tests.test_plugins import example_on_path  # noqa: F401 (a fixture: the example's source on sys.path)


class Plain(nn.Module):
    """(B, 3) -> (B, 5), keeping no in_shape."""

    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        self.out_dim = 5
        self.linear = nn.Linear(in_shape[0], self.out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


@pytest.mark.usefixtures("example_on_path")
def test_the_shipped_example_plugins_backbone_passes():
    net = build_backbone({"type": "rlgen_plugin_example.nets:FourierMLP", "features": 8}, (2,))
    assert check_backbone(net, torch.randn(4, 2)).shape == (4, net.out_dim)


def test_in_shape_is_checked_only_where_a_backbone_keeps_one():
    assert check_backbone(Plain((3,)), torch.randn(4, 3)).shape == (4, 5)
    kept = Plain((3,))
    kept.in_shape = (4,)
    with pytest.raises(RlgenError, match=r"input \(4, 3\) is not \(B, \*in_shape\) with in_shape \(4,\)"):
        check_backbone(kept, torch.randn(4, 3))
    kept.in_shape = [3]
    with pytest.raises(RlgenError, match="in_shape is a list; where a backbone keeps one, it is a tuple"):
        check_backbone(kept, torch.randn(4, 3))
    del kept.out_dim
    with pytest.raises(RlgenError, match=r"Plain: needs an attribute out_dim \(int\)"):
        check_backbone(kept, torch.randn(4, 3))


class Returns(nn.Module):
    """(B, 3) -> whatever `make` makes of a linear layer's (B, 5) output."""

    def __init__(self, make):
        super().__init__()
        self.out_dim, self.linear, self.make = 5, nn.Linear(3, 5), make

    def forward(self, x: torch.Tensor):
        return self.make(self.linear(x))


@pytest.mark.parametrize("make, message", [
    (lambda y: (y > 0).long(), r"^Returns: returns torch.int64 values; forward must return a floating-point tensor$"),
    (lambda y: (y, y), r"^Returns: forward returns a tuple; a backbone returns one tensor$"),
    (lambda y: y / 0, r"^Returns: returns NaN or inf; guard the divisions"),
], ids=["long", "tuple", "inf"])
def test_an_output_that_is_not_one_finite_float_tensor_is_one_line(make, message):
    with pytest.raises(RlgenError, match=message):
        check_backbone(Returns(make), torch.randn(4, 3))
