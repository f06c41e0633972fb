"""A toy experiment kind with known behaviour, to test the runner without any RL or GAN."""

from typing import Any, Literal

import torch

from rlgen.config import ExperimentConfig, Section
from rlgen.runner import RunContext


class ToySection(Section):
    unit: int = 10                       # steps per train_unit
    scores: list[float] = []             # eval/score at the i-th evaluation (then the last repeats)
    nan_at: int | None = None            # report a NaN loss at this step
    on_unit: str | None = None           # "sigint"/"sigterm": send that signal to ourselves after this unit
    signal_at: int | None = None
    weight_nan_at: int | None = None     # the model's weight turns NaN at this step (the loss stays finite)
    value_growth: float | None = None    # also report loss/value = growth ** units trained (divergence)


class ToyConfig(ExperimentConfig):
    kind: Literal["toy"]
    toy: ToySection = ToySection()


class ToyExperiment:
    """global_step += unit per train_unit; a linear model takes one SGD step per unit."""

    config_model = ToyConfig

    def __init__(self, cfg: ToyConfig):
        self.cfg, self.global_step, self.evals = cfg, 0, 0
        self.units_trained = 0

    @classmethod
    def check(cls, cfg: ToyConfig) -> list[str]:
        return []

    def setup(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.model = torch.nn.Linear(2, 1)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=0.1)

    def train_unit(self) -> dict[str, float]:
        x = torch.randn(8, 2)
        loss = ((self.model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.global_step += self.cfg.toy.unit
        self.units_trained += 1
        t = self.cfg.toy
        if t.signal_at is not None and self.global_step == t.signal_at and t.on_unit:
            import os
            import signal

            os.kill(os.getpid(), signal.SIGINT if t.on_unit == "sigint" else signal.SIGTERM)
        if t.weight_nan_at is not None and self.global_step >= t.weight_nan_at:
            with torch.no_grad():
                self.model.weight[0, 1] = float("nan")
        if t.nan_at is not None and self.global_step >= t.nan_at:
            return {"loss/total": float("nan")}
        if t.value_growth is not None:
            return {"loss/total": loss.item(), "loss/value": t.value_growth ** self.units_trained}
        return {"loss/total": loss.item()}

    def evaluate(self, episodes: int | None = None, video_dir: Any = None) -> dict[str, float]:
        scores = self.cfg.toy.scores or [0.0]
        score = scores[min(self.evals, len(scores) - 1)]
        self.evals += 1
        return {"eval/score": score, "eval/negated": -score}  # two metrics: early_stop may pick either

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"model": self.model}

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(),
                "global_step": self.global_step, "evals": self.evals}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.global_step, self.evals = state["global_step"], state["evals"]

    def close(self) -> None:
        pass


def toy_config(tmp_path, **train: Any) -> ToyConfig:
    toy = train.pop("toy", {})
    return ToyConfig.model_validate({
        "name": "toy", "kind": "toy",
        "train": {"total_steps": 100, "eval_every": 20, "progress": False, "early_stop": {"metric": "eval/score"},
                  **train},
        "toy": toy,
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    })


class ForgetfulToy(ToyExperiment):
    """Resumes its model but not its optimizer: Adam's moments and step count restart at resume,
    the bug `rlgen.testing.check_experiment` must catch."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.global_step, self.evals = state["global_step"], state["evals"]
