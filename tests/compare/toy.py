"""A toy experiment kind with a known learning curve: eval/return_mean = x * step / 10.

It lets sweep and runner-hook tests check pruning and the best trial without training anything.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Mapping

from rlgen.config import ExperimentConfig, load_config


class ToyConfig(ExperimentConfig):
    kind: Literal["toy"]
    x: float = 1.0
    shape: dict[str, Any] = {"type": "a", "size": 1}


class Toy:
    config_model = ToyConfig

    def __init__(self, cfg: ToyConfig):
        self.cfg, self.global_step = cfg, 0

    def setup(self, ctx: Any) -> None:
        pass

    def train_unit(self) -> dict[str, float]:
        self.global_step += 10
        return {"loss/toy": 1.0 / self.global_step}

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        return {"eval/return_mean": self.cfg.x * self.global_step / 10}

    def state_dict(self) -> dict[str, Any]:
        return {"global_step": self.global_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.global_step = state["global_step"]

    def close(self) -> None:
        pass


def toy_config(tmp_path: Path, **train: Any) -> dict[str, Any]:
    return {"name": "toy", "kind": "toy", "x": 1.0,
            "train": {"total_steps": 50, "eval_every": 10, "progress": False, **train},
            "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}}


def load_toy(source: str | Mapping[str, Any], overrides: list[str]) -> ToyConfig:
    return load_config(source, overrides, kinds={"toy": ToyConfig})  # type: ignore[return-value]
