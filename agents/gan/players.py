"""The two players, each an rlgen backbone plus a small head, and an EMA copy of the generator.

    G = Generator(cfg.generator, modality="points", shape=(2,), n_classes=0)
    D = Discriminator(cfg.discriminator, modality="points", shape=(2,), n_classes=0, conditional="none")
    logits = D(G(G.noise(64, gen)))   # (64,)

Images: the CNN decoder draws, the CNN encoder judges. Sequences: a GRU/LSTM/Transformer reads a
noise sequence (B, T, noise_dim) and a linear head turns each step into a sample step; the
discriminator reads the sequence and pools it. Labels condition G by a one-hot concatenated to its
noise, and D by concatenation (one-hot as extra features / channels) or projection.
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rlgen.agents.gan.config import DiscriminatorConfig, GeneratorConfig
from rlgen.agents.gan.regularizers import add_spectral_norm
from rlgen.errors import RlgenError
from rlgen.nets import DECODERS, LinearHead, build_backbone, build_decoder, build_sequence_body, make_activation
from rlgen.transfer import apply_init


def with_label(x: Tensor, y: Tensor | None, n_classes: int, axis: int = -1) -> Tensor:
    """(B, ..., F) and labels (B,) -> (B, ..., F + K): a one-hot appended to the features at every
    position (each step of a sequence, each row of points of any shape). axis=1: (B, C, H, W) ->
    (B, C + K, H, W), the one-hot as K extra channels of every pixel of an image. The layout follows
    the modality, not x.dim(): points of shape (2, 3, 4) are no image."""
    if y is None:
        return x
    at = axis % x.dim()
    hot = F.one_hot(y, n_classes).to(x.dtype).reshape([-1 if i == 0 else n_classes if i == at else 1
                                                       for i in range(x.dim())])  # (B, 1.., K, 1..)
    # -1 keeps the batch axis free (an exported generator takes any batch) and the one-hot as it is
    return torch.cat([x, hot.expand([-1 if i in (0, at) else n for i, n in enumerate(x.shape)])], at)


class Generator(nn.Module):
    """noise (B, noise_dim) or (B, T, noise_dim), labels (B,) or None -> samples (B, *shape)."""

    def __init__(self, cfg: GeneratorConfig, modality: str, shape: tuple[int, ...], n_classes: int = 0):
        super().__init__()
        self.shape, self.n_classes = tuple(shape), n_classes
        spec = cfg.backbone.spec()
        self.sequential = cfg.backbone.sequence
        if self.sequential:
            if modality != "sequence":
                raise RlgenError(f"generator.backbone.type {cfg.backbone.type!r} draws sequences, "
                                 f"but the data are {modality}; use mlp or cnn")
            steps, features = self.shape
            self.noise_shape: tuple[int, ...] = (steps, cfg.noise_dim)
            # every step of the noise sequence becomes one step of the sample
            self.body = build_sequence_body(spec, (steps, cfg.noise_dim + n_classes), "generator.backbone",
                                            where="generator.backbone")
            self.head: nn.Module = LinearHead(self.body.out_dim, features)
            self.out = nn.Identity() if cfg.out_activation is None else make_activation(cfg.out_activation)
        elif cfg.backbone.type in DECODERS:
            self.noise_shape = (cfg.noise_dim,)
            self.body = build_decoder({**spec, "out_activation": cfg.out_activation},
                                      in_dim=cfg.noise_dim + n_classes, out_shape=self.shape,
                                      where="generator.backbone")
            self.head, self.out = nn.Identity(), nn.Identity()
        else:  # a user's backbone: noise vector -> features -> a linear head draws the sample
            self.noise_shape = (cfg.noise_dim,)
            self.body = build_backbone(spec, in_shape=(cfg.noise_dim + n_classes,), where="generator.backbone")
            self.head = LinearHead(self.body.out_dim, self.shape)
            self.out = nn.Identity() if cfg.out_activation is None else make_activation(cfg.out_activation)
        apply_init(self.body, cfg.backbone.init, "generator.backbone")

    @property
    def backbone(self) -> nn.Module:
        """Its body: the decoder, or the sequence backbone (what transfer moves into another role)."""
        return self.body

    def noise(self, batch: int, generator: torch.Generator | None = None, device: torch.device | None = None) -> Tensor:
        """(batch, *noise_shape) standard normal noise."""
        return torch.randn(batch, *self.noise_shape, generator=generator, device=device)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, *noise_shape), (B,) or None -> (B, *shape)."""
        return self.out(self.head(self.body(with_label(z, y, self.n_classes))))


class Discriminator(nn.Module):
    """samples (B, *shape), labels (B,) or None -> logits (B,)."""

    def __init__(self, cfg: DiscriminatorConfig, modality: str, shape: tuple[int, ...], n_classes: int = 0,
                 conditional: str = "none"):
        super().__init__()
        if getattr(cfg.backbone, "pool", None) == "sequence":
            raise RlgenError("discriminator.backbone.pool 'sequence' gives no single judgement; use last or mean")
        self.n_classes = n_classes
        self.concat = n_classes if conditional == "concat" else 0
        image = modality == "image"
        self.label_axis = 1 if image else -1  # the one-hot as channels of an image, as features otherwise
        in_shape = list(shape)
        in_shape[0 if image else -1] += self.concat  # (C, H, W) or (..., F): the sample without its batch axis
        self.body = build_backbone(cfg.backbone.spec(), in_shape=tuple(in_shape), where="discriminator.backbone")
        apply_init(self.body, cfg.backbone.init, "discriminator.backbone")  # before spectral norm renames weights
        self.head = LinearHead(self.body.out_dim, ())
        # projection discriminator: logit = psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018)
        self.embed = nn.Embedding(n_classes, self.body.out_dim) if conditional == "projection" else None
        if cfg.spectral_norm:
            add_spectral_norm(self.body)  # a frozen (transferred) body stays as its source run had it
            add_spectral_norm(self.head)

    @property
    def backbone(self) -> nn.Module:
        """Its trunk (what transfer moves into another role)."""
        return self.body

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """(B, *shape), (B,) or None -> (B,)."""
        h = self.body(with_label(x, y, self.n_classes, self.label_axis) if self.concat else x)  # (B, out_dim)
        logit = self.head(h)  # (B,)
        if self.embed is not None and y is not None:
            logit = logit + (self.embed(y) * h).sum(1)
        return logit


class EMA:
    """An exponential moving average of a module's weights (Karras et al. 2018; Yazici et al. 2019):
    sampling from it smooths the generator's oscillation around the equilibrium."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).requires_grad_(False).eval()

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        mine, theirs = list(self.module.parameters()), list(source.parameters())
        torch._foreach_lerp_(mine, [p.detach() for p in theirs], 1.0 - self.decay)
        for b, s in zip(self.module.buffers(), source.buffers()):
            b.copy_(s)

    @torch.no_grad()
    def standing_stats(self, inputs: Callable[[], tuple[Tensor, ...]], batches: int) -> None:
        """Recompute the copy's batch-norm statistics from its own activations on `batches` input
        batches (BigGAN's "standing statistics", Brock et al. 2019). `update` copies the trained
        G's running statistics, which belong to G's weights, not to the averaged ones: sampling in
        eval mode with them shifts every channel (on the digits DCGAN, Fréchet 3.2 against 2.5)."""
        self.module.train()  # a frozen (transferred) backbone stays in eval mode: its statistics stay
        norms = [m for m in self.module.modules()
                 if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats and m.training]
        if not norms:
            self.module.eval()
            return
        # Only the batch norms run in train mode. Dropout stays off, as when the copy samples, and
        # the pass draws nothing from torch's global RNG, which training's dropout reads: a run
        # resumed after an evaluation repeats the uninterrupted one bit for bit.
        for m in self.module.modules():
            if not isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.training = False
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a plain average over the batches
        for _ in range(batches):
            self.module(*inputs())
        self.module.eval()
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
