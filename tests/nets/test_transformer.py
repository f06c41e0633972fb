import pytest
import torch

from rlgen.errors import RlgenError
from rlgen.nets.checks import check_backbone
from rlgen.nets.common import ACTIVATIONS, NORMS
from rlgen.nets.transformer import POOLS, POSITIONALS, TransformerEncoder, sinusoidal_table
from tests.nets.padding import left_pad

SMALL = {"d_model": 16, "n_heads": 2, "n_layers": 2, "ff_dim": 32}


@pytest.mark.parametrize("pool, shape", [("last", (3, 16)), ("mean", (3, 16)), ("sequence", (3, 6, 16))])
@pytest.mark.parametrize("positional", POSITIONALS)
def test_output_shape_and_gradients(pool, shape, positional):
    net = TransformerEncoder((6, 5), pool=pool, positional=positional, **SMALL)
    assert net.out_dim == 16 and net.in_shape == (6, 5) and net.max_len == 6
    assert check_backbone(net, torch.randn(3, 6, 5)).shape == shape


def test_flat_input_is_one_step():
    net = TransformerEncoder((5,), **SMALL)
    assert net.max_len == 1
    x = torch.randn(3, 5)
    assert net(x).shape == (3, 16)
    torch.testing.assert_close(net(x), net(x.unsqueeze(1)))


def test_causal_future_steps_do_not_change_the_past():
    net = TransformerEncoder((6, 3), pool="sequence", **SMALL)
    x = torch.randn(2, 6, 3)
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 3, 3) * 10
    before, after = net(x), net(changed)
    torch.testing.assert_close(after[:, :3], before[:, :3])
    assert not torch.allclose(after[:, 3:], before[:, 3:])


def test_non_causal_future_steps_change_the_past():
    net = TransformerEncoder((6, 3), pool="sequence", causal=False, **SMALL)
    x = torch.randn(2, 6, 3)
    changed = x.clone()
    changed[:, 3:] = torch.randn(2, 3, 3) * 10
    assert not torch.allclose(net(changed)[:, :3], net(x)[:, :3], atol=1e-4)


@pytest.mark.parametrize("positional", POSITIONALS)
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("pool", POOLS)
def test_left_padded_with_mask_equals_unpadded(positional, causal, pool):
    net = TransformerEncoder((7, 3), positional=positional, causal=causal, pool=pool, **SMALL)
    x = torch.randn(2, 4, 3)
    padded, mask = left_pad(x, 7, fill=float("nan"))  # NaN: padding must never be read
    alone, together = net(x), net(padded, mask)
    if pool == "sequence":
        assert torch.all(together[:, :3] == 0)  # padding steps are zero
        together = together[:, 3:]
    torch.testing.assert_close(together, alone)


def test_padding_without_mask_changes_the_output():
    net = TransformerEncoder((7, 3), **SMALL)
    x = torch.randn(2, 4, 3)
    padded, _ = left_pad(x, 7, fill=1.0)
    assert not torch.allclose(net(padded), net(x), atol=1e-4)


def test_rows_of_different_lengths_match_each_alone():
    net = TransformerEncoder((6, 2), pool="mean", **SMALL)
    short, long_ = torch.randn(1, 2, 2), torch.randn(1, 5, 2)
    a, mask_a = left_pad(short, 6)
    b, mask_b = left_pad(long_, 6)
    both = net(torch.cat([a, b]), torch.cat([mask_a, mask_b]))
    torch.testing.assert_close(both, torch.cat([net(short), net(long_)]))


@pytest.mark.parametrize("pool", POOLS)
def test_row_with_no_real_step_gives_zeros_not_nan(pool):
    net = TransformerEncoder((4, 2), pool=pool, **SMALL)
    mask = torch.tensor([[False] * 4, [True] * 4])
    out = net(torch.randn(2, 4, 2), mask)
    assert torch.all(torch.isfinite(out)) and torch.all(out[0] == 0)


@pytest.mark.parametrize("causal", [True, False])
def test_every_query_keeps_a_key_so_softmax_cannot_be_nan(causal):
    net = TransformerEncoder((5, 2), causal=causal, **SMALL)
    mask = torch.tensor([[False, False, True, True, True], [False] * 5])
    blocked = net._attention_mask(mask, 5, mask.device)  # (B * heads, T, T)
    assert blocked.shape == (2 * SMALL["n_heads"], 5, 5)
    assert (~blocked).any(-1).all()
    assert blocked[0, 4, :2].all()  # a real query never sees padding keys


def test_sequence_longer_than_max_len_says_how_to_fix():
    net = TransformerEncoder((4, 2), **SMALL)
    with pytest.raises(RlgenError, match=r"6 steps is longer than max_len 4 — set backbone.max_len >= 6"):
        net(torch.randn(2, 6, 2))
    longer = TransformerEncoder((4, 2), max_len=8, **SMALL)
    assert longer(torch.randn(2, 6, 2)).shape == (2, 16)


def test_a_sequence_length_known_when_built_is_held_to_max_len_then():
    with pytest.raises(RlgenError, match=r"^transformer backbone: sequence of 6 steps is longer than max_len 4 — "
                                         r"set backbone.max_len >= 6"):
        TransformerEncoder((6, 2), max_len=4, **SMALL)  # not at the first forward
    assert TransformerEncoder((6, 2), max_len=6, **SMALL).max_len == 6
    assert TransformerEncoder((6,), max_len=1, **SMALL).max_len == 1  # a flat input is one step


def test_sinusoidal_table_values():
    table = sinusoidal_table(5, 6)
    torch.testing.assert_close(table[0], torch.tensor([0.0, 1.0] * 3))  # sin 0, cos 0
    torch.testing.assert_close(table[3, 0], torch.sin(torch.tensor(3.0)))
    assert sinusoidal_table(3, 5).shape == (3, 5)  # odd d_model


def test_sinusoidal_table_is_not_trained_or_saved():
    net = TransformerEncoder((4, 2), positional="sinusoidal", **SMALL)
    assert all("pos_table" not in name for name, _ in net.named_parameters())
    assert "pos_table" not in net.state_dict()


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_runs(activation):
    check_backbone(TransformerEncoder((3, 2), activation=activation, **SMALL), torch.randn(2, 3, 2))


@pytest.mark.parametrize("norm", NORMS)
def test_every_norm_runs_with_and_without_mask(norm):
    net = TransformerEncoder((5, 2), norm=norm, **SMALL)
    x, mask = left_pad(torch.randn(4, 3, 2), 5)
    check_backbone(net, x)
    check_backbone(net, x, mask=mask)


def test_dropout_acts_in_train_mode_only():
    net, x = TransformerEncoder((4, 3), dropout=0.5, **SMALL), torch.randn(4, 4, 3)
    assert not torch.equal(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"d_model": 10, "n_heads": 4}, "divisible"),
        ({"positional": "rotary"}, "positional"),
        ({"pool": "max"}, "pool"),
        ({"activation": "swish"}, "activation"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(RlgenError, match=match):
        TransformerEncoder((4, 3), **{**SMALL, **kwargs})
