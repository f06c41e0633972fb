import pytest
import torch
from torch import nn

from rlgen.errors import RlgenError
from rlgen.nets.common import (
    ACTIVATIONS,
    NORMS,
    as_sequence,
    check_dropout,
    make_activation,
    make_norm,
    make_norm2d,
    masked_mean,
    pick,
)


def test_pick_returns_a_known_name():
    assert pick(["a", "bb"], "bb", "thing") == "bb"


def test_pick_unknown_name_suggests_and_lists_known():
    message = r"unknown norm 'btach' — did you mean 'batch'\? — known: none, batch, layer"
    with pytest.raises(RlgenError, match=message):
        pick(NORMS, "btach", "norm")


def test_pick_without_close_match_still_lists_known():
    with pytest.raises(RlgenError) as err:
        pick(NORMS, "zzzzzz", "norm")
    assert "did you mean" not in str(err.value)
    assert "none, batch, layer" in str(err.value)


def test_activation_registry_names():
    assert set(ACTIVATIONS) == {"relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu"}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_make_activation_builds_a_fresh_module(name):
    first, second = make_activation(name), make_activation(name)
    assert isinstance(first, nn.Module) and first is not second
    x = torch.linspace(-3, 3, 7)
    assert first(x).shape == x.shape


def test_make_activation_unknown_suggests():
    with pytest.raises(RlgenError, match="did you mean 'gelu'"):
        make_activation("gleu")


@pytest.mark.parametrize("name", NORMS)
@pytest.mark.parametrize("shape", [(6, 5), (3, 4, 5)])
def test_make_norm_keeps_shape(name, shape):
    x = torch.randn(shape) * 3 + 2
    assert make_norm(name, 5)(x).shape == x.shape


def test_batch_norm_over_steps_normalises_each_feature():
    x = torch.randn(4, 6, 3) * 5 + 7  # (B, T, F)
    y = make_norm("batch", 3)(x).reshape(-1, 3)
    torch.testing.assert_close(y.mean(0), torch.zeros(3), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(0, unbiased=False), torch.ones(3), atol=1e-3, rtol=0)


@pytest.mark.parametrize("name, kind", [("none", nn.Identity), ("batch", nn.BatchNorm2d), ("layer", nn.GroupNorm)])
def test_make_norm2d(name, kind):
    norm = make_norm2d(name, 4)
    assert isinstance(norm, kind)
    x = torch.randn(2, 4, 5, 5)
    assert norm(x).shape == x.shape


def test_layer_norm2d_normalises_each_sample_over_the_whole_map():
    x = torch.randn(2, 4, 5, 5) * 3 + 1
    y = make_norm2d("layer", 4)(x).flatten(1)
    torch.testing.assert_close(y.mean(1), torch.zeros(2), atol=1e-5, rtol=0)


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_check_dropout_rejects_out_of_range(p):
    with pytest.raises(RlgenError, match="dropout"):
        check_dropout(p, "somewhere")


def test_masked_mean_ignores_padding_even_nan():
    x = torch.tensor([[[float("nan")], [2.0], [4.0]], [[1.0], [1.0], [1.0]]])  # (2, 3, 1)
    mask = torch.tensor([[False, True, True], [False, False, False]])
    torch.testing.assert_close(masked_mean(x, mask), torch.tensor([[3.0], [0.0]]))


def test_as_sequence_adds_a_step_and_checks_the_mask():
    x, mask = as_sequence(torch.zeros(2, 3), torch.ones(2), "here")
    assert x.shape == (2, 1, 3) and mask.shape == (2, 1) and mask.dtype == torch.bool
    with pytest.raises(RlgenError, match="here: mask"):
        as_sequence(torch.zeros(2, 4, 3), torch.ones(2, 5), "here")
