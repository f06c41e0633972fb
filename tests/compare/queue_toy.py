"""A toy kind for tests with several worker processes: `kind: tests.compare.queue_toy:QueueToy`
(an import path, so that `rlgen sweep` and `rlgen train` subprocesses started in the repository root
load it with no registration).

eval/return_mean = x * step / 10, as in toy.py. A unit can sleep, so that trials last long enough
for workers to overlap without using the CPU, and a run can SIGKILL its own process once at a
given step: a worker dying mid-trial with no chance to clean up (SIGKILL), or a Ctrl-C.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import yaml

from .toy import Toy, ToyConfig


class QueueToyConfig(ToyConfig):
    kind: str  # type: ignore[assignment]  # the import path, not "toy"
    unit_sleep: float = 0.0          # seconds each unit sleeps
    die_at: int | None = None        # send this process `die_signal` on reaching this step ...
    die_once: str | None = None      # ... unless this file exists (it is created first: once in all)
    die_signal: str = "SIGKILL"      # SIGKILL: a worker dies; SIGINT: Ctrl-C


class QueueToy(Toy):
    config_model = QueueToyConfig
    cfg: QueueToyConfig

    def train_unit(self) -> dict[str, float]:
        time.sleep(self.cfg.unit_sleep)
        metrics = super().train_unit()
        c = self.cfg
        if c.die_at is not None and self.global_step == c.die_at and c.die_once:
            try:
                fd = os.open(c.die_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                pass
            else:
                os.write(fd, f"{os.getpid()}\n".encode())
                os.close(fd)
                os.kill(os.getpid(), getattr(signal, c.die_signal))
        return metrics


def write_config(tmp_path: Path, **extra: Any) -> Path:
    """A YAML config of the toy, its runs under tmp_path."""
    cfg = {"name": "qtoy", "kind": "tests.compare.queue_toy:QueueToy",
           "train": {"total_steps": 50, "eval_every": 10, "progress": False},
           "logging": {"dir": str(tmp_path / "runs"), "console": False, "wandb": {"mode": "disabled"}}, **extra}
    path = tmp_path / "qtoy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path
