"""How a study of rlgen's queue (`rlgen.study_queue`) looks to its workers: per-slot counts, the
live bar of the whole study, and `rlgen sweep --status`'s table of its trials."""

from __future__ import annotations

import re
import threading
from typing import Any, Sequence

from rich.markup import escape

from rlgen.logging import console
from rlgen.study_queue import is_retry, is_surplus, latest_attempts
from rlgen.study_trial import RETRY_OF


def counts(trials: list[Any], direction: str) -> dict[str, Any]:
    """Per slot (latest attempt): finished, complete, pruned, failed, running, queued; and the best."""
    from optuna.trial import TrialState

    latest = latest_attempts(trials)
    by = {s: sum(1 for t in latest if t.state == s) for s in TrialState}
    complete = [t for t in latest if t.state == TrialState.COMPLETE and t.value is not None]
    best = (max if direction == "maximize" else min)(complete, key=lambda t: t.value) if complete else None
    return {"finished": by[TrialState.COMPLETE] + by[TrialState.PRUNED] + by[TrialState.FAIL],
            "complete": by[TrialState.COMPLETE], "pruned": by[TrialState.PRUNED], "failed": by[TrialState.FAIL],
            "running": by[TrialState.RUNNING], "queued": by[TrialState.WAITING], "best": best}


class StudyProgress:
    """A live bar of the whole study (every worker's trials), as `rlgen train` shows one run:
    slots finished of n, running, pruned, failed, the best so far, what this worker does."""

    def __init__(self, study: Any, total: int, title: str, poll_s: float = 3.0):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.study, self.total, self.title, self.poll_s = study, total, title, poll_s
        self.direction = study.direction.name.lower()
        self.here: str | None = None
        self._bar = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self._task = self._bar.add_task(title, total=total)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> StudyProgress:
        self.refresh()
        self._bar.start()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        if exc[0] is None:
            self.refresh()
        self._bar.stop()

    def _poll(self) -> None:  # other workers' progress, between this worker's own events
        while not self._stop.wait(self.poll_s):
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - a storage hiccup must not end the sweep; the next poll retries
                pass

    def refresh(self, trials: list[Any] | None = None) -> None:
        c = counts(self.study.get_trials(deepcopy=False) if trials is None else trials, self.direction)
        parts = [f"running {c['running']}", f"pruned {c['pruned']}", f"failed {c['failed']}"]
        if c["queued"]:
            parts.append(f"queued {c['queued']}")
        if c["best"] is not None:
            parts.append(f"best {c['best'].value:.4g} (trial {c['best'].number})")
        if self.here:
            parts.append(f"here: {self.here}")
        self._bar.update(self._task, completed=min(c["finished"], self.total),
                         description=f"{self.title}  " + " · ".join(parts))


def status_table(study: Any, metric: str | None = None, attrs: Sequence[str] = ()) -> Any:
    """Every trial of the study: state (with retries, surplus and errors explained), value, last
    step, worker, the user attributes `attrs`, parameters; a caption with the counts and the best."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    trials = study.trials
    direction = study.direction.name.lower()
    attempts: dict[int, list[int]] = {}  # first attempt's number -> every attempt's, in order
    for t in trials:
        attempts.setdefault(t.system_attrs.get(RETRY_OF, t.number), []).append(t.number)
    title = f"study {study.study_name} ({direction}{' ' + metric if metric else ''})"
    table = Table(title=escape(title), title_justify="left")
    keys = sorted({k for t in trials for k in t.params})
    rows = []
    for t in trials:
        steps = t.user_attrs.get("global_step") or (max(t.intermediate_values) if t.intermediate_values else None)
        value = "—" if t.value is None else f"{t.value:.6g}"
        rows.append([str(t.number), *(str(t.user_attrs.get(a, "—")) for a in attrs), _state(t, attempts), value,
                     "—" if steps is None else f"{steps:,}", str(t.user_attrs.get("worker", "—")),
                     *(short(t.params.get(k, "—")) for k in keys)])
    columns = ["trial", *attrs, "state", "value", "last step", "worker", *keys]
    for i, col in enumerate(columns):
        # numbers and parameters whole (a cut number reads as another); a narrow terminal wraps the
        # state and the worker, and a parameter's name takes lines as narrow as its values
        header = _folded(col, max((len(r[i]) for r in rows), default=1)) if col in keys else col
        wraps = col in ("state", "worker")
        table.add_column(escape(header), justify="left" if wraps or col in keys else "right", no_wrap=not wraps)
    for row in rows:
        table.add_row(*map(escape, row))  # an error message or a choice's label is text, not markup
    c = counts(trials, direction)
    caption = (f"{c['finished']} finished: {c['complete']} complete, {c['pruned']} pruned, {c['failed']} failed; "
               f"{c['running']} running, {c['queued']} queued")
    if c["best"] is not None:
        caption += f"; best: trial {c['best'].number}, {metric or 'value'} = {c['best'].value:.6g}"
    return Group(table, Text(caption))


def _folded(key: str, width: int) -> str:
    """A dotted key broken after its dots into lines of at most `width` characters where it can be
    (`agent.`, `hyperparams.`, `n_epochs`); a part longer than that keeps a line of its own."""
    lines = [""]
    for part in re.findall(r"[^.]+\.?|\.", key):
        if lines[-1] and len(lines[-1]) + len(part) > width:
            lines.append("")
        lines[-1] += part
    return "\n".join(lines)


def _state(t: Any, attempts: dict[int, list[int]]) -> str:
    state = t.state.name.lower()
    if is_surplus(t):
        return "not run (no free slot)"
    if state == "fail":
        later = [n for n in attempts[t.system_attrs.get(RETRY_OF, t.number)] if n > t.number]
        if later:
            return f"failed, retried as {later[0]}"
        if "error" in t.user_attrs:
            return f"failed: {t.user_attrs['error'][:60]}"
    if state == "waiting":
        state = "queued"
    if is_retry(t):
        state += f" (retry of {(t.system_attrs.get('retry_history') or [t.system_attrs[RETRY_OF]])[-1]})"
    return state


def short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
