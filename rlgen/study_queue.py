"""Work shared by any number of workers through one Optuna study: sweep trials and seeds.

Optuna's relational storage is the queue (SQLite on one machine; PostgreSQL or MySQL between
machines, Optuna's documented multi-machine mode). Every worker runs the same loop:

- **slots.** The study has a budget of `n` slots (trial k of `n_trials`, or seed k of the list). A
  new trial takes the next free slot from its trial number, which the storage hands out under a row
  lock, so two workers never hold the same one. A worker whose trial finds no free slot (two
  workers asked at once for the last one) leaves it unrun, marked `surplus`.
- **run directories.** A trial records its run directory in its user attributes before training
  starts.
- **dead workers.** A running trial beats a heartbeat into the storage. When a worker dies
  (SIGKILL, a machine that disappears) its heartbeat stops; after `grace_period` seconds another
  worker marks the trial failed and Optuna's `RetryHeartbeatStaleTrialCallback` queues a copy
  (WAITING: same parameters, user attributes and reported values). The next free worker takes the
  copy and resumes the run from its last checkpoint. Ctrl-C queues the same copy at once.
- **the end.** A worker with no free slot waits while other workers' trials run, so that a dead
  one is still picked up, and leaves when nothing runs or waits.
"""

from __future__ import annotations

import math
import os
import random
import shutil
import socket
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal

from pydantic import Field, model_validator
from rich.markup import escape

from rlgen import checkpoint
from rlgen.config import ExperimentConfig, Section
from rlgen.errors import Interrupted, RlgenError
from rlgen.logging import console

if TYPE_CHECKING:
    from rlgen.study_view import StudyProgress  # the live bar `work` updates (it reads this module's slots)

WORKER = f"{socket.gethostname()}:{os.getpid()}"
RETRY_OF = "failed_trial"  # the system attribute Optuna's retry callback gives a copy: the first attempt's number


class HeartbeatConfig(Section):
    """How a dead worker is noticed. Keep `grace_period` well above the longest pause a busy
    machine can put between two heartbeats: a live trial declared dead would run twice."""

    interval: int = Field(20, gt=0, description="seconds between a running trial's heartbeats")
    grace_period: int = Field(120, gt=0, description="a trial silent this long is dead; another worker retries it")
    max_retry: int = Field(3, ge=0, description="retries of one trial before it stays failed")

    @model_validator(mode="after")
    def _grace_after_interval(self) -> HeartbeatConfig:
        if self.grace_period <= self.interval:
            raise ValueError(f"grace_period ({self.grace_period}) must exceed interval ({self.interval})")
        return self


# --- the storage -----------------------------------------------------------------------------------


def open_study(name: str, url: str, *, direction: str, heartbeat: HeartbeatConfig, sampler: Any = None,
               pruner: Any = None, create: bool = True) -> Any:
    """The study `name` in the database at `url` (created when missing, unless `create` is
    False), with heartbeats on."""
    import optuna

    if create:
        return open_or_make_study(name, url, direction=direction, heartbeat=heartbeat, sampler=sampler,
                                  pruner=pruner)[0]
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # rlgen prints its own line per trial
    try:
        study = optuna.load_study(study_name=name, storage=_storage(url, heartbeat), sampler=sampler, pruner=pruner)
    except KeyError:
        raise RlgenError(f"no study {name!r} in {shown_url(url)} yet") from None
    _check_direction(study, direction, url)
    return study


def open_or_make_study(name: str, url: str, *, direction: str, heartbeat: HeartbeatConfig, sampler: Any = None,
                       pruner: Any = None) -> tuple[Any, bool]:
    """The study `name` in the database at `url`, and whether this call made it. Making one is
    atomic (a study's name is unique in the storage): of workers that start together, one makes
    it and the others find it made, and wait for what its maker writes into it (`described`)."""
    import optuna
    from optuna.exceptions import DuplicatedStudyError

    optuna.logging.set_verbosity(optuna.logging.ERROR)  # rlgen prints its own line per trial
    storage = _storage(url, heartbeat)
    try:
        study = optuna.create_study(study_name=name, storage=storage, direction=direction, sampler=sampler,
                                    pruner=pruner)
        made = True
    except DuplicatedStudyError:  # an existing study keeps the direction it was made with
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        made = False
    _check_direction(study, direction, url)
    return study, made


# How long a worker waits for the description (the user attributes an rlgen sweep or seed queue
# writes) of a study that another worker made an instant before it. A maker that died before
# writing one leaves its study to the next worker, as a study an older rlgen made without one.
MAKER_WAIT_S = 10.0
DESCRIPTIONS = ("seeds", "rlgen_setup")  # a seed queue's (written last: its config comes first) and a sweep's


def described(study: Any, made: bool, wait_s: float = MAKER_WAIT_S) -> dict[str, Any]:
    """The study's user attributes, with its description once there is one: a study another
    worker has just made, which holds neither a description nor trials yet, is waited for."""
    attrs = study.user_attrs
    deadline = time.monotonic() + wait_s
    while (not made and not any(k in attrs for k in DESCRIPTIONS) and not study.get_trials(deepcopy=False)
           and time.monotonic() < deadline):
        time.sleep(0.05)
        attrs = study.user_attrs
    return attrs


def _check_direction(study: Any, direction: str, url: str) -> None:
    """The study ranks trials the way it was made to; another direction would rank them the wrong way round."""
    held = " and ".join(d.name.lower() for d in study.directions)
    if held != direction:
        raise RlgenError(f"study {study.study_name!r} in {shown_url(url)} was made to {held}, not to {direction}: its "
                         f"trials would be ranked the wrong way round; keep it to {held} (a sweep file's direction:, or "
                         "the config's train.early_stop.mode for its early-stop metric), or start a new study with "
                         "--study NEW_NAME")


def _storage(url: str, hb: HeartbeatConfig) -> Any:
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        retry = RetryHeartbeatStaleTrialCallback(max_retry=hb.max_retry, inherit_intermediate_values=True)
    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                return RDBStorage(url, heartbeat_interval=hb.interval, grace_period=hb.grace_period,
                                  heartbeat_stale_trial_callback=retry)
        except ImportError as e:
            raise RlgenError(f"{shown_url(url)}: the database driver is not installed ({e}); for PostgreSQL: "
                             "pip install 'rlgen[distributed]' (psycopg)") from None
        except Exception as e:  # noqa: BLE001 - SQLAlchemy's many errors: the same readable message
            # Workers that start together on an empty database race to create Optuna's tables
            # (optuna#1092); the loser finds them made when it tries again.
            if attempt == 4:
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                raise RlgenError(f"cannot open the study storage {shown_url(url)}: {first}") from None
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def shown_url(url: str) -> str:
    """The URL with its password hidden (for messages and logs)."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - not a URL SQLAlchemy can parse: the error will say so
        return url


# --- slots -----------------------------------------------------------------------------------------


def is_retry(t: Any) -> bool:
    return RETRY_OF in t.system_attrs


def is_surplus(t: Any) -> bool:
    return bool(t.user_attrs.get("surplus"))


def slot(trials: list[Any], trial: Any) -> int:
    """The trial's 0-based place in the budget: a retry keeps its first attempt's, a new trial
    takes the next one (every earlier trial that is neither a retry nor surplus holds one)."""
    number = trial.system_attrs.get(RETRY_OF, trial.number)
    return sum(1 for t in trials if t.number < number and not is_retry(t) and not is_surplus(t))


def latest_attempts(trials: list[Any]) -> list[Any]:
    """One trial per slot: its latest attempt (a retry replaces a dead one)."""
    latest: dict[int, Any] = {}
    for t in trials:
        if not is_surplus(t):
            root = t.system_attrs.get(RETRY_OF, t.number)
            if root not in latest or t.number > latest[root].number:
                latest[root] = t
    return sorted(latest.values(), key=lambda t: t.number)


def _claimable(trials: list[Any], n: int) -> bool:
    from optuna.trial import TrialState

    if any(t.state == TrialState.WAITING for t in trials):
        return True  # a retry (or an enqueued trial) to take
    return sum(1 for t in trials if not is_retry(t) and not is_surplus(t)) < n


class _Surplus(Exception):
    """No free slot for this trial: it is left unrun."""


# --- the worker loop -------------------------------------------------------------------------------

Run = Callable[[Any, int], float]  # (trial, slot) -> the trial's value; raises optuna.TrialPruned, RlgenError


def work(study: Any, n: int, run: Run, *, poll_s: float = 1.0, progress: StudyProgress | None = None,
         announce: Callable[[Any, Any], None] | None = None, max_retry: int | None = None) -> None:
    """Take slots of `study` and `run` them until all `n` are finished (by any worker).
    `max_retry`: attempts of one slot queued again after a death or an interrupt (None: no limit)."""
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState

    def objective(trial: Any) -> float:
        trials = study.get_trials(deepcopy=False)
        frozen = next(t for t in trials if t.number == trial.number)
        index = slot(trials, frozen)
        if index >= n and not is_retry(frozen):
            trial.set_user_attr("surplus", True)
            raise _Surplus
        trial.set_user_attr("worker", WORKER)
        if progress is not None:
            progress.here = f"trial {trial.number}" + (f" (retry of {frozen.system_attrs[RETRY_OF]})"
                                                       if is_retry(frozen) else "")
        try:
            return run(trial, index)
        except RlgenError as e:
            trial.set_user_attr("error", str(e))
            raise
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM: not a result, and not lost either (up to max_retry)
            if requeue(study, trial, max_retry):
                console.print(f"trial {trial.number} queued again: the next worker resumes it from its checkpoint")
            else:
                console.print(f"trial {trial.number} stays failed: it was retried heartbeat.max_retry={max_retry} "
                              "times already")
            raise

    def after(study: Any, trial: Any) -> None:
        if not is_surplus(trial) and announce is not None:
            announce(study, trial)
        if progress is not None:
            progress.here = None
            progress.refresh()

    waiting_said = False
    while True:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a dead worker's trial -> failed, and a retry queued
        trials = study.get_trials(deepcopy=False)
        if _claimable(trials, n):
            waiting_said = False
            study.optimize(objective, n_trials=1, catch=(RlgenError, _Surplus), callbacks=[after])
            continue
        running = [t for t in trials if t.state == TrialState.RUNNING]
        if not running:
            return
        if not waiting_said:
            console.print(f"no free slot: waiting for {len(running)} running trial(s) of other workers "
                          "(a dead worker's trial is retried here)")
            waiting_said = True
        if progress is not None:
            progress.refresh(trials)
        time.sleep(poll_s)


def first_attempt(trial: Any) -> int:
    """The trial's number, or its first attempt's for a retry: the number its run goes by."""
    frozen = next(t for t in trial.study.get_trials(deepcopy=False) if t.number == trial.number)
    return int(frozen.system_attrs.get(RETRY_OF, trial.number))


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
    if checkpoint.latest(path / "checkpoints") is not None:
        console.print(f"trial {trial.number}: resuming {escape(str(path))}")
        return path
    if (path / "config.yaml").is_file():
        # died before its first checkpoint: nothing to resume, and its partial log would count
        # twice in `rlgen compare`
        shutil.rmtree(path, ignore_errors=True)
        console.print(f"trial {trial.number}: {escape(str(path))} had no checkpoint yet; starting the run over")
    else:
        console.print(f"trial {trial.number}: {escape(str(path))} is not on this machine (no shared run directory); "
                      "starting the run over")
    return None


def requeue(study: Any, trial: Any, max_retry: int | None = None) -> bool:
    """Queue a copy of a running trial (same parameters, attributes, reported values), as the
    heartbeat's retry does for a dead one, unless it was retried `max_retry` times already;
    True when a copy was queued."""
    from optuna.exceptions import ExperimentalWarning
    from optuna.storages import RetryHeartbeatStaleTrialCallback

    frozen = next(t for t in study.get_trials(deepcopy=True) if t.number == trial.number)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        RetryHeartbeatStaleTrialCallback(max_retry=max_retry, inherit_intermediate_values=True)(study, frozen)
    return any(t.number > frozen.number and t.system_attrs.get(RETRY_OF) == frozen.system_attrs.get(RETRY_OF,
               frozen.number) and t.state.name == "WAITING" for t in study.get_trials(deepcopy=False))


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
