"""Work shared by any number of workers through one Optuna study: sweep trials and seeds.

Optuna's relational storage is the queue (SQLite on one machine; PostgreSQL or MySQL between
machines, Optuna's documented multi-machine mode). Every worker runs the same loop:

- **slots.** The study has a budget of `n` slots (trial k of `n_trials`, or seed k of the list). A
  new trial takes the next free slot from its trial number, which the storage hands out under a row
  lock, so two workers never hold the same one. A worker whose trial finds no free slot (two
  workers asked at once for the last one) leaves it unrun, marked `surplus`.
- **run directories.** A trial records its run directory in its user attributes before training
  starts (`rlgen/study_trial.py`: one trial's run, and the value the study records).
- **dead workers.** A running trial beats a heartbeat into the storage. When a worker dies
  (SIGKILL, a machine that disappears) its heartbeat stops; after `grace_period` seconds another
  worker marks the trial failed and Optuna's `RetryHeartbeatStaleTrialCallback` queues a copy
  (WAITING: same parameters, user attributes and reported values). The next free worker takes the
  copy and resumes the run from its last checkpoint. Ctrl-C queues the same copy at once (one
  interrupted before the run's first checkpoint lost no work: it is not counted toward `max_retry`).
- **a lost database.** A worker whose storage goes away stops with one line that names the run's
  checkpoint: run again once the database is back, the trial resumes as a dead worker's would.
- **the end.** A worker with no free slot waits while other workers' trials run, so that a dead
  one is still picked up, and leaves when nothing runs or waits.
"""

from __future__ import annotations

import os
import random
import socket
import time
import warnings
from typing import TYPE_CHECKING, Any, Callable

from pydantic import Field, model_validator

from rlgen.config import Section
from rlgen.errors import RlgenError, first_line
from rlgen.logging import console
# one trial's run, resumed or not, and its value (re-exported: sweeps and seed queues take them from here too)
from rlgen.study_trial import (RETRY_OF, UNSAVED, _checkpointed, first_attempt, run_value,  # noqa: F401
                               train_trial)

if TYPE_CHECKING:
    from rlgen.study_view import StudyProgress  # the live bar `work` updates (it reads this module's slots)

WORKER = f"{socket.gethostname()}:{os.getpid()}"


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
    from optuna.storages import RDBStorage

    for attempt in range(5):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                storage = RDBStorage(url, heartbeat_interval=hb.interval, grace_period=hb.grace_period,
                                     heartbeat_stale_trial_callback=_Retry(hb.max_retry))
            storage.record_heartbeat = _beating_on(storage.record_heartbeat)  # type: ignore[method-assign]
            return storage
        except ImportError as e:
            raise RlgenError(f"{shown_url(url)}: the database driver is not installed ({e}); for PostgreSQL: "
                             "pip install 'rlgen[distributed]' (psycopg)") from None
        except Exception as e:  # noqa: BLE001 - SQLAlchemy's many errors: the same readable message
            # Workers that start together on an empty database race to create Optuna's tables
            # (optuna#1092); the loser finds them made when it tries again.
            if attempt == 4:
                raise RlgenError(f"cannot open the study storage {shown_url(url)}: {first_line(e)}") from None
            time.sleep(0.2 + random.random())
    raise AssertionError("unreachable")


def _beating_on(record: Callable[[int], None]) -> Callable[[int], None]:
    """`record` (a heartbeat), quiet when the database cannot be reached: Optuna's heartbeat thread
    would die of the error (a traceback mid-run, and no heartbeat again even once the database is
    back). A database back within grace_period loses nothing; one lost for good is told by the
    trial's next write, in `work`."""

    def beat(trial_id: int) -> None:
        try:
            record(trial_id)
        except Exception as e:  # noqa: BLE001 - SQLAlchemy's many errors
            if not _from_storage(e):
                raise

    return beat


def _from_storage(e: BaseException | None) -> bool:
    """Whether `e` comes of the study's database: an SQLAlchemy error, Optuna's wrapping of one,
    or what Optuna raises when it then cannot record the trial's end (an UnboundLocalError in
    Optuna 5's `_run_trial`, whose context is the storage's error)."""
    from optuna.exceptions import StorageInternalError
    from sqlalchemy.exc import SQLAlchemyError

    while e is not None:
        if isinstance(e, (SQLAlchemyError, StorageInternalError)):
            return True
        e = e.__cause__ if e.__cause__ is not None or e.__suppress_context__ else e.__context__
    return False


def _lost(study: Any, trial: Any | None, e: BaseException) -> str:
    """One line for a storage lost mid-sweep: which, why, the run's checkpoint, and what to do."""
    while (e.__cause__ or e.__context__) is not None:  # the driver's own words ("connection refused") are last
        e = e.__cause__ or e.__context__
    storage = getattr(study._storage, "_backend", study._storage)  # Optuna caches an RDBStorage in front of it
    lost = f"lost the study storage {shown_url(getattr(storage, 'url', '?'))} ({first_line(e)})"
    if trial is None or not _checkpointed(trial):
        return f"{lost}: run the same command again once the database is back"
    return (f"{lost}; trial {trial.number}'s run keeps its checkpoint in {trial.user_attrs['run_dir']}: run the same "
            "command again once the database is back, and the trial resumes from it after heartbeat.grace_period")


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


class _Retry:
    """Optuna's `RetryHeartbeatStaleTrialCallback` (queue a copy of a failed trial), where the
    attempts interrupted before their run's first checkpoint (UNSAVED) do not count toward
    `max_retry`: they lost no work."""

    def __init__(self, max_retry: int | None):
        self.max_retry = max_retry

    def __call__(self, study: Any, frozen: Any) -> None:
        from optuna.exceptions import ExperimentalWarning
        from optuna.storages import RetryHeartbeatStaleTrialCallback

        free = len(frozen.system_attrs.get(UNSAVED, []))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)
            RetryHeartbeatStaleTrialCallback(max_retry=None if self.max_retry is None else self.max_retry + free,
                                             inherit_intermediate_values=True)(study, frozen)


# --- the worker loop -------------------------------------------------------------------------------

Run = Callable[[Any, int], float]  # (trial, slot) -> the trial's value; raises optuna.TrialPruned, RlgenError


def work(study: Any, n: int, run: Run, *, poll_s: float = 1.0, progress: StudyProgress | None = None,
         announce: Callable[[Any, Any], None] | None = None, max_retry: int | None = None) -> None:
    """Take slots of `study` and `run` them until all `n` are finished (by any worker).
    `max_retry`: attempts of one slot queued again after a death or an interrupt (None: no limit).
    The storage lost: RlgenError, which names the run's checkpoint."""

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
        current[:] = [trial]
        try:
            return run(trial, index)
        except RlgenError as e:
            trial.set_user_attr("error", str(e))
            raise
        except KeyboardInterrupt:  # Ctrl-C, SIGTERM: not a result, and not lost either (up to max_retry)
            _interrupted(study, trial, max_retry)
            raise

    def after(study: Any, trial: Any) -> None:
        current.clear()  # recorded in the storage: no longer this worker's to name in `_lost`
        if not is_surplus(trial) and announce is not None:
            announce(study, trial)
        if progress is not None:
            progress.here = None
            progress.refresh()

    current: list[Any] = []  # the trial this worker runs, for `_lost`
    try:
        _take_slots(study, n, objective, after, progress, poll_s)
    except Exception as e:
        if not _from_storage(e):
            raise
        raise RlgenError(_lost(study, current[0] if current else None, e)) from None


def _take_slots(study: Any, n: int, objective: Callable[[Any], float], after: Callable[[Any, Any], None],
                progress: StudyProgress | None, poll_s: float) -> None:
    """`work`'s loop: one trial at a time while a slot is free, then wait while others run."""
    import optuna
    from optuna.exceptions import ExperimentalWarning
    from optuna.trial import TrialState

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


def _interrupted(study: Any, trial: Any, max_retry: int | None) -> None:
    """Queue an interrupted trial again, and say what the next worker does with it."""
    saved = _checkpointed(trial)
    if not requeue(study, trial, max_retry, counted=saved):
        console.print(f"trial {trial.number} stays failed: it was retried heartbeat.max_retry={max_retry} times "
                      "already")
    elif saved:
        console.print(f"trial {trial.number} queued again: the next worker resumes it from its checkpoint")
    else:  # a run stopped while it was set up leaves no directory (`Runner.run`)
        console.print(f"trial {trial.number} interrupted before its first checkpoint; queued again: the next worker "
                      "starts it over")


def requeue(study: Any, trial: Any, max_retry: int | None = None, counted: bool = True) -> bool:
    """Queue a copy of a running trial (same parameters, attributes, reported values), as the
    heartbeat's retry does for a dead one, unless it was retried `max_retry` times already;
    True when a copy was queued. `counted`: False for an attempt interrupted before its run's
    first checkpoint, which is not counted toward `max_retry`."""
    frozen = next(t for t in study.get_trials(deepcopy=True) if t.number == trial.number)
    if not counted:  # the copy inherits the list
        frozen.system_attrs[UNSAVED] = [*frozen.system_attrs.get(UNSAVED, []), frozen.number]
    _Retry(max_retry)(study, frozen)
    return any(t.number > frozen.number and t.system_attrs.get(RETRY_OF) == frozen.system_attrs.get(RETRY_OF,
               frozen.number) and t.state.name == "WAITING" for t in study.get_trials(deepcopy=False))
