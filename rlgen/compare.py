"""Read many runs, group them, and compare them.

A run is a directory written by the runner (`runs/<name>/<run_id>/` with `config.yaml`,
`metrics.jsonl` and, once it has ended, `summary.json` with its status), read by
`rlgen.run_data`. This module knows nothing about agents or envs: it keeps the runs that finished (unless told otherwise),
groups them by the config keys in which they differ (or by keys the user names, never pooling runs
scored on different envs, games or data sets: rlgen.compare_groups), keeps one run per seed of a config in each group
(unless told otherwise), and reduces each group to a few numbers with honest
uncertainty — mean ± sample std over runs, a 95% interval of the mean valid for the number of runs
(a t-interval, or a BCa bootstrap with enough runs; rlgen/stats.py) cut to the range the metric can
take (a CartPole return lies in [0, 500]), and the interquartile mean — plus a PNG of the learning
curves.

Example::

    runs = read_runs(["runs/ppo_cartpole_*/*"])
    groups = group_runs(runs, by=["agent.policy.backbone.type"])
    stats = [summarize(g, "eval/return_mean", threshold=475) for g in groups]
    # rlgen.compare_report lays them out: stats_table(stats, ...), plot_curves(groups, ...)
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Mapping, Sequence

import numpy as np
from rich.markup import escape

from rlgen import stats
# What grouping defined before it moved into rlgen.compare_groups stays importable from here
from rlgen.compare_groups import (HEADLINE, IGNORED_KEYS, LABEL_WIDTH, TASK_KEYS, Group, _identity,  # noqa: F401
                                  _natural, flatten, group_runs)
from rlgen.errors import RlgenError, shell_line
from rlgen.logging import console
from rlgen.run_data import NO_SUMMARY, RunData, expand, read_metrics, read_run, read_runs  # noqa: F401 (re-exported)
from rlgen.stats import Method

Mode = Literal["max", "min"]
DEFAULT_METRIC = "eval/return_mean"  # `rlgen compare --metric`'s default

# FINISHED: summary.json's status of a run that ran to its end (README: "A finished run"); anything
# else (interrupted, failed, running, no summary.json at all) is left out unless asked for.
AS_PLANNED = ("completed", "stopped_early")  # the table marks the others (pruned, and unfinished when counted)
WHY_UNFINISHED = {NO_SUMMARY: "no summary.json: killed, or still running", "running": "running, or killed while resuming"}


@dataclass
class Stat:
    """Mean ± sample std over runs, their interquartile mean, and a 95% interval of the mean (NaN
    with a `note` when there are too few runs for the method)."""

    mean: float
    std: float
    lo: float
    hi: float
    n: int
    iqm: float = math.nan
    note: str = ""

    @classmethod
    def of(cls, values: Sequence[float], method: Method = "t", bounds: tuple[float, float] | None = None) -> Stat:
        v = np.asarray(values, dtype=float)
        iv = stats.clip(stats.interval(v, method), bounds, float(v.mean()))
        std = float(v.std(ddof=1)) if len(v) > 1 else 0.0
        return cls(float(v.mean()), std, iv.lo, iv.hi, len(v), stats.iqm(v), iv.note)


@dataclass
class GroupStats:
    label: str
    n_runs: int
    final: Stat
    best: Stat
    wall_time_s: Stat
    reached: int = 0  # runs that reached the threshold
    steps_to: Stat | None = None  # over the runs that reached it
    time_to_s: Stat | None = None
    method: Method = "t"  # the interval of `final` and `best`
    bounds: tuple[float, float] | None = None  # the metric's range, when known; intervals are cut to it
    statuses: dict[str, int] = field(default_factory=dict)  # runs by status, other than completed/stopped_early


# --- numbers --------------------------------------------------------------------------------------


def curve(run: RunData, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, values, wall seconds) of the rows that carry `metric`, in logged order. Wall time is
    the runner's training+eval clock (`eval/wall_time_s`), NaN on rows without it: a training row's
    `time/elapsed_s` is the process clock, which also counts the imports and W&B's start, and no
    offset turns it into the other (checkpoints and logging widen the gap). A step logged twice
    (a run killed after its checkpoint re-logs the steps since, when it resumes) counts once: its last row."""
    rows = [r for r in run.rows if isinstance(r.get(metric), (int, float)) and not isinstance(r.get(metric), bool)]
    last = {r["global_step"]: i for i, r in enumerate(rows)}
    rows = [r for i, r in enumerate(rows) if last[r["global_step"]] == i]
    steps = np.array([r["global_step"] for r in rows], dtype=float)
    values = np.array([r[metric] for r in rows], dtype=float)
    wall = np.array([r.get("eval/wall_time_s", math.nan) for r in rows], dtype=float)
    return steps, values, wall


def first_reach(steps: np.ndarray, values: np.ndarray, wall: np.ndarray, threshold: float,
                mode: Mode = "max") -> tuple[float, float] | None:
    """(step, wall seconds: NaN where the row has no training clock) of the first row at or beyond
    the threshold, or None."""
    hit = values >= threshold if mode == "max" else values <= threshold
    if not hit.any():
        return None
    i = int(np.argmax(hit))
    return float(steps[i]), float(wall[i])


def wall_time(run: RunData) -> float:
    if run.summary and isinstance(run.summary.get("wall_time_s"), (int, float)):
        return float(run.summary["wall_time_s"])
    for row in reversed(run.rows):
        for key in ("eval/wall_time_s", "time/elapsed_s"):
            if isinstance(row.get(key), (int, float)):
                return float(row[key])
    return math.nan


# Metrics that are an episode's return, and so bounded where the env's rewards are (rlgen/envs/bounds.py)
RETURN_METRICS = ("eval/return_mean", "rollout/ep_return_mean")


def metric_bounds(runs: Sequence[RunData], metric: str) -> tuple[float, float] | None:
    """The range `metric` can take in every one of `runs` (the same for all), or None."""
    from rlgen.envs.bounds import return_bounds

    if metric not in RETURN_METRICS:
        return None
    found = set()
    for run in runs:
        env, eval_env = run.config.get("env"), run.config.get("eval_env") or {}
        if not isinstance(env, Mapping) or "id" not in env:
            return None
        if metric.startswith("eval/"):  # evaluation runs in eval_env's variant of the env
            env = {**env, **{k: v for k, v in eval_env.items() if k != "kwargs"},
                   "kwargs": {**(env.get("kwargs") or {}), **(eval_env.get("kwargs") or {})}}
        found.add(return_bounds(env["id"], env.get("kwargs"), env.get("wrappers")))
    return found.pop() if len(found) == 1 else None


def _fitting(bounds: tuple[float, float] | None, values: Sequence[float]) -> tuple[float, float] | None:
    """`bounds`, or None when a value lies outside them: then they are not this env's range (a
    variant they do not know of), and cutting to them would hide the runs' own numbers."""
    if bounds is None or all(bounds[0] <= v <= bounds[1] for v in values if not math.isnan(v)):
        return bounds
    return None


def summarize(group: Group, metric: str, threshold: float | None = None, mode: Mode = "max",
              method: Method = "t") -> GroupStats:
    finals, bests, walls, steps_to, times_to = [], [], [], [], []
    for run in group.runs:
        steps, values, wall = curve(run, metric)
        finals.append(values[-1])
        # NaN is never the best (as the runner keeps it), unless the metric was never a number
        bests.append(float("nan") if np.isnan(values).all() else np.nanmax(values) if mode == "max" else np.nanmin(values))
        walls.append(wall_time(run))
        if threshold is not None and (hit := first_reach(steps, values, wall, threshold, mode)) is not None:
            steps_to.append(hit[0])
            times_to.append(hit[1])
    bounds = _fitting(metric_bounds(group.runs, metric), [*finals, *bests])
    timed = bool(times_to) and not np.isnan(times_to).any()  # a time over some of the runs that reached it misleads
    statuses: dict[str, int] = {}
    for run in group.runs:
        if run.status not in AS_PLANNED:
            statuses[run.status] = statuses.get(run.status, 0) + 1
    return GroupStats(
        group.label, len(group.runs), Stat.of(finals, method, bounds), Stat.of(bests, method, bounds),
        Stat.of(walls), len(steps_to), Stat.of(steps_to) if steps_to else None,
        Stat.of(times_to) if timed else None, method, bounds, statuses,
    )


def select_finished(runs: Sequence[RunData], unfinished: bool = False) -> list[RunData]:
    """The runs to count: those that finished (FINISHED), or with `unfinished` all of them. Says
    in one line which runs were left out (or counted though unfinished), and why."""
    late = [r for r in runs if not r.finished]
    if not late:
        return list(runs)
    names = _some(f"{r.label} ({WHY_UNFINISHED.get(r.status, r.status)})" for r in late)
    if unfinished:
        console.print(f"[yellow]note:[/] counting {len(late)} unfinished run(s) as they are: {escape(names)}",
                      soft_wrap=True)
        return list(runs)
    if len(late) == len(runs):
        raise RlgenError(f"none of the {len(runs)} run(s) has finished: {names}; compare them as they are with "
                         "`rlgen compare --include-unfinished`")
    console.print(f"[yellow]note:[/] left out {len(late)} unfinished run(s): {escape(names)}; `rlgen compare "
                  "--include-unfinished` counts them", soft_wrap=True)
    return [r for r in runs if r.finished]


def drop_repeats(groups: Sequence[Group], repeats: bool = False) -> list[Group]:
    """One run per seed of one config in each group: the same seed trained twice (a rerun, or a copy
    of a run gathered from elsewhere) is no independent sample, and counted twice it narrows the std
    and the interval. Keeps the finished run, then the newest (its metrics.jsonl, which only
    training writes, written last), and names the others; with `repeats` counts them all, and says so."""
    out, left = [], []
    for g in groups:  # sorted: each identity's newest run comes last and stays in `newest`
        newest = {_identity(r): id(r) for r in sorted(g.runs, key=lambda r: (r.finished, _written(r)))}.values()
        left += [r for r in g.runs if id(r) not in newest]
        out.append(g if repeats else Group(g.label, [r for r in g.runs if id(r) in newest], g.omitted))
    if left:
        names = escape(_some(f"{r.path} (seed {r.config['seed']})" for r in left))
        what = f"{len(left)} run(s) that repeat a seed of the same config in their group"
        console.print(f"[yellow]note:[/] counting {what} as independent runs: {names}" if repeats else
                      f"[yellow]note:[/] left out {what}, keeping the newest: {names}; `rlgen compare "
                      "--include-repeats` counts them", soft_wrap=True)
    return out


def _written(run: RunData) -> float:
    return (run.path / "metrics.jsonl").stat().st_mtime


def _some(names: Iterable[str], shown: int = 5) -> str:
    """"a, b, c, d, e and 2 more"."""
    names = list(names)
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def shared_early_stop(runs: Sequence[RunData], metric: str | None, mode: Mode | None) -> tuple[str, Mode]:
    """`rlgen compare`'s metric and mode where not given: the train.early_stop.metric (and its mode)
    that every run's config shares, so a GAN's runs compare by their eval/mmd, lowest best; else
    DEFAULT_METRIC, higher best. A metric given keeps the shared mode only when it is that metric."""
    stops = set()
    for r in runs:
        stop = (r.config.get("train") or {}).get("early_stop") if isinstance(r.config.get("train"), dict) else None
        stop = stop if isinstance(stop, dict) else {}
        named = stop.get("metric") if isinstance(stop.get("metric"), str) else None
        stops.add((named, stop.get("mode") if stop.get("mode") in ("max", "min") else "max"))
    shared = next(iter(stops)) if len(stops) == 1 and None not in next(iter(stops)) else None
    if metric is None:
        metric = shared[0] if shared is not None else DEFAULT_METRIC
        if shared is not None and metric != DEFAULT_METRIC:
            console.print(f"metric: {escape(metric)} ({mode or shared[1]}), the runs' train.early_stop; "
                          "--metric picks another")
    if mode is None:
        mode = shared[1] if shared is not None and shared[0] == metric else "max"
    return metric, mode


def check_metric(runs: Sequence[RunData], metric: str, fix: str = "pick one with --metric") -> None:
    """Every run must log the metric; otherwise say which do not, what they share, and `fix`."""
    missing = [r for r in runs if len(curve(r, metric)[0]) == 0]
    if not missing:
        return
    numeric = [{k for row in r.rows for k, v in row.items() if isinstance(v, (int, float))} for r in runs]
    common = sorted(set.intersection(*numeric) - {"global_step"}) if numeric else []
    close = difflib.get_close_matches(metric, common, n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    silent = [r.label for r, keys in zip(runs, numeric) if not keys - {"global_step"}]
    none = (f"(none: {', '.join(silent[:3])}{' and more' if len(silent) > 3 else ''} logged no metric yet)" if silent
            else "(none in common: these runs are of different kinds)")
    names = _some(r.label for r in missing)
    raise RlgenError(
        f"metric {metric!r} is not logged by {len(missing)} of {len(runs)} runs ({names}){hint}. "
        f"Metrics every run logs: {', '.join(common) or none}; {fix}, or compare fewer runs"
    )


def compare(runs: Sequence[RunData], metric: str, by: Sequence[str] | None = None,
            threshold: float | None = None, mode: Mode = "max", method: Method = "t",
            unfinished: bool = False, repeats: bool = False,
            metric_fix: str = "pick one with --metric") -> tuple[list[Group], list[GroupStats]]:
    """Group the finished runs (all of them with `unfinished`), one run per seed of a config in a
    group (all of them with `repeats`), and summarize each group. A metric some run does not log
    is an error that ends in `metric_fix` (how the caller's user picks another)."""
    runs = select_finished(runs, unfinished)
    check_metric(runs, metric, metric_fix)
    groups = drop_repeats(group_runs(runs, by), repeats)
    if groups and (omitted := groups[0].omitted):
        more = f" and {len(omitted) - 4} more" if len(omitted) > 4 else ""
        console.print(f"[yellow]note:[/] labels show the fewest config keys that tell the groups apart; they also "
                      f"differ in {escape(', '.join(omitted[:4]))}{more} (--by KEY[,KEY] groups by keys you name)",
                      soft_wrap=True)
    summaries = [summarize(g, metric, threshold, mode, method) for g in groups]
    if any(s.reached and s.time_to_s is None for s in summaries):
        console.print(f"[yellow]note:[/] no time to the threshold: the rows that log {escape(metric)} carry no "
                      "eval/wall_time_s (the training + evaluation clock), and their time/elapsed_s, the "
                      "process clock, also counts the imports and W&B's start", soft_wrap=True)
    return groups, summaries


def compare_command(run_dirs: Sequence[Path | str], metric: str = DEFAULT_METRIC, mode: Mode = "max",
                    threshold: float | None = None) -> str:
    """The `rlgen compare` line (shell-quoted) that shows `run_dirs` by `metric` in `mode`, to print
    after training them: `--metric` and `--mode` always (the command's defaults follow the runs'
    early stop, which a sweep's metric need not be)."""
    flags = ["--metric", metric, "--mode", mode,
             *(["--threshold", repr(float(threshold)).removesuffix(".0")] if threshold is not None else [])]
    return shell_line("rlgen", "compare", *run_dirs, *flags)
