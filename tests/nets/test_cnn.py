import pytest
import torch

from rlgen.errors import RlgenError
from rlgen.nets.checks import check_backbone
from rlgen.nets.cnn import CNNDecoder, CNNEncoder, conv_out_size
from rlgen.nets.common import ACTIVATIONS, NORMS

# a small net for a small image, so the parametrised tests stay fast
SMALL = {"channels": (4, 8), "kernels": (3, 3), "strides": (2, 1), "hidden": 16}


def test_default_is_nature_cnn_on_atari_frames():
    net = CNNEncoder((4, 84, 84))
    assert net.out_dim == 512
    assert net(torch.zeros(2, 4, 84, 84)).shape == (2, 512)


def test_hidden_zero_gives_the_flatten_size():
    net = CNNEncoder((4, 84, 84), hidden=0)
    assert net.out_dim == 64 * 7 * 7  # 84 -> 20 -> 9 -> 7, as in Mnih et al. 2015
    assert net(torch.zeros(2, 4, 84, 84)).shape == (2, 64 * 7 * 7)


def test_small_digits_with_padding():
    net = CNNEncoder((1, 8, 8), channels=(32, 64), kernels=(3, 3), strides=(2, 2), padding=(1, 1), hidden=0)
    assert net.out_dim == 64 * 2 * 2  # 8 -> 4 -> 2
    check_backbone(net, torch.rand(3, 1, 8, 8))


@pytest.mark.parametrize("size, kernel, stride, padding, out", [(84, 8, 4, 0, 20), (8, 3, 2, 1, 4), (3, 4, 1, 0, 0)])
def test_conv_out_size_matches_torch(size, kernel, stride, padding, out):
    assert conv_out_size(size, kernel, stride, padding) == out
    if out > 0:
        conv = torch.nn.Conv2d(1, 1, kernel, stride, padding)
        assert conv(torch.zeros(1, 1, size, size)).shape[-1] == out


@pytest.mark.parametrize("norm", NORMS)
def test_gradients_reach_every_parameter(norm):
    check_backbone(CNNEncoder((2, 12, 10), norm=norm, **SMALL), torch.rand(4, 2, 12, 10))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_runs(activation):
    check_backbone(CNNEncoder((2, 12, 10), activation=activation, **SMALL), torch.rand(2, 2, 12, 10))


def test_uint8_input_equals_float_input_scaled():
    net = CNNEncoder((2, 12, 10), **SMALL)
    pixels = torch.randint(0, 256, (3, 2, 12, 10), dtype=torch.uint8)
    torch.testing.assert_close(net(pixels), net(pixels.float() / 255.0))
    assert not torch.allclose(net(pixels), net(pixels.float()))  # float input is not rescaled


def test_dropout_acts_in_train_mode_only():
    net, x = CNNEncoder((2, 12, 10), dropout=0.5, **SMALL), torch.rand(4, 2, 12, 10)
    assert not torch.equal(net(x), net(x))
    net.eval()
    torch.testing.assert_close(net(x), net(x), rtol=0, atol=0)


def test_too_small_image_says_how_to_fix():
    with pytest.raises(RlgenError) as err:
        CNNEncoder((3, 6, 6))
    message = str(err.value)
    assert "3x6x6 is too small" in message
    assert "[8, 4, 3]" in message and "[4, 2, 1]" in message
    assert "backbone.kernels" in message and "backbone.strides" in message


def test_unequal_layer_lists_raise():
    with pytest.raises(RlgenError, match="one entry per conv layer"):
        CNNEncoder((1, 32, 32), channels=(8, 8), kernels=(3,), strides=(1, 1))
    with pytest.raises(RlgenError, match="one entry per conv layer"):
        CNNEncoder((1, 32, 32), channels=(8,), kernels=(3,), strides=(1,), padding=(1, 1))


def test_wrong_in_shape_raises():
    with pytest.raises(RlgenError, match=r"in_shape \(C, H, W\)"):
        CNNEncoder((84, 84))


@pytest.mark.parametrize("out_shape", [(1, 8, 8), (1, 28, 28), (3, 64, 64), (3, 84, 84)])
def test_decoder_output_shapes(out_shape):
    net = CNNDecoder(8, out_shape, channels=(16, 8))
    assert net.in_shape == (8,) and net.out_shape == out_shape and net.out_dim == torch.Size(out_shape).numel()
    out = net(torch.randn(2, 8))
    assert out.shape == (2, *out_shape)
    assert out.abs().max() <= 1.0  # tanh by default


def test_decoder_crops_the_centre_when_sizes_overshoot():
    net = CNNDecoder(8, (1, 28, 28), channels=(8, 8, 8)).eval()  # 4 -> 32, cropped to 28
    z = torch.randn(2, 8)
    full = net.ups(net.project_post(net.project(z).reshape(2, *net.start)))  # uncropped
    assert full.shape[-2:] == (32, 32)
    torch.testing.assert_close(net(z), full[:, :, 2:30, 2:30])


@pytest.mark.parametrize("norm", NORMS)
def test_decoder_gradients_reach_every_parameter(norm):
    check_backbone(CNNDecoder(8, (1, 8, 8), channels=(8, 4), norm=norm), torch.randn(4, 8))


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_decoder_every_activation_runs(activation):
    net = CNNDecoder(8, (1, 8, 8), channels=(8,), activation=activation, out_activation=activation)
    check_backbone(net, torch.randn(2, 8))


def test_decoder_without_out_activation_is_unbounded():
    net = CNNDecoder(8, (1, 8, 8), channels=(8,), out_activation=None)
    net.ups[0].bias.data.fill_(3.0)
    assert net(torch.randn(2, 8)).min() > 1.0


def test_decoder_dropout_acts_in_train_mode_only():
    net, z = CNNDecoder(8, (1, 8, 8), channels=(8, 4), norm="none", dropout=0.5), torch.randn(4, 8)
    assert not torch.equal(net(z), net(z))
    net.eval()
    torch.testing.assert_close(net(z), net(z), rtol=0, atol=0)


def test_decoder_needs_a_layer():
    with pytest.raises(RlgenError, match="channels"):
        CNNDecoder(8, (1, 8, 8), channels=())
