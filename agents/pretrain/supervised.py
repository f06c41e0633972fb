"""`kind: supervised` — classification or regression with any backbone and a head, on a labeled
data source with a fixed train / validation / test split. Its `classifier` (or `regressor`) moves
into other roles with `init: {run: ..., role: classifier}` (the backbone, without the head).

Losses: cross-entropy, multi-class hinge, or squared error (classification against the one-hot,
or regression). L2 is `optim.weight_decay`, L1 `optim.l1`; dropout and batch norm are the
backbone's (and the head's) options. Early stopping on the validation split is the runner's:
`train.early_stop: {metric: eval/val_loss, mode: min, patience: N}`.

Metrics: `loss/total`, and at each evaluation `eval/val_loss` with `eval/val_accuracy` (classes) or
`eval/val_mse` (regression) on the validation split, the same as `eval/test_...` on the test split,
and a confusion-matrix picture of the test split (the validation split when there is no test split).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rlgen.agents.pretrain import pictures
from rlgen.agents.pretrain.base import DataExperiment
from rlgen.agents.pretrain.config import SupervisedConfig
from rlgen.agents.pretrain.losses import CLASSIFICATION, squared_error
from rlgen.envs.datasets import Split
from rlgen.errors import RlgenError
from rlgen.logging import Image
from rlgen.nets import MLP, build_backbone
from rlgen.registry import SOURCES
from rlgen.transfer import apply_init


class Predictor(nn.Module):
    """(B, *shape) -> (B, *out_shape): a backbone, an MLP head (optional hidden layers), a Linear.
    `backbone` is what transfer moves."""

    def __init__(self, backbone: nn.Module, out_dim: int, hidden: list[int], activation: str, dropout: float):
        super().__init__()
        self.backbone = backbone
        self.hidden = MLP((backbone.out_dim,), hidden, activation=activation, dropout=dropout)
        self.out = nn.Linear(self.hidden.out_dim, out_dim)
        self.in_shape, self.out_dim = backbone.in_shape, out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.hidden(self.backbone(x)))  # (B, out_dim)


class SupervisedExperiment(DataExperiment):
    """Classification or regression with any backbone and a head, on a labeled data source."""

    config_model = SupervisedConfig

    @classmethod
    def backbone_paths(cls, cfg: SupervisedConfig) -> dict[str, Any]:
        return {"model.backbone": cfg.model.backbone}

    @classmethod
    def check(cls, cfg: SupervisedConfig) -> list[str]:
        problems = super().check(cfg)
        builder = SOURCES.get(cfg.data.source)
        labeled = getattr(builder, "labeled", None)
        if cfg.objective.task == "classification" and labeled is False:
            problems.append(f"objective.task: {cfg.data.source!r} has no classes; use task: regression")
        if cfg.objective.task == "regression" and cfg.objective.loss != "mse":
            problems.append(f"objective.loss: {cfg.objective.loss!r} is for classes; regression uses mse")
        if getattr(cfg.model.backbone, "pool", None) == "sequence":
            problems.append("model.backbone.pool: 'sequence' gives one output per step; use last or mean")
        return problems

    def build(self, data: Split) -> nn.Module:
        cfg, obj = self.cfg, self.cfg.objective
        y = data.validation[1]
        if y is None:
            raise RlgenError(f"data.source: {cfg.data.source!r} has no targets (its samples come with y = None), and "
                             "kind supervised learns targets; give a labeled source (digits for classes, friedman1 "
                             "for regression), or kind: autoencoder to pretrain on it without labels")
        self.n_classes = data.n_classes if obj.task != "regression" else 0
        if obj.task == "classification" and not self.n_classes:
            raise RlgenError(f"objective.task: {cfg.data.source!r} has no classes; use task: regression")
        if not self.n_classes and obj.loss != "mse":
            raise RlgenError(f"objective.loss: {obj.loss!r} is for classes, and {cfg.data.source!r} has "
                             "regression targets; use loss: mse")
        self.target_shape = tuple(y.shape[1:])
        out_dim = self.n_classes or int(np.prod(self.target_shape, dtype=int))
        backbone = build_backbone(cfg.model.backbone.spec(), in_shape=data.shape, where="model.backbone")
        apply_init(backbone, cfg.model.backbone.init, "model.backbone")
        head = cfg.model.head
        return Predictor(backbone, out_dim, head.hidden, head.activation, head.dropout)

    def criterion(self, out: Tensor, y: Tensor) -> Tensor:
        obj = self.cfg.objective
        if not self.n_classes:
            return squared_error(out, y)
        if obj.loss == "hinge":
            return CLASSIFICATION["hinge"](out, y, obj.margin)
        if obj.loss == "mse":
            return squared_error(out, y, self.n_classes)
        return CLASSIFICATION[obj.loss](out, y)

    def loss(self, x: Tensor, y: Tensor | None) -> tuple[Tensor, dict[str, Tensor]]:
        return self.criterion(self.model(x), y), {}

    # --- evaluation -----------------------------------------------------------------------------

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        matrix = None
        for split, (x, y) in (("val", self.data.validation), ("test", self.data.test)):
            if not len(x):
                continue
            pred = torch.cat(self.batched(lambda xb, _y: self.model(xb), x, y)).cpu()
            yt = torch.as_tensor(y)
            out[f"eval/{split}_loss"] = float(self.criterion(pred, yt))
            if self.n_classes:
                guess = pred.argmax(1).numpy()
                out[f"eval/{split}_accuracy"] = float((guess == y).mean())
                matrix = np.zeros((self.n_classes, self.n_classes), dtype=np.int64)
                np.add.at(matrix, (y, guess), 1)  # the last split shown: test when there is one
            else:
                out[f"eval/{split}_mse"] = float(squared_error(pred, yt))
        if matrix is not None and self.cfg.eval.pictures and self.ctx.rank == 0 and self.ctx.training:
            step = self.global_step
            title = f"{self.cfg.name} step {step:,}"
            path = pictures.confusion(matrix, self.ctx.media_dir / f"confusion_step_{step:08d}.png", title)
            out["eval/confusion"] = Image(path, caption=title)
        return out

    def modules(self) -> dict[str, nn.Module]:
        return {"classifier" if self.n_classes else "regressor": self.model}
