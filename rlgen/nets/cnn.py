"""Convolutional encoder (Nature-CNN-like) and transposed-conv decoder (DCGAN-like)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from rlgen.errors import RlgenError
from rlgen.nets.common import (
    NORMS,
    check_dims,
    check_dropout,
    check_shape,
    make_activation,
    make_norm2d,
    pick,
)


def conv_out_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Spatial size after nn.Conv2d (dilation 1); < 1 means the input was too small."""
    return (size + 2 * padding - kernel) // stride + 1


class CNNEncoder(nn.Module):
    """(B, C, H, W) uint8, bool or float -> (B, out_dim).

    Conv -> norm -> activation per layer, flatten, then Linear(flat, hidden) -> activation ->
    dropout (Mnih et al. 2015 with the defaults). `hidden=0` skips the Linear: out_dim is the
    flatten size. uint8 input is scaled by 1/255; bool becomes 0 / 1; float is used as is. `padding=None` means
    0 for every layer; small images (e.g. 1x8x8 digits) want kernels 3 with padding 1.
    """

    description = "convolutions over (C, H, W) images, then a Linear (Nature DQN by default)"
    sequence = False
    prefers_accelerator = True

    def __init__(
        self,
        in_shape: tuple[int, int, int],
        channels: Sequence[int] = (32, 64, 64),
        kernels: Sequence[int] = (8, 4, 3),
        strides: Sequence[int] = (4, 2, 1),
        hidden: int = 512,
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.0,
        padding: Sequence[int] | None = None,
    ) -> None:
        super().__init__()
        where = "cnn backbone"
        self.in_shape = check_shape(in_shape, (3,), "in_shape (C, H, W)", where)
        channels = check_dims(channels, "channels", where, min_len=1)
        kernels = check_dims(kernels, "kernels", where)
        strides = check_dims(strides, "strides", where)
        padding = (0,) * len(channels) if padding is None else tuple(padding)
        if not len(channels) == len(kernels) == len(strides) == len(padding):
            raise RlgenError(
                f"{where}: channels {list(channels)}, kernels {list(kernels)}, strides {list(strides)}"
                f" and padding {list(padding)} must have one entry per conv layer — make their"
                " lengths equal (backbone.channels, .kernels, .strides, .padding)"
            )
        if hidden < 0:
            raise RlgenError(f"{where}: hidden {hidden} must be >= 0 (0 = no final Linear)")
        pick(NORMS, norm, "norm")
        check_dropout(dropout, where)
        self._check_fits(kernels, strides, padding)

        layers: list[nn.Module] = []
        in_channels = self.in_shape[0]
        for out_channels, k, s, p in zip(channels, kernels, strides, padding):
            layers += [
                # batch norm re-centres each channel, so a bias before it would be dead weight
                nn.Conv2d(in_channels, out_channels, k, s, p, bias=norm != "batch"),
                make_norm2d(norm, out_channels),
                make_activation(activation),
            ]
            in_channels = out_channels
        layers.append(nn.Flatten(start_dim=1))
        self.convs = nn.Sequential(*layers)
        flat = self._flat_size()
        if hidden:
            self.head = nn.Sequential(nn.Linear(flat, hidden), make_activation(activation), nn.Dropout(dropout))
        else:
            # dropout acts once on the features: spatial dropout inside the convs is rare in RL
            self.head = nn.Sequential(nn.Dropout(dropout))
        self.out_dim = hidden or flat

    def _check_fits(self, kernels: tuple[int, ...], strides: tuple[int, ...], padding: tuple[int, ...]) -> None:
        """Raise RlgenError, with the fix, if a conv layer would get a map smaller than its kernel."""
        c, h, w = self.in_shape
        for i, (k, s, p) in enumerate(zip(kernels, strides, padding)):
            h, w = conv_out_size(h, k, s, p), conv_out_size(w, k, s, p)
            if h < 1 or w < 1:
                raise RlgenError(
                    f"cnn backbone: input {c}x{self.in_shape[1]}x{self.in_shape[2]} is too small for"
                    f" kernels {list(kernels)} / strides {list(strides)} / padding {list(padding)}"
                    f" (conv layer {i} has no output) — use a larger image or smaller"
                    " kernels/strides, or more padding (backbone.kernels, backbone.strides,"
                    " backbone.padding)"
                )

    def _flat_size(self) -> int:
        """Features after the flatten, from one dummy forward (as SB3's NatureCNN does)."""
        was_training = self.convs.training
        self.convs.eval()  # batch norm in train mode refuses a batch of one 1x1 map
        with torch.no_grad():
            flat = self.convs(torch.zeros(1, *self.in_shape)).shape[1]
        self.convs.train(was_training)
        return flat

    def forward(self, x: Tensor) -> Tensor:
        """(B, C, H, W) uint8 or float -> (B, out_dim)."""
        if x.dtype == torch.uint8:
            x = x.float() / 255.0  # pixels to [0, 1] inside the net, so buffers can stay uint8
        elif x.dtype == torch.bool:
            x = x.float()  # binary feature maps (MinAtar): 0 / 1
        return self.head(self.convs(x))  # (B, out_dim)


class CNNDecoder(nn.Module):
    """(B, in_dim) -> (B, C, H, W), e.g. as a GAN generator (Radford et al. 2016, DCGAN).

    Linear to channels[0] x h0 x w0 with h0 = ceil(H / 2**n), n = len(channels); then n
    ConvTranspose2d(k=4, s=2, p=1), each doubling the size, the last one to C channels; then a
    centre crop to H x W and `out_activation` (an activation name, or None for none).
    """

    def __init__(
        self,
        in_dim: int,
        out_shape: tuple[int, int, int],
        channels: Sequence[int] = (128, 64),
        activation: str = "relu",
        norm: str = "batch",
        dropout: float = 0.0,
        out_activation: str | None = "tanh",
    ) -> None:
        super().__init__()
        where = "cnn decoder"
        self.in_shape = check_shape((in_dim,), (1,), "in_dim", where, "use a positive latent size")
        self.out_shape = check_shape(out_shape, (3,), "out_shape (C, H, W)", where, "check the image shape")
        self.out_dim = math.prod(self.out_shape)
        channels = check_dims(channels, "channels", where, min_len=1)
        pick(NORMS, norm, "norm")
        check_dropout(dropout, where)
        c, h, w = self.out_shape
        scale = 2 ** len(channels)
        self.start = (channels[0], -(-h // scale), -(-w // scale))  # (C0, h0, w0), sizes rounded up

        def hidden_post(n: int) -> list[nn.Module]:
            return [make_norm2d(norm, n), make_activation(activation), nn.Dropout(dropout)]

        # batch norm re-centres each channel, so a bias right before it would be dead weight
        self.project = nn.Linear(in_dim, math.prod(self.start), bias=norm != "batch")
        self.project_post = nn.Sequential(*hidden_post(channels[0]))
        layers: list[nn.Module] = []
        for i, n_in in enumerate(channels):
            last = i == len(channels) - 1
            n_out = c if last else channels[i + 1]
            layers.append(nn.ConvTranspose2d(n_in, n_out, 4, stride=2, padding=1, bias=last or norm != "batch"))
            if not last:
                layers += hidden_post(n_out)
        layers.append(nn.Identity() if out_activation is None else make_activation(out_activation))
        self.ups = nn.Sequential(*layers)

    def forward(self, z: Tensor) -> Tensor:
        """(B, in_dim) -> (B, C, H, W)."""
        x = self.project(z).reshape(z.shape[0], *self.start)  # (B, C0, h0, w0)
        x = self.ups(self.project_post(x))  # (B, C, h0 * 2**n, w0 * 2**n)
        # Rounding h0 up can overshoot H by up to 2**n - 1 pixels. Crop the centre rather than a
        # corner, so the image is not shifted, and the trimmed rim is the part that gets the
        # fewest transposed-conv taps; resizing instead would blur every pixel.
        _, h, w = self.out_shape
        top, left = (x.shape[2] - h) // 2, (x.shape[3] - w) // 2
        return x[:, :, top : top + h, left : left + w]  # (B, C, H, W)
