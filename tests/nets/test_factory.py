import pytest
import torch
from torch import nn

from rlgen.errors import RlgenError
from rlgen.registry import BACKBONES
from rlgen.nets import (
    DECODERS,
    CNNDecoder,
    CNNEncoder,
    MLP,
    MLPDecoder,
    RNNEncoder,
    TransformerEncoder,
    build_backbone,
    build_decoder,
)
from rlgen.nets.checks import check_backbone

# one config section per type, as the config layer would hand it over (lists, not tuples)
SPECS = [
    ({"type": "mlp", "hidden": [16, 8], "activation": "tanh"}, (4,), MLP, 8),
    (
        {"type": "cnn", "channels": [4, 8], "kernels": [3, 3], "strides": [2, 2], "padding": [1, 1], "hidden": 0},
        (1, 8, 8),
        CNNEncoder,
        8 * 2 * 2,
    ),
    ({"type": "rnn", "hidden_size": 8}, (5, 3), RNNEncoder, 8),
    ({"type": "gru", "hidden_size": 8, "pool": "mean"}, (5, 3), RNNEncoder, 8),
    ({"type": "lstm", "hidden_size": 8, "num_layers": 2}, (5, 3), RNNEncoder, 8),
    ({"type": "transformer", "d_model": 8, "n_heads": 2, "max_len": 10}, (5, 3), TransformerEncoder, 8),
]


def test_registry_names():
    assert set(BACKBONES.names()) >= {"mlp", "cnn", "rnn", "gru", "lstm", "transformer"}
    assert set(DECODERS) == {"cnn", "mlp"}


@pytest.mark.parametrize("spec, in_shape, kind, out_dim", SPECS, ids=[s[0]["type"] for s in SPECS])
def test_build_each_type(spec, in_shape, kind, out_dim):
    net = build_backbone(spec, in_shape)
    assert isinstance(net, kind) and net.out_dim == out_dim and net.in_shape == in_shape
    check_backbone(net, torch.randn(3, *in_shape))


@pytest.mark.parametrize("name", ["rnn", "gru", "lstm"])
def test_recurrent_types_pick_the_cell(name):
    assert build_backbone({"type": name}, (4, 2)).cell == name


def test_spec_is_not_modified():
    spec = {"type": "mlp", "hidden": [8]}
    build_backbone(spec, (4,))
    assert spec == {"type": "mlp", "hidden": [8]}


def test_unknown_type_suggests_and_lists():
    with pytest.raises(RlgenError, match=r"unknown backbone type 'mlpp' \(did you mean 'mlp'\?\).*transformer"):
        build_backbone({"type": "mlpp"}, (4,))


def test_missing_type_lists_the_types():
    with pytest.raises(RlgenError, match="backbone.type"):
        build_backbone({"hidden": [8]}, (4,))


def test_unknown_key_is_named_with_a_suggestion():
    with pytest.raises(RlgenError, match=r"key 'hiden' — did you mean 'hidden'\? — known: hidden, activation"):
        build_backbone({"type": "mlp", "hiden": [8]}, (4,))


def test_cell_is_set_by_the_type_not_the_spec():
    with pytest.raises(RlgenError, match="'cell'"):
        build_backbone({"type": "gru", "cell": "lstm"}, (4, 2))


def test_shapes_come_from_the_caller_not_the_spec():
    with pytest.raises(RlgenError, match="'in_shape'"):
        build_backbone({"type": "mlp", "in_shape": [4]}, (4,))


@pytest.mark.parametrize(
    "spec, kind", [({"type": "cnn", "channels": [8, 4]}, CNNDecoder), ({"type": "mlp", "hidden": [16]}, MLPDecoder)]
)
def test_build_decoder(spec, kind):
    net = build_decoder(spec, 6, (1, 8, 8))
    assert isinstance(net, kind) and net.out_shape == (1, 8, 8)
    assert check_backbone(net, torch.randn(2, 6)).shape == (2, 1, 8, 8)


def test_unknown_decoder_type():
    with pytest.raises(RlgenError, match="did you mean 'cnn'"):
        build_decoder({"type": "cnm"}, 6, (1, 8, 8))


class _DeadParameter(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.in_shape, self.out_dim = (3,), 2
        self.used, self.unused = nn.Linear(3, 2), nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.used(x)


def test_checker_catches_a_parameter_without_gradient():
    with pytest.raises(RlgenError, match="no gradient reaches unused.weight, unused.bias"):
        check_backbone(_DeadParameter(), torch.randn(2, 3))


def test_checker_catches_a_wrong_out_dim():
    net = _DeadParameter()
    net.out_dim = 5
    with pytest.raises(RlgenError, match="output"):
        check_backbone(net, torch.randn(2, 3))
