import pytest
import torch
from torch import nn

from rlgen.errors import RlgenError
from rlgen.nets.checks import check_backbone
from rlgen.nets.common import ACTIVATIONS, NORMS
from rlgen.nets.mlp import MLP, MLPDecoder


@pytest.mark.parametrize("in_shape", [(4,), (3, 5), (2, 3, 4)])
@pytest.mark.parametrize("hidden, out_dim", [((16, 8), 8), ((7,), 7), ((), None)])
def test_output_shape(in_shape, hidden, out_dim):
    net = MLP(in_shape, hidden=hidden)
    expected = out_dim or torch.Size(in_shape).numel()  # hidden=() only flattens
    assert net.out_dim == expected and net.in_shape == in_shape
    assert net(torch.randn(5, *in_shape)).shape == (5, expected)


@pytest.mark.parametrize("norm", NORMS)
def test_gradients_reach_every_parameter(norm):
    check_backbone(MLP((3, 4), hidden=(16, 8), norm=norm), torch.randn(6, 3, 4))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_runs(activation):
    check_backbone(MLP((4,), hidden=(8,), activation=activation), torch.randn(3, 4))


def test_layer_order_is_linear_norm_activation_dropout():
    kinds = [type(m) for m in MLP((4,), hidden=(8,), activation="tanh", norm="layer", dropout=0.1).layers]
    assert kinds == [nn.Flatten, nn.Linear, nn.LayerNorm, nn.Tanh, nn.Dropout]


def test_dropout_acts_in_train_mode_only():
    net, x = MLP((4,), hidden=(32, 32), dropout=0.5), torch.randn(8, 4)
    assert not torch.equal(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"norm": "btach"}, "did you mean 'batch'"),
        ({"activation": "rleu"}, "did you mean 'relu'"),
        ({"dropout": 1.0}, "dropout"),
        ({"hidden": (8, 0)}, "hidden"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(RlgenError, match=match):
        MLP((4,), **kwargs)


def test_bad_activation_raises_even_without_layers():
    with pytest.raises(RlgenError, match="activation"):
        MLP((4,), hidden=(), activation="nope")


def test_bad_in_shape_raises():
    with pytest.raises(RlgenError, match="in_shape"):
        MLP((4, 0))


@pytest.mark.parametrize("out_shape", [(5,), (1, 8, 8), (2, 3)])
def test_decoder_shape_and_gradients(out_shape):
    net = MLPDecoder(6, out_shape, hidden=(16,))
    assert net.in_shape == (6,) and net.out_shape == out_shape
    out = check_backbone(net, torch.randn(4, 6))
    assert out.shape == (4, *out_shape)


def test_decoder_out_activation():
    z = torch.randn(64, 6) * 10
    bounded = MLPDecoder(6, (3,), hidden=(16,), out_activation="tanh")(z)
    assert bounded.abs().max() <= 1.0
    raw = MLPDecoder(6, (3,), hidden=(16,), out_activation=None)
    raw.out.bias.data.fill_(5.0)  # a value tanh could not produce
    assert raw(z).abs().max() > 1.0
