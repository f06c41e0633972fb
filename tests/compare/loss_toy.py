"""A toy kind whose evaluation metric is lower-is-better and not the default one:
eval/distance = 100 / step + seed (10, 5, 3.33, 2.5, 2 at steps 10 to 50, plus the seed).

Loaded by import path (`kind: tests.compare.loss_toy:LossToy`), so `--parallel` children started
in the repository root find it with no registration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .queue_toy import QueueToy, QueueToyConfig


class LossToy(QueueToy):
    config_model = QueueToyConfig

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        return {"eval/distance": 100 / self.global_step + self.cfg.seed}


def write_config(tmp_path: Path, **early_stop: Any) -> Path:
    """A YAML config of the toy that scores eval/distance, lower is better; its runs under tmp_path/runs."""
    cfg = {"name": "ltoy", "kind": "tests.compare.loss_toy:LossToy",
           "train": {"total_steps": 50, "eval_every": 10, "progress": False,
                     "early_stop": {"metric": "eval/distance", "mode": "min", **early_stop}},
           "logging": {"dir": str(tmp_path / "runs"), "console": False, "wandb": {"mode": "disabled"}}}
    path = tmp_path / "ltoy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
