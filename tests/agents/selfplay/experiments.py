"""A self-play or teams experiment set up by hand, as the runner sets one up, for tests that call
its `train_unit` / `evaluate` / `state_dict` directly; its figures as plain data to compare."""

from __future__ import annotations

from typing import Any

import torch

from rlgen.api import load_config
from rlgen.logging import Logger, Table
from rlgen.runner import RunContext


def set_up(kind: type, config: Any, overrides: list[str], tmp_path) -> Any:
    cfg = load_config(config, [*overrides, "logging.wandb.mode=disabled"])
    torch.manual_seed(cfg.seed)  # as the runner seeds the global RNGs before setup
    exp = kind(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    return exp


def plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.rows if isinstance(v, Table) else v) for k, v in metrics.items()}
