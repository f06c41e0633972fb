"""A loaded run's torch modules are in eval mode, and a run's evaluation uses eval mode whatever
mode its modules were left in: a caller's forward pass never changes what `Run.evaluate` says."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

import rlgen
from rlgen.config import ExperimentConfig
from rlgen.experiment import ExperimentBase, RunContext

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def test_a_forward_pass_through_a_loaded_runs_modules_leaves_its_evaluation_alone(tmp_path: Path) -> None:
    # supervised_digits' classifier has batch norm: in train mode a forward pass moves its running statistics
    run = rlgen.train("supervised_digits", ["fit.steps_per_unit=2", "train.total_steps=4", "train.eval_every=2",
                                            f"logging.dir={tmp_path}", *QUIET])
    with rlgen.load_run(run.run_dir) as loaded:
        modules = loaded.modules()
        assert modules and not any(m.training for top in modules.values() for m in top.modules())
        before = loaded.evaluate()
        with torch.no_grad():
            modules["classifier"](torch.randn(64, 1, 8, 8) * 5 + 3)  # far off the data's statistics
        assert loaded.evaluate() == before


class ModeToyConfig(ExperimentConfig):
    kind: str  # this module's import path


class ModeToy(ExperimentBase):
    """A kind whose `evaluate` does not set eval mode itself (as a kind may forget): its score is a
    forward pass through dropout and batch norm, so it is the same on every call only in eval mode.
    Each unit reports the mode training found its model in."""

    config_model = ModeToyConfig

    def setup(self, ctx: RunContext) -> None:
        torch.manual_seed(ctx.seed)
        self.model = nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 1))
        self.x = torch.randn(16, 2, generator=torch.Generator().manual_seed(1))

    def train_unit(self) -> dict[str, float]:
        self.global_step += 10
        return {"loss/training": float(self.model.training)}

    @torch.no_grad()
    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        return {"eval/score": float(self.model(self.x).sum()), "eval/training": float(self.model.training)}

    def modules(self) -> dict[str, nn.Module]:
        return {"model": self.model}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "global_step": self.global_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.global_step = int(state["global_step"])


def test_a_runs_evaluation_is_in_eval_mode_whatever_mode_its_modules_are_in(tmp_path: Path) -> None:
    run = rlgen.train({"name": "mode_toy", "kind": f"{__name__}:ModeToy",
                       "train": {"total_steps": 40, "eval_every": 20, "progress": False,
                                 "early_stop": {"metric": "eval/score"}},
                       "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}})
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["eval/training"] for r in rows if "eval/training" in r] == [0.0, 0.0]  # the runner's evaluations
    assert [r["loss/training"] for r in rows if "loss/training" in r] == [1.0] * 4  # training's mode given back
    with rlgen.load_run(run.run_dir, trust=True) as loaded:  # a kind by import path: trusted
        model = loaded.modules()["model"]
        assert not model.training
        first = loaded.evaluate()
        model.train()  # a caller fine-tuning it
        assert loaded.evaluate() == first and first["eval/training"] == 0.0
        assert model.training  # the caller's mode is its own again
    assert first["eval/score"] == run.summary["final"]["eval/score"]
