import pytest
import torch

from rlgen.nets.heads import LinearHead


@pytest.mark.parametrize("out_shape, shape", [(3, (5, 3)), ((2, 4), (5, 2, 4)), ((), (5,))])
def test_output_shape(out_shape, shape):
    head = LinearHead(8, out_shape)
    assert head(torch.randn(5, 8)).shape == shape


def test_applies_to_the_last_dim_of_a_sequence():
    head = LinearHead(8, 3)
    x = torch.randn(2, 6, 8)
    out = head(x)
    assert out.shape == (2, 6, 3)
    torch.testing.assert_close(out[:, 4], head(x[:, 4]))


@pytest.mark.parametrize("gain", [0.01, 1.0, 2.0])
def test_orthogonal_init_with_gain(gain):
    head = LinearHead(16, 4, init_gain=gain)
    w = head.linear.weight  # (4, 16): orthonormal rows, scaled
    torch.testing.assert_close(w @ w.T, gain**2 * torch.eye(4), atol=1e-5, rtol=1e-5)
    assert torch.all(head.linear.bias == 0)


def test_small_gain_gives_small_outputs():
    x = torch.randn(256, 16)
    policy, value = LinearHead(16, 4, init_gain=0.01), LinearHead(16, 4, init_gain=1.0)
    assert policy(x).std() < 0.02
    assert 0.5 < value(x).std() < 2.0
