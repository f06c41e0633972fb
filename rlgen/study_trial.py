"""One trial of a study's queue (`rlgen/study_queue.py`): its run, trained or resumed from a dead or
interrupted attempt's checkpoint, and the value the study records for it.

A trial records its run directory in its user attributes before training starts, so a retry (a copy
Optuna's heartbeat or a Ctrl-C queued, with the same attributes) finds the run and resumes it with
the runner's own `--resume`, refused as that is when the trial's config changed since. An attempt
interrupted before its run's first checkpoint left no directory and lost no work: its retry starts
over.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any, Callable, Literal

from rich.markup import escape

from rlgen import checkpoint
from rlgen.config import ExperimentConfig
from rlgen.errors import Interrupted, RlgenError
from rlgen.logging import console

RETRY_OF = "failed_trial"  # the system attribute Optuna's retry callback gives a copy: the first attempt's number
UNSAVED = "rlgen_unsaved"  # a slot's attempts interrupted before their run's first checkpoint (they lost no work)


def _checkpointed(trial: Any) -> bool:
    """Whether the trial's run (its recorded directory, read from the trial's cache, not the
    storage) has a checkpoint here."""
    run_dir = trial.user_attrs.get("run_dir")
    return run_dir is not None and checkpoint.latest(Path(run_dir) / "checkpoints") is not None


def _frozen(trial: Any) -> Any:
    """The trial's stored record (a live trial does not show its system attributes)."""
    return next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)


def first_attempt(trial: Any) -> int:
    """The trial's number, or its first attempt's for a retry: the number its run goes by."""
    return int(_frozen(trial).system_attrs.get(RETRY_OF, trial.number))


def train_trial(trial: Any, cfg: ExperimentConfig, make_experiment: Callable[[ExperimentConfig], Any],
                on_eval: Callable[[int, dict[str, Any]], bool] | None = None, trust: bool = False) -> dict[str, Any]:
    """Run the trial's config, resuming the run of a dead or interrupted attempt when its
    directory holds a checkpoint. Interrupted (Ctrl-C, SIGTERM): `Interrupted`, once the run has
    written its checkpoint. The run's W&B config gets `optuna: {study, trial, params}`. `trust`:
    as `rlgen train --trust` (the runs a backbone's init names, an old-format checkpoint)."""
    from rlgen.runner import Runner
    from rlgen.transfer import trusting

    resume = _resumable(trial)
    state = None if resume is None else _resume_state(trial, resume, cfg, trust)
    note: dict[str, Any] = {"study": trial.study.study_name, "trial": first_attempt(trial)}
    if trial.params:  # a sweep's draws (a categorical by its label); a seed queue draws none
        note["params"] = trial.params
    runner = Runner(cfg, _noting(make_experiment(cfg), {"optuna": note}), resume_dir=resume, on_eval=on_eval,
                    resume_state=state, trust=trust)
    trial.set_user_attr("run_dir", str(runner.run_dir.absolute()))  # before training: a retry finds it here
    with trusting(trust):
        summary = runner.run()
    trial.set_user_attr("status", summary["status"])
    trial.set_user_attr("global_step", summary["global_step"])
    if runner.exit_code:
        console.print(f"trial {trial.number} interrupted at step {summary['global_step']:,}")
        raise Interrupted(runner.exit_code - 128)  # 130 after Ctrl-C, 143 after SIGTERM, as for one run
    return summary


def _resume_state(trial: Any, run_dir: Path, cfg: ExperimentConfig, trust: bool) -> dict[str, Any]:
    """The checkpoint a retry resumes, refused as `rlgen train --resume` refuses it when the
    trial's config (the sweep file, its base config, their overrides) has changed since in what
    built the checkpoint's state: the trial would go on as a mix of two configs."""
    from rlgen.api import _check_resume

    state = checkpoint.load(run_dir, trust=trust)
    try:
        _check_resume(run_dir, cfg, state.get("config"), trust=trust)
    except RlgenError as e:
        raise RlgenError(f"{e}; trial {first_attempt(trial)}'s config changed since it began, so it stays failed (its "
                         "run is left as it was): keep a study's config while a trial is unfinished, or give the new "
                         "config a study of its own (--study NEW_NAME)") from None
    return state


def _noting(exp: Any, note: dict[str, Any]) -> Any:
    """`exp`, whose setup also adds `note` to the run's configuration for the sinks that keep one
    (W&B): setup is where a kind adds its own (the RL kind, SB3's resolved arguments)."""
    setup = exp.setup

    def setup_and_note(ctx: Any) -> None:
        setup(ctx)
        ctx.logger.config(note)

    exp.setup = setup_and_note
    return exp


def _resumable(trial: Any) -> Path | None:
    previous = trial.user_attrs.get("run_dir")
    if previous is None:
        return None
    path = Path(previous)
    if _checkpointed(trial):
        console.print(f"trial {trial.number}: resuming {escape(str(path))}")
        return path
    if (path / "config.yaml").is_file():
        # died before its first checkpoint: nothing to resume, and its partial log would count
        # twice in `rlgen compare`
        shutil.rmtree(path, ignore_errors=True)
        console.print(f"trial {trial.number}: {escape(str(path))} had no checkpoint yet; starting the run over")
    elif _copies_unsaved(_frozen(trial)):  # its run stopped while it was set up, and left no directory
        console.print(f"trial {trial.number}: the last attempt was interrupted before its first checkpoint; starting "
                      "the run over")
    else:
        console.print(f"trial {trial.number}: {escape(str(path))} is not on this machine (no shared run directory); "
                      "starting the run over")
    return None


def _copies_unsaved(frozen: Any) -> bool:
    """Whether the retry `frozen` copies an attempt interrupted before its run's first checkpoint."""
    history = frozen.system_attrs.get("retry_history", [])
    return bool(history) and history[-1] in frozen.system_attrs.get(UNSAVED, [])


def run_value(summary: dict[str, Any], metric: str, direction: str,
              objective: Literal["best", "final"] = "best", where: str = "`metric:` in the sweep file") -> float:
    """A run's value for the study: the best or the last value of `metric` (set by `where`). A NaN
    or an inf is no value (never the best, as in rlgen.scoring): a run with none fails with why."""
    rows = None
    if objective == "final":
        value = summary["final"].get(metric)
    elif summary["best"].get("metric") == metric:
        value = summary["best"].get("value")
    else:  # early_stop tracks another metric; read the best from the log instead
        rows = _rows(summary)
        values = [r[metric] for r in rows if isinstance(r.get(metric), (int, float)) and math.isfinite(r[metric])]
        value = (max if direction == "maximize" else min)(values) if values else None
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    if any(metric in r for r in (_rows(summary) if rows is None else rows)):
        which = f"its last value was {value}" if objective == "final" else "it was NaN or inf at every evaluation"
        raise RlgenError(f"the run logged {metric!r}, but {which}: no value for the study")
    raise RlgenError(f"the run logged no {metric!r}: set {where} to one it logs")


def _rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of the run's metrics.jsonl; none when it has none."""
    from rlgen.run_data import read_metrics

    try:
        return read_metrics(Path(summary["run_dir"]) / "metrics.jsonl")
    except (KeyError, RlgenError):
        return []
