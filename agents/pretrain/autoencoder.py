"""`kind: autoencoder` — an encoder backbone and a decoder, plain, denoising or variational, on any
data source. Its `encoder` moves into other roles (an RL policy, a classifier, a discriminator)
with `init: {run: ..., role: encoder}`.

    x -> encoder.backbone -> Linear -> code (B, latent)          [VAE: (mu, logvar), z = mu + sigma eps]
    code -> decoder (MLP, transposed conv, sequence backbone) -> reconstruction (B, *shape)

Metrics: `loss/reconstruction` (per value, training batches), `loss/kl` (VAE), and on the held-out
split `eval/recon_mse` (mean squared error per value) with `eval/recon_bce` for binary data;
pictures of inputs beside reconstructions, and of samples from the prior for the VAE.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rlgen.agents.pretrain import pictures
from rlgen.agents.pretrain.base import DataExperiment
from rlgen.agents.pretrain.config import AutoencoderConfig
from rlgen.agents.pretrain.losses import kl_normal, reconstruction, reparameterize
from rlgen.envs.datasets import Split
from rlgen.errors import RlgenError
from rlgen.logging import Image
from rlgen.nets import DECODERS, LinearHead, backbone_traits, build_backbone, build_decoder, make_activation
from rlgen.transfer import apply_init, trunk


class Encoder(nn.Module):
    """(B, *shape) -> (B, out_dim): a backbone, then a Linear. `backbone` is what transfer moves."""

    def __init__(self, backbone: nn.Module, out_dim: int):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(backbone.out_dim, out_dim)
        self.in_shape, self.out_dim = backbone.in_shape, out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.backbone(x))  # (B, out_dim)


class Autoencoder(nn.Module):
    """The encoder and decoder together (one module, one optimizer)."""

    def __init__(self, encoder: Encoder, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder


class HeadedDecoder(nn.Sequential):
    """(B, latent) -> (B, *shape): any backbone over the code, a linear head, an activation. `backbone`
    is what transfer moves, as a GAN generator on the same backbone has it."""

    @property
    def backbone(self) -> nn.Module:
        return self[0]


def build_decoder_for(spec: dict[str, Any], latent: int, shape: tuple[int, ...], out_activation: str | None) -> nn.Module:
    """(B, latent) -> (B, *shape): rlgen's decoders (mlp, transposed-conv cnn, sequence backbones),
    or any other backbone over the code followed by a linear head."""
    name = spec["type"]
    if name in DECODERS or backbone_traits(name)[0]:
        return build_decoder({**spec, "out_activation": out_activation}, in_dim=latent, out_shape=shape,
                             where="decoder.backbone")
    body = build_backbone(spec, in_shape=(latent,), where="decoder.backbone")
    act = nn.Identity() if out_activation is None else make_activation(out_activation)
    return HeadedDecoder(body, LinearHead(body.out_dim, shape), act)


class AutoencoderExperiment(DataExperiment):
    """An encoder backbone and a decoder, plain, denoising or variational, on any data source."""

    config_model = AutoencoderConfig
    reads_targets = False  # a source's `y` is its own business

    @classmethod
    def backbone_paths(cls, cfg: AutoencoderConfig) -> dict[str, Any]:
        return {"encoder.backbone": cfg.encoder.backbone, "decoder.backbone": cfg.decoder.backbone}

    @classmethod
    def check(cls, cfg: AutoencoderConfig) -> list[str]:
        problems = super().check(cfg)
        if getattr(cfg.encoder.backbone, "pool", None) == "sequence":
            problems.append("encoder.backbone.pool: 'sequence' gives one code per step; use last or mean")
        if cfg.objective.reconstruction == "bce" and cfg.decoder.out_activation is not None:
            problems.append("decoder.out_activation: bce reads the decoder's outputs as logits; set it to null")
        modality = cls.source_modality(cfg)
        if modality is not None and cfg.encoder.backbone.type == "cnn" and modality != "image":
            problems.append(f"encoder.backbone.type: 'cnn' is for images, but {cfg.data.source!r} gives {modality}")
        return problems

    def build(self, data: Split) -> nn.Module:
        cfg = self.cfg
        shape = data.shape
        latent = cfg.encoder.latent_dim
        variational = cfg.objective.type == "variational"
        backbone = build_backbone(cfg.encoder.backbone.spec(), in_shape=shape, where="encoder.backbone")
        apply_init(backbone, cfg.encoder.backbone.init, "encoder.backbone")
        decoder = build_decoder_for(cfg.decoder.backbone.spec(), latent, shape, cfg.decoder.out_activation)
        # the decoder's trunk, as a GAN generator's: the mlp / cnn decoder whole, a sequence or other
        # backbone without its output layer (decoder <-> generator transfer)
        apply_init(trunk(decoder), cfg.decoder.backbone.init, "decoder.backbone")
        x = data.validation[0]
        self.range = (float(x.min()), float(x.max())) if len(x) else (0.0, 1.0)  # for pictures
        if cfg.objective.reconstruction == "bce" and (self.range[0] < 0 or self.range[1] > 1):
            raise RlgenError(f"objective.reconstruction: bce needs data in [0, 1], but {cfg.data.source!r} spans "
                             f"[{self.range[0]:g}, {self.range[1]:g}]; use mse")
        return Autoencoder(Encoder(backbone, 2 * latent if variational else latent), decoder)

    # --- training -------------------------------------------------------------------------------

    def encode(self, x: Tensor, sample: bool) -> tuple[Tensor, Tensor, Tensor | None]:
        """(code z, mu, logvar or None); the VAE samples z only when `sample`."""
        h = self.model.encoder(x)
        if self.cfg.objective.type != "variational":
            return h, h, None
        mu, logvar = h.chunk(2, dim=1)
        z = reparameterize(mu, logvar, self.noise_gen) if sample else mu
        return z, mu, logvar

    def loss(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        obj = self.cfg.objective
        seen = x
        if obj.type == "denoising":  # learn to undo the noise (Vincent et al. 2008)
            seen = x + obj.noise_std * torch.randn(x.shape, generator=self.noise_gen, device=x.device)
        z, mu, logvar = self.encode(seen, sample=True)
        recon = reconstruction(self.model.decoder(z), x, obj.reconstruction)  # (B,)
        values = math.prod(x.shape[1:])
        extra = {"loss/reconstruction": recon.mean() / values}
        total = recon.mean()
        if logvar is not None:
            kl = kl_normal(mu, logvar).mean()
            total = total + obj.kl_weight * kl
            extra["loss/kl"] = kl
        return total, extra

    # --- evaluation -----------------------------------------------------------------------------

    def reconstruct(self, x: Tensor, _y: Any = None) -> Tensor:
        """The decoder's picture of x, from the code's mean (no noise), as data values."""
        return self._decode(self.encode(x, sample=False)[0])

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, Any]:
        x, _ = self.data.validation
        recon = np.concatenate([r.cpu().numpy() for r in self.batched(self.reconstruct, x)])
        out: dict[str, Any] = {"eval/recon_mse": float(np.mean((recon - x) ** 2))}
        if self.cfg.objective.reconstruction == "bce":
            p = np.clip(recon, 1e-7, 1 - 1e-7)
            out["eval/recon_bce"] = float(np.mean(-(x * np.log(p) + (1 - x) * np.log(1 - p))))
        if self.cfg.objective.type == "variational":
            kls = self.batched(lambda xb, _y: kl_normal(*self.encode(xb, sample=False)[1:]), x)
            out["eval/kl"] = float(torch.cat(kls).mean())
        if self.cfg.eval.pictures and self.ctx.rank == 0 and self.ctx.training:  # a loaded run draws nothing into its media/
            out.update(self._pictures(x, recon))
        return out

    def _pictures(self, x: np.ndarray, recon: np.ndarray) -> dict[str, Image]:
        n, step, media = self.cfg.eval.n_pictures, self.global_step, self.ctx.media_dir
        title = f"{self.cfg.name} step {step:,}"
        lo, hi = self.range
        path = pictures.reconstructions(x[:n], recon[:n], self.data.modality or "points",
                                        media / f"reconstructions_step_{step:08d}.png", title, lo, hi)
        out = {"eval/reconstructions": Image(path, caption=title + ": inputs, reconstructions")}
        if self.cfg.objective.type == "variational":
            gen = torch.Generator(self.device).manual_seed(self.cfg.seed + 777)
            z = torch.randn(n, self.cfg.encoder.latent_dim, generator=gen, device=self.device)
            fake = self.batched(lambda zb, _y: self._decode(zb), z.cpu().numpy())[0].cpu().numpy()
            path = pictures.samples(fake, self.data.modality or "points", media / f"samples_step_{step:08d}.png",
                                    title, lo, hi, x[:n])
            out["eval/samples"] = Image(path, caption=title + ": samples from the prior")
        return out

    def _decode(self, z: Tensor) -> Tensor:
        """Codes -> data values (bce decoders give logits: their sigmoid)."""
        out = self.model.decoder(z)
        return torch.sigmoid(out) if self.cfg.objective.reconstruction == "bce" else out

    def modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.model.encoder, "decoder": self.model.decoder}
