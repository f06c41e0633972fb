"""The runner's own resumable state, and its checked reading back from a checkpoint.

A checkpoint holds it as `"runner": vars(state)`; a resume reads it through `runner_state`, which
checks each field's type, so a damaged or crafted checkpoint fails in one line here rather than in
the loop.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass, field
from typing import Any

from rlgen import checkpoint
from rlgen.errors import RlgenError


@dataclass
class RunState:
    """The runner's own resumable state. Every clock here is carried over a resume."""

    next_eval: int = 0  # a resume schedules both afresh from its step (Runner._reschedule):
    next_ckpt: int = 0  # train.eval_every and checkpoint_every may change there
    best: float | None = None  # the best checkpoint's value
    best_step: int | None = None
    top: float | None = None  # the best value seen (above `best` by at most early_stop.best_tolerance)
    evals_since_best: int = 0
    train_time_s: float = 0.0  # wall time spent in this run's loop, summed over resumes (eval/wall_time_s)
    elapsed_s: float | None = None  # the logger's clock (time/elapsed_s) at the checkpoint; None before one
    target_reached: dict[str, float] | None = None
    last_eval: dict[str, Any] = field(default_factory=dict)
    evals: int = 0  # evaluations so far (train.video_every films every N-th)
    stopped: str | None = None  # "stopped_early" / "pruned": an evaluation ended the run (a resume keeps it so)
    metrics_rows: int | None = None  # rows in metrics.jsonl when the checkpoint was written


_COUNTS = ("next_eval", "next_ckpt", "evals_since_best", "evals")


def runner_state(saved: Any, what: str) -> dict[str, Any]:
    """The `RunState` fields of a checkpoint's "runner" entry, each checked to be of its type (a
    crafted checkpoint's `next_eval: None` would fail in the loop, not here); others are left out."""
    if not isinstance(saved, dict):
        raise RlgenError(f"{what} state is {'missing' if saved is None else f'a {type(saved).__name__}'}, not a mapping "
                         "(a damaged or crafted checkpoint)")
    out: dict[str, Any] = {}
    for name, value in saved.items():
        if name in _COUNTS:
            out[name] = checkpoint.count(value, f"{what}.{name}")
        elif name in ("best_step", "metrics_rows"):
            out[name] = None if value is None else checkpoint.count(value, f"{what}.{name}")
        elif name in ("best", "top", "train_time_s", "elapsed_s"):
            if not (real(value) or (value is None and name != "train_time_s")):
                raise RlgenError(f"{what}.{name} is {_shown(value)}, not a number (a damaged or crafted checkpoint)")
            out[name] = None if value is None else float(value)
        elif name == "target_reached":
            out[name] = _target_reached(value, f"{what}.{name}")
        elif name == "stopped":
            if value not in (None, "stopped_early", "pruned"):
                raise RlgenError(f"{what}.{name} is {_shown(value)}, not a way a run stops (a damaged or crafted "
                                 "checkpoint)")
            out[name] = value
        elif name == "last_eval":
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise RlgenError(f"{what}.{name} is {_shown(value)}, not metrics by name (a damaged or crafted "
                                 "checkpoint)")
            out[name] = value
        # any other name is not a field of this rlgen's runner: left out
    return out


def _target_reached(value: Any, what: str) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not real(value.get("wall_time_s")):
        raise RlgenError(f"{what} is {_shown(value)}, not a step and a time (a damaged or crafted checkpoint)")
    return {"global_step": checkpoint.count(value.get("global_step"), f"{what}.global_step"),
            "wall_time_s": float(value["wall_time_s"])}


def real(value: Any) -> bool:
    """A real number (numpy's too), not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"
