import pytest
import torch

from rlgen.errors import RlgenError
from rlgen.nets.checks import check_backbone
from rlgen.nets.common import ACTIVATIONS, NORMS
from rlgen.nets.recurrent import CELLS, POOLS, RNNEncoder
from tests.nets.padding import left_pad

CELL_NAMES = list(CELLS)


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("pool, shape", [("last", (3, 16)), ("mean", (3, 16)), ("sequence", (3, 5, 16))])
def test_output_shape_and_gradients(cell, pool, shape):
    net = RNNEncoder((5, 4), cell=cell, hidden_size=16, pool=pool)
    assert net.out_dim == 16 and net.in_shape == (5, 4)
    assert check_backbone(net, torch.randn(3, 5, 4)).shape == shape


def test_flat_input_is_one_step():
    net = RNNEncoder((4,), hidden_size=8)
    x = torch.randn(3, 4)
    assert net(x).shape == (3, 8)
    torch.testing.assert_close(net(x), net(x.unsqueeze(1)))


@pytest.mark.parametrize("cell", CELL_NAMES)
@pytest.mark.parametrize("pool", POOLS)
def test_left_padded_with_mask_equals_unpadded(cell, pool):
    net = RNNEncoder((7, 3), cell=cell, hidden_size=8, num_layers=2, pool=pool)
    x = torch.randn(2, 4, 3)
    padded, mask = left_pad(x, 7, fill=float("nan"))  # NaN: padding must never be read
    alone, together = net(x), net(padded, mask)
    if pool == "sequence":
        assert torch.all(together[:, :3] == 0)  # padding steps are zero
        together = together[:, 3:]
    torch.testing.assert_close(together, alone)


@pytest.mark.parametrize("cell", CELL_NAMES)
def test_padding_without_mask_changes_the_output(cell):
    # shows that the mask is what makes the test above pass: zero padding does not leave a
    # GRU/LSTM (or biased RNN) at its zero state
    net = RNNEncoder((7, 3), cell=cell, hidden_size=8)
    x = torch.randn(2, 4, 3)
    padded, _ = left_pad(x, 7)
    assert not torch.allclose(net(padded), net(x), atol=1e-4)


def test_rows_of_different_lengths_match_each_alone():
    net = RNNEncoder((6, 2), cell="lstm", hidden_size=8, pool="mean")
    short, long_ = torch.randn(1, 2, 2), torch.randn(1, 5, 2)
    a, mask_a = left_pad(short, 6)
    b, mask_b = left_pad(long_, 6)
    both = net(torch.cat([a, b]), torch.cat([mask_a, mask_b]))
    torch.testing.assert_close(both, torch.cat([net(short), net(long_)]))


def test_mean_pool_ignores_padding():
    net = RNNEncoder((6, 2), hidden_size=8, pool="mean")
    x = torch.randn(3, 6, 2)
    mask = torch.tensor([[False, False, True, True, True, True]] * 3)
    changed = x.clone()
    changed[:, :2] = torch.randn(3, 2, 2) * 100
    torch.testing.assert_close(net(changed, mask), net(x, mask))
    assert not torch.allclose(net(changed), net(x))


def test_row_with_no_real_step_gives_zeros():
    net = RNNEncoder((4, 2), hidden_size=8, norm="layer")
    mask = torch.tensor([[False] * 4, [True] * 4])
    out = net(torch.randn(2, 4, 2), mask)
    assert torch.all(out[0] == 0) and torch.all(torch.isfinite(out))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_runs_for_gru(activation):
    check_backbone(RNNEncoder((3, 2), cell="gru", hidden_size=8, activation=activation), torch.randn(2, 3, 2))


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_plain_rnn_uses_activation_as_its_nonlinearity(activation):
    net = RNNEncoder((3, 2), cell="rnn", hidden_size=8, activation=activation)
    assert net.rnn.nonlinearity == activation
    check_backbone(net, torch.randn(2, 3, 2))


def test_plain_rnn_rejects_other_activations():
    with pytest.raises(RlgenError, match="'tanh' or 'relu'"):
        RNNEncoder((3, 2), cell="rnn", activation="gelu")


@pytest.mark.parametrize("norm", NORMS)
@pytest.mark.parametrize("pool", POOLS)
def test_every_norm_runs_with_and_without_mask(norm, pool):
    net = RNNEncoder((5, 2), hidden_size=8, norm=norm, pool=pool)
    x, mask = left_pad(torch.randn(4, 3, 2), 5)
    check_backbone(net, x)
    check_backbone(net, x, mask=mask)


def test_batch_norm_statistics_skip_padding():
    net = RNNEncoder((5, 2), hidden_size=8, norm="batch", pool="sequence")
    x = torch.randn(4, 3, 2)
    padded, mask = left_pad(x, 5, fill=100.0)
    assert net.training  # batch statistics, computed over the real steps only
    torch.testing.assert_close(net(padded, mask)[:, 2:], net(x))


@pytest.mark.parametrize("num_layers", [1, 2])
def test_dropout_acts_in_train_mode_only(num_layers):
    net = RNNEncoder((4, 3), hidden_size=16, num_layers=num_layers, dropout=0.5)
    assert net.rnn.dropout == (0.5 if num_layers > 1 else 0.0)
    x = torch.randn(4, 4, 3)
    assert not torch.equal(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"cell": "gur"}, "did you mean 'gru'"), ({"pool": "max"}, "pool"), ({"norm": "group"}, "norm")],
)
def test_bad_arguments_raise(kwargs, match):
    with pytest.raises(RlgenError, match=match):
        RNNEncoder((4, 3), **kwargs)


def test_bad_in_shape_raises():
    with pytest.raises(RlgenError, match=r"in_shape \(T, F\) or \(F,\)"):
        RNNEncoder((2, 3, 4))


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("masked", [False, True])
def test_every_cell_runs_under_fp16_autocast_on_the_cpu(cell, masked):
    """oneDNN has no fp16 LSTM: under CPU fp16 autocast (a GAN's perf.precision: fp16) the LSTM
    failed at its first forward; it runs in fp32 there, as autocast runs GRU and RNN cells."""
    net = RNNEncoder((5, 4), cell=cell, hidden_size=8)
    x = torch.randn(3, 5, 4)
    mask = torch.ones(3, 5, dtype=torch.bool) if masked else None
    with torch.autocast("cpu", dtype=torch.float16):
        out = net(x, mask)
    out.float().sum().backward()
    assert torch.allclose(out.float(), net(x, mask), atol=1e-2)  # what fp32 gives
