"""What the two pretraining kinds share: a split data source, one model and its optimizer, a loop
of minibatch steps, and exact save / resume."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rlgen.envs.datasets import Split, make_source
from rlgen.envs.source_checks import check_rows_are_samples, modality_of, shape_problems
from rlgen.errors import RlgenError
from rlgen.experiment import ExperimentBase, RunContext
from rlgen.optim import trained_lr
from rlgen.registry import SOURCES


class DataExperiment(ExperimentBase):
    """A kind that fits one model to a data source by minibatch steps. `global_step` counts them.

    Subclasses build the model (`build`) and say what one batch costs (`loss`); the data are drawn
    from the training part of a fixed split with the run's own numpy generator, noise (denoising,
    the VAE's samples) from a torch generator of its own, and dropout from torch's global RNG,
    which the runner checkpoints, so a resumed run repeats the uninterrupted one bit for bit.
    """

    episodic = False  # an evaluation scores the held-out part of the data

    def __init__(self, cfg: Any):
        super().__init__(cfg)
        self.model: nn.Module | None = None

    reads_targets: bool = True  # whether training reads the source's `y` (the autoencoder does not)

    @property
    def prefers_accelerator(self) -> bool:
        return any(b.prefers_accelerator for b in self.backbones())

    def backbones(self) -> list[Any]:
        """The backbone config sections (for device choice)."""
        return list(self.backbone_paths(self.cfg).values())

    @classmethod
    def source_modality(cls, cfg: Any) -> str | None:
        return modality_of(SOURCES.get(cfg.data.source))

    @classmethod
    def check(cls, cfg: Any) -> list[str]:
        """A source class that declares its modality and sample shape (class attributes) is judged when
        the config loads; any other once it is built (setup)."""
        builder = SOURCES.get(cfg.data.source)
        modality, shape = modality_of(builder), getattr(builder, "shape", None)
        problems = batch_norm_problems(cls.backbone_paths(cfg), cfg.fit.batch_size)
        if modality is None or not isinstance(shape, (tuple, list)):
            return problems
        return problems + shape_problems(cfg.data.source, modality, shape)

    @classmethod
    def backbone_paths(cls, cfg: Any) -> dict[str, Any]:
        """The backbone config sections by their dotted paths (for config checks)."""
        return {}

    # --- the protocol -----------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        self.ctx, self.device = ctx, ctx.device
        source = make_source(cfg.data.source, **cfg.data.kwargs)
        # the shape the networks, metrics and pictures read (an image (C, H, W), a sequence (T, F)),
        # before any network is built: one line, not a traceback at the first evaluation
        if problems := shape_problems(cfg.data.source, modality_of(source), source.shape):
            raise RlgenError("; ".join(problems))
        # a finite source's split reads `x` / `y` as they are: they must be what sample() gives (when
        # training: a finished run trained on those rows opens whatever its source's sample() does)
        if ctx.training:
            check_rows_are_samples(cfg.data.source, source, seed=cfg.data.split_seed, targets=self.reads_targets)
        # held-out draws and the first training batch are checked against the source's declaration
        self.data = Split(source, cfg.data.validation, cfg.data.test, cfg.data.split_seed, cfg.data.n_held_out,
                          name=cfg.data.source)
        if len(self.data.validation[0]) == 0:
            raise RlgenError(self._no_validation(source))
        self.model = self.build(self.data).to(self.device)
        self.opt = cfg.optim.build(self.model.parameters())
        self.rng = np.random.default_rng(ctx.seed)
        self.noise_gen = torch.Generator(self.device).manual_seed(ctx.seed + 1)

    def _no_validation(self, source: Any) -> str:
        """Why the validation split is empty: no share asked for, or a finite source too small for it."""
        share, x = self.cfg.data.validation, getattr(source, "x", None)
        if share > 0 and isinstance(x, np.ndarray):
            return (f"data source {self.cfg.data.source!r} holds {len(x)} samples, too few to hold out any for "
                    f"validation (data.validation {share:g} of {len(x)} rounds to 0), and these kinds evaluate on "
                    "held-out data; give the source more samples")
        return "data.validation is 0: these kinds evaluate on held-out data; set data.validation > 0"

    def build(self, data: Split) -> nn.Module:
        raise NotImplementedError

    def loss(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        """The loss of one training batch, and other per-batch figures to average over the unit."""
        raise NotImplementedError

    def train_unit(self) -> dict[str, float]:
        cfg = self.cfg
        left = max(0.0, 1.0 - self.global_step / cfg.train.total_steps)
        for group in self.opt.param_groups:
            group["lr"] = cfg.optim.lr_at(left)  # groups with their own lr keep their ratio (rlgen/optim.py)
        self.model.train()
        sums: dict[str, Tensor] = {}
        steps = 0
        while steps < cfg.fit.steps_per_unit and self.global_step < cfg.train.total_steps:
            x, y = self.tensors(*self.data.sample(cfg.fit.batch_size, self.rng))
            loss, extra = self.loss(x, y)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            for k, v in {"loss/total": loss, **extra}.items():
                sums[k] = sums.get(k, 0.0) + v.detach()
            steps += 1
            self.global_step += 1
        # one host sync per unit
        return {k: float(v) / steps for k, v in sums.items()} | {"train/lr": trained_lr(self.opt)}

    def tensors(self, x: np.ndarray, y: np.ndarray | None) -> tuple[Tensor, Tensor | None]:
        xt = torch.as_tensor(x, dtype=torch.float32, device=self.device)
        return xt, (None if y is None else torch.as_tensor(y, device=self.device))

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optim": self.opt.state_dict(),
            "global_step": self.global_step,
            "rng": self.rng.bit_generator.state,
            "noise_gen": self.noise_gen.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["optim"])
        self.global_step = int(state["global_step"])
        self.rng.bit_generator.state = state["rng"]
        self.noise_gen.set_state(state["noise_gen"])

    # --- evaluation helpers -------------------------------------------------------------------

    @torch.no_grad()
    def batched(self, fn: Any, x: np.ndarray, y: np.ndarray | None = None, size: int = 1024) -> list[Any]:
        """`fn(x_batch, y_batch)` over held-out data in eval mode, chunk by chunk."""
        was = self.model.training
        self.model.eval()
        out = []
        try:
            for i in range(0, len(x), size):
                out.append(fn(*self.tensors(x[i : i + size], None if y is None else y[i : i + size])))
        finally:
            self.model.train(was)
        return out


def batch_norm_problems(backbones: dict[str, Any], batch_size: int) -> list[str]:
    """Batch norm in training mode refuses a batch of one row (torch: "Expected more than 1 value
    per channel"), as the GAN kind says of objective.batch_size: an mlp's, over (B, F) features.
    A cnn's (B x H x W values) or a sequence backbone's (B x T) takes one row."""
    return [f"{where}.norm: batch norm needs batches of 2 or more; fit.batch_size is {batch_size} (raise it, or use "
            "norm: layer)" for where, b in backbones.items()
            if getattr(b, "norm", None) == "batch" and getattr(b, "type", None) == "mlp" and batch_size < 2]
