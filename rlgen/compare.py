"""Read many runs, group them, and compare them.

A run is a directory written by the runner (`runs/<name>/<run_id>/` with `config.yaml`,
`metrics.jsonl` and, once it has ended, `summary.json`). This module knows nothing about agents or
envs: it reads those files, groups runs by the config keys in which they differ (or by keys the
user names), and reduces each group to a few numbers with honest uncertainty — mean ± sample std
over runs, a 95% interval of the mean valid for the number of runs (a t-interval, or a BCa
bootstrap with enough runs; rlgen/stats.py) cut to the range the metric can take (a CartPole return
lies in [0, 500]), and the interquartile mean — plus a PNG of the learning curves.

Example::

    runs = read_runs(["runs/ppo_cartpole_*/*"])
    groups = group_runs(runs, by=["agent.policy.backbone.type"])
    stats = [summarize(g, "eval/return_mean", threshold=475) for g in groups]
    # rlgen.compare_report lays them out: stats_table(stats, ...), plot_curves(groups, ...)
"""

from __future__ import annotations

import difflib
import glob
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence

import numpy as np
import yaml

from rlgen import stats
from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.stats import Method

Mode = Literal["max", "min"]

# Keys that differ between seeds of one experiment, or only change where and how it is logged:
# they never define a group.
IGNORED_KEYS = ("seed", "logging", "train.progress", "train.threads")


@dataclass
class RunData:
    """One run read back from disk."""

    path: Path
    config: dict[str, Any]
    rows: list[dict[str, Any]]
    summary: dict[str, Any] | None  # None while a run is still going or after a crash

    @property
    def label(self) -> str:
        return f"{self.config.get('name', '?')}/{self.path.name}"


@dataclass
class Group:
    label: str
    runs: list[RunData]


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
        iv = stats.clip(stats.interval(v, method), bounds)
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


# --- reading runs ---------------------------------------------------------------------------------


def expand(patterns: Sequence[str]) -> list[Path]:
    """Run directories named by paths or globs. A directory that is not itself a run (no
    config.yaml) stands for the runs below it, so `runs/ppo_cartpole` means all its runs."""
    found: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) or ([pattern] if Path(pattern).exists() else [])
        if not matches:
            raise RlgenError(f"no run directory matches {pattern!r}")
        for m in map(Path, matches):
            if not m.is_dir():
                continue  # a glob like runs/x/* also matches a sweep's study.db or a PNG
            if (m / "config.yaml").is_file() or (m / "metrics.jsonl").is_file():
                found.append(m)
            else:
                found += sorted(p.parent for p in m.rglob("config.yaml") if not _inside_wandb(p.relative_to(m)))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise RlgenError(f"no run directories (with config.yaml) under {' '.join(patterns)}")
    return unique


def _inside_wandb(path: Path) -> bool:
    """W&B keeps a config.yaml of its own in its run folders; those are not rlgen runs.
    `path` is relative to the folder searched, so the user's own folder names never count."""
    return any(p == "wandb" or p.startswith(("offline-run-", "run-")) for p in path.parts)


def read_run(path: Path) -> RunData:
    """config.yaml and metrics.jsonl are required; summary.json is read when present."""
    path = Path(path)
    if not path.is_dir():
        raise RlgenError(f"{path} is not a run directory")
    config_path = path / "config.yaml"
    if not config_path.is_file():
        raise RlgenError(f"{path} has no config.yaml: is it a run directory (runs/<name>/<run_id>)?")
    try:
        config = yaml.safe_load(config_path.read_text())
    except yaml.YAMLError as e:
        raise RlgenError(f"{config_path} is not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(config, dict):
        raise RlgenError(f"{config_path} does not hold a config (a mapping of keys to values)")
    summary = None
    summary_path = path / "summary.json"
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text())
        except json.JSONDecodeError as e:
            raise RlgenError(f"{summary_path} is corrupt ({e}); delete it to compare from metrics.jsonl alone") from None
    return RunData(path, config, read_metrics(path / "metrics.jsonl"), summary)


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of a metrics.jsonl. A cut-off last line (a run killed mid-write) is skipped with a
    warning; any other bad line is an error that names the file and the line."""
    if not path.is_file():
        raise RlgenError(f"{path.parent} has no metrics.jsonl: the run logged nothing, or it is not a run directory")
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines()
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "global_step" not in row:
                raise ValueError("not an object with global_step")
        except ValueError as e:
            if i == len(lines) and not text.endswith("\n"):
                console.print(f"[yellow]warning:[/] {path}: last line is incomplete (run killed mid-write?); skipped")
                continue
            raise RlgenError(f"{path}:{i}: corrupt metrics row ({e}): {line[:80]!r}") from None
        rows.append(row)
    return rows


def read_runs(patterns: Sequence[str]) -> list[RunData]:
    return [read_run(p) for p in expand(patterns)]


# --- grouping -------------------------------------------------------------------------------------


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _ignored(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS)


_MISSING = object()


def _key(v: Any) -> str:
    """An exact, hashable identity for a config value."""
    return "\0missing" if v is _MISSING else json.dumps(v, sort_keys=True)


def _show(v: Any, short: bool = True) -> str:
    """A display of a config value: floats to 4 significant digits when short, lists as compact JSON."""
    if v is _MISSING:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if short else repr(v)
    return json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else str(v)


def group_runs(runs: Sequence[RunData], by: Sequence[str] | None = None) -> list[Group]:
    """Groups of runs with equal values of the `by` keys, or, without `by`, equal configs up to
    the seed and the logging settings. Labels show what tells the groups apart."""
    flat = [flatten(r.config) for r in runs]
    if by:
        _check_keys(by, flat)
        keys = list(by)
    else:
        all_keys = sorted({k for f in flat for k in f if not _ignored(k)})
        keys = [k for k in all_keys if len({_key(f.get(k, _MISSING)) for f in flat}) > 1]
    buckets: dict[tuple[str, ...], list[RunData]] = {}
    values: dict[tuple[str, ...], list[Any]] = {}
    for run, f in zip(runs, flat):
        ident = tuple(_key(f.get(k, _MISSING)) for k in keys)
        buckets.setdefault(ident, []).append(run)
        values[ident] = [f.get(k, _MISSING) for k in keys]
    labels = _labels(keys, [tuple(map(_show, values[i])) for i in buckets], explicit=bool(by))
    if len(set(labels)) < len(labels):  # two values that look alike at 4 digits: show them whole
        labels = _labels(keys, [tuple(_show(v, short=False) for v in values[i]) for i in buckets], explicit=bool(by))
    return sorted((Group(lab, rs) for lab, rs in zip(labels, buckets.values())), key=lambda g: _natural(g.label))


def _natural(label: str) -> list[Any]:
    """A sort key that orders the numbers in a label by value: seed=2 before seed=10, 4096 before 20000."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", label)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts)]


def _check_keys(by: Sequence[str], flat: Sequence[Mapping[str, Any]]) -> None:
    known = sorted({k for f in flat for k in f})
    for key in by:
        if not any(key in f for f in flat):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RlgenError(f"--by {key}: no run has this config key{hint}")


def _labels(keys: list[str], values: list[tuple[str, ...]], explicit: bool) -> list[str]:
    """Short labels for groups: the run name when names tell groups apart; else `key=value` for the
    differing keys, leaving out keys below a `*.type` that differs (they follow from the type)."""
    if not keys:
        return ["all runs"] * len(values)
    if not explicit and "name" in keys:
        i = keys.index("name")
        names = [v[i] for v in values]
        if len(set(names)) == len(names):
            return names
    full = [", ".join(f"{k}={x}" for k, x in zip(keys, v)) for v in values]
    types = [k[: -len("type")] for k in keys if k.endswith(".type")]
    keep = [i for i, k in enumerate(keys) if not any(k.startswith(t) and not k.endswith(".type") for t in types)]
    short = [", ".join(f"{keys[i]}={v[i]}" for i in keep) for v in values]
    return short if len(set(short)) == len(short) else full


# --- numbers --------------------------------------------------------------------------------------


def curve(run: RunData, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, values, wall seconds) of the rows that carry `metric`, in logged order. Wall time is
    the runner's training+eval clock (`eval/wall_time_s`) where the row has it. A step logged twice
    (a run killed after its checkpoint re-logs the steps since, when it resumes) counts once: its last row."""
    rows = [r for r in run.rows if isinstance(r.get(metric), (int, float)) and not isinstance(r.get(metric), bool)]
    last = {r["global_step"]: i for i, r in enumerate(rows)}
    rows = [r for i, r in enumerate(rows) if last[r["global_step"]] == i]
    steps = np.array([r["global_step"] for r in rows], dtype=float)
    values = np.array([r[metric] for r in rows], dtype=float)
    wall = np.array([r.get("eval/wall_time_s", r.get("time/elapsed_s", math.nan)) for r in rows], dtype=float)
    return steps, values, wall


def first_reach(steps: np.ndarray, values: np.ndarray, wall: np.ndarray, threshold: float,
                mode: Mode = "max") -> tuple[float, float] | None:
    """(step, wall seconds) of the first row at or beyond the threshold, or None."""
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


def summarize(group: Group, metric: str, threshold: float | None = None, mode: Mode = "max",
              method: Method = "t") -> GroupStats:
    finals, bests, walls, steps_to, times_to = [], [], [], [], []
    for run in group.runs:
        steps, values, wall = curve(run, metric)
        finals.append(values[-1])
        bests.append(values.max() if mode == "max" else values.min())
        walls.append(wall_time(run))
        if threshold is not None and (hit := first_reach(steps, values, wall, threshold, mode)) is not None:
            steps_to.append(hit[0])
            times_to.append(hit[1])
    bounds = metric_bounds(group.runs, metric)
    return GroupStats(
        group.label, len(group.runs), Stat.of(finals, method, bounds), Stat.of(bests, method, bounds),
        Stat.of(walls), len(steps_to), Stat.of(steps_to) if steps_to else None,
        Stat.of(times_to) if times_to else None, method, bounds,
    )


def check_metric(runs: Sequence[RunData], metric: str) -> None:
    """Every run must log the metric; otherwise say which do not and what they share."""
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
    names = ", ".join(r.label for r in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
    raise RlgenError(
        f"metric {metric!r} is not logged by {len(missing)} of {len(runs)} runs ({names}){hint}. "
        f"Metrics every run logs: {', '.join(common) or none}; pick one with --metric, or compare fewer runs"
    )


def compare(runs: Sequence[RunData], metric: str, by: Sequence[str] | None = None,
            threshold: float | None = None, mode: Mode = "max",
            method: Method = "t") -> tuple[list[Group], list[GroupStats]]:
    check_metric(runs, metric)
    groups = group_runs(runs, by)
    return groups, [summarize(g, metric, threshold, mode, method) for g in groups]
