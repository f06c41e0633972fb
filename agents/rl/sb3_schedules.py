"""Run-long schedules for an SB3 model trained one unit at a time (`sb3_bridge.SB3Learner`): the
learning rate and every `lin_<start>` hyperparameter decay over the whole run, reading its progress
from one shared `Progress` rather than from SB3's progress through each `learn()` call."""

from __future__ import annotations

from typing import Any, Mapping

from rlgen.agents.rl.algos import integral_counts
from rlgen.config import OptimConfig


class Progress:
    """How much of the run is left, 1 -> 0, read by the linear schedules.

    SB3 computes its own progress per `learn()` call; rlgen calls `learn()` once per training unit,
    so schedules read the run's progress from here instead (a tiny picklable object).
    """

    def __init__(self) -> None:
        self.remaining = 1.0


class LinearSchedule:
    """start * remaining: SB3/rl-zoo's `lin_<start>` convention."""

    def __init__(self, start: float, progress: Progress):
        self.start, self.progress = start, progress

    def __call__(self, _sb3_progress: float) -> float:
        return self.start * self.progress.remaining


class LearningRate:
    """The optimizer section's learning rate (`OptimConfig.lr_at`) at the run's progress, as SB3's
    learning-rate schedule: constant, or linear to 0 with `optim.schedule: linear`."""

    def __init__(self, optim: OptimConfig, progress: Progress):
        self.optim, self.progress = optim, progress

    def __call__(self, _sb3_progress: float) -> float:
        return self.optim.lr_at(self.progress.remaining)


def resolve_schedules(hyperparams: Mapping[str, Any], progress: Progress) -> dict[str, Any]:
    """Replace every 'lin_X' value with a linear schedule over the whole run. YAML has no tuples:
    `train_freq: [1, episode]` becomes SB3's (1, "episode"), as rl-zoo3 does; nor exponents on ints:
    `buffer_size: 1e5` becomes 100000."""
    out = {k: LinearSchedule(float(v[4:]), progress) if isinstance(v, str) and v.startswith("lin_") else v
           for k, v in integral_counts(hyperparams).items()}
    if isinstance(out.get("train_freq"), list):
        out["train_freq"] = tuple(out["train_freq"])
    return out
