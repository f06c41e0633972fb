"""An experiment kind: fit a Gaussian mixture to a data source by gradient descent on its NLL.

Small but complete: a config model, a config check, resumable state, `loss/...` and `eval/...`
metrics. rlgen's runner does the rest (seeds, run directory, logging, evaluation schedule,
checkpoints, resume, early stopping, signals).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn
from torch.distributions import Categorical, Independent, MixtureSameFamily, Normal

from rlgen.agents.gan.config import DataConfig
from rlgen.config import ExperimentConfig, OptimConfig, Section
from rlgen.envs.datasets import make_source, modality_of
from rlgen.experiment import ExperimentBase, RunContext
from rlgen.registry import SOURCES


class MixtureSection(Section):
    components: int = Field(8, gt=0, description="Gaussians in the mixture")
    batch_size: int = Field(256, gt=0, description="samples per gradient step")
    steps_per_unit: int = Field(50, gt=0, description="gradient steps per training unit (one logged row)")
    eval_samples: int = Field(4096, gt=0, description="held-out samples scored at each evaluation")


class DensityConfig(ExperimentConfig):
    kind: str  # "density", or this class's import path
    data: DataConfig  # rlgen's own section: a source name or import path, and its kwargs
    model: MixtureSection = MixtureSection()
    optim: OptimConfig = OptimConfig(type="adam", lr=0.02)
    # what a config naming no train.early_stop.metric stops on and keeps its best by: a metric evaluate() returns
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/nll", "min")


class GaussianMixture(nn.Module):
    """K diagonal Gaussians in D dimensions; `forward(x)` is log p(x), (B, D) -> (B,)."""

    def __init__(self, means: torch.Tensor):
        super().__init__()
        k, d = means.shape
        self.logits = nn.Parameter(torch.zeros(k))
        self.means = nn.Parameter(means.clone())
        self.log_stds = nn.Parameter(torch.zeros(k, d))

    def distribution(self) -> MixtureSameFamily:
        return MixtureSameFamily(Categorical(logits=self.logits),
                                 Independent(Normal(self.means, self.log_stds.exp()), 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.distribution().log_prob(x)


class DensityExperiment(ExperimentBase):
    """A Gaussian mixture fitted to a points data source by gradient descent on its negative log-likelihood."""

    config_model = DensityConfig
    episodic = False  # its evaluation scores held-out samples: `--episodes` warns that it plays none

    @classmethod
    def check(cls, cfg: DensityConfig) -> list[str]:
        # a builder that declares its modality is judged before anything is built
        modality = modality_of(SOURCES.get(cfg.data.source))
        if modality not in (None, "points"):
            return [f"data.source: {cfg.data.source!r} gives {modality}; kind density fits points"]
        return []

    def setup(self, ctx: RunContext) -> None:
        cfg: DensityConfig = self.cfg  # type: ignore[assignment]
        self.device = ctx.device
        self.source = make_source(cfg.data.source, **cfg.data.kwargs)
        self.rng = np.random.default_rng(ctx.seed)  # the training batches; resumed with the run
        held_out, _ = self.source.sample(cfg.model.eval_samples, np.random.default_rng(ctx.seed + 1))
        self.held_out = torch.as_tensor(held_out, device=self.device).flatten(1)  # (N, D)
        start, _ = self.source.sample(cfg.model.components, self.rng)  # means start on data points
        self.model = GaussianMixture(torch.as_tensor(start).flatten(1)).to(self.device)
        self.optimizer = cfg.optim.build(self.model.parameters())

    def train_unit(self) -> dict[str, float]:
        cfg: DensityConfig = self.cfg  # type: ignore[assignment]
        total, steps = 0.0, 0
        while steps < cfg.model.steps_per_unit and self.global_step < cfg.train.total_steps:
            for group in self.optimizer.param_groups:  # optim.schedule: linear decays it to 0 over the run
                group["lr"] = cfg.optim.lr_at(1.0 - self.global_step / cfg.train.total_steps)
            x, _ = self.source.sample(cfg.model.batch_size, self.rng)
            nll = -self.model(torch.as_tensor(x, device=self.device).flatten(1)).mean()
            self.optimizer.zero_grad()
            nll.backward()
            self.optimizer.step()
            total, steps = total + nll.item(), steps + 1
            self.global_step += 1
        return {"loss/nll": total / max(steps, 1)}

    @torch.no_grad()
    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        dist = self.model.distribution()
        mean_error = (dist.mean - self.held_out.mean(0)).norm().item()
        return {"eval/nll": -dist.log_prob(self.held_out).mean().item(), "eval/mean_error": mean_error}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "rng": self.rng.bit_generator.state, "global_step": self.global_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
        self.global_step = int(state["global_step"])

    def modules(self) -> dict[str, nn.Module]:
        return {"mixture": self.model}
