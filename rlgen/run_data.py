"""A run directory read back from disk: its config, its metrics rows and its summary.

What the runner writes (`runs/<name>/<run_id>/` with `config.yaml`, `metrics.jsonl` and, once it
has ended, `summary.json`), read without running anything: `rlgen compare`, the seeds table and
anything else that looks at finished runs start from a `RunData`.
"""

from __future__ import annotations

import glob
import json
import math
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml
from rich.markup import escape

from rlgen import summary_file
from rlgen.checkpoint import FINISHED
from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.run_state import real
from rlgen.rundir import _WANDB_FOLDER, _WANDB_LOG

NO_SUMMARY = "no summary"
TOO_DEEP = "nested too deeply to parse"


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

    @property
    def status(self) -> str:
        """summary.json's status (completed, stopped_early, pruned, interrupted, failed, running),
        or "no summary": the run was killed, or has not ended yet."""
        status = self.summary.get("status") if isinstance(self.summary, dict) else None
        return status if isinstance(status, str) else NO_SUMMARY

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


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
                found += sorted(p.parent for p in m.rglob("config.yaml") if not _inside_wandb(m, p.parent))
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        raise RlgenError(f"no run directories (with config.yaml) under {' '.join(patterns)}")
    return unique


def _inside_wandb(root: Path, folder: Path) -> bool:
    """W&B keeps a config.yaml of its own in its run folders; those are not rlgen runs. Only the
    folders between `root` (the folder searched) and `folder` are looked at, so the user's own folder
    names never count, and only W&B's full shape is skipped: a user's run dir named `wandb` or
    `run-1` is a run."""
    parts = folder.relative_to(root).parts
    return any(_is_wandb_run_folder(root.joinpath(*parts[:i])) for i in range(1, len(parts) + 1))


def _is_wandb_run_folder(folder: Path) -> bool:
    """`(offline-)run-<YYYYMMDD_HHMMSS>-<id>(-<n>)` holding W&B's log `run-<id>.wandb` (rlgen.rundir)."""
    shape = _WANDB_FOLDER.fullmatch(folder.name)
    if shape is None:
        return False
    try:
        names = os.listdir(folder)
    except OSError:
        return False
    logs = (m[1] for name in names if (m := _WANDB_LOG.fullmatch(name)))
    return any(re.fullmatch(re.escape(log) + r"(-\d+)?", shape[2]) for log in logs)


def read_run(path: Path) -> RunData:
    """config.yaml and metrics.jsonl are required; summary.json is read when present."""
    path = Path(path)
    if not path.is_dir():
        raise RlgenError(f"{path} is not a run directory")
    config = read_config(path)
    return RunData(path, config, read_metrics(path / "metrics.jsonl"), read_summary(path / "summary.json"))


def read_summary(path: Path) -> dict[str, Any] | None:
    """summary.json, None when the run has none. A damaged one (not UTF-8, not JSON, not a JSON
    object) is an error that says how to go on without it."""
    if not path.is_file():
        return None
    try:
        text = path.read_text(encoding="utf-8")
        summary = summary_file.from_text(text)
    except ValueError as e:  # not JSON or nested too deeply to parse (summary_file), or bytes that are not UTF-8
        raise _corrupt_summary(path, str(e)) from None
    if not isinstance(summary, dict):
        raise _corrupt_summary(path, f"{text.strip()[:40]!r} is not a JSON object")
    if (key := _too_large(summary)) is not None:
        raise _corrupt_summary(path, f"{key} is a number too large for a float")
    return summary


def _too_large(data: dict[str, Any]) -> str | None:
    """The dotted key of the first integer in `data` that no float can hold (JSON's integers have no
    limit; numpy and float() raise OverflowError on 1e400 written out), or None. Walked without
    recursion: what json parsed may be nested deeper than Python recurses."""
    stack: list[tuple[str, Any]] = [("", data)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > sys.float_info.max:
            return key.lstrip(".") or "<top>"
        if isinstance(value, dict):
            stack += [(f"{key}.{k}", v) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{key}[{i}]", v) for i, v in enumerate(value)]
    return None


def _corrupt_summary(path: Path, why: str) -> RlgenError:
    return RlgenError(f"{path} is corrupt ({why}); delete it to compare from metrics.jsonl alone")


def read_config(path: Path) -> dict[str, Any]:
    """A run directory's config.yaml as plain data (no interpolation resolved, no class built)."""
    config_path = Path(path) / "config.yaml"
    if not config_path.is_file():
        raise RlgenError(f"{path} has no config.yaml: is it a run directory (runs/<name>/<run_id>)?")
    try:
        config = yaml.safe_load(config_path.read_text(encoding="utf-8"))  # as OmegaConf writes and reads it
    except OSError as e:
        raise _unreadable(config_path, e) from None
    except UnicodeDecodeError as e:
        raise RlgenError(f"{config_path} cannot be read ({e})") from None
    except yaml.YAMLError as e:
        raise RlgenError(f"{config_path} is not valid YAML: {' '.join(str(e).split())}") from None
    except RecursionError:  # PyYAML's parser recurses once per level of nesting
        raise RlgenError(f"{config_path} cannot be read ({TOO_DEEP}): it is not a config rlgen wrote; put the "
                         "run's own config.yaml back") from None
    if not isinstance(config, dict):
        raise RlgenError(f"{config_path} does not hold a config (a mapping of keys to values)")
    return config


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """Rows of a metrics.jsonl. A cut-off last line (a run killed mid-write) is skipped with a
    warning; any other bad line is an error that names the file and the line."""
    if path.is_dir():
        raise RlgenError(f"{path} is a directory, not the run's metrics file: put the run's own metrics.jsonl back")
    if not path.is_file():
        raise RlgenError(f"{path.parent} has no metrics.jsonl: the run logged nothing, or it is not a run directory")
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as e:
        raise _unreadable(path, e) from None
    lines = text.splitlines()
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if not isinstance(row, dict) or "global_step" not in row:
                raise ValueError("not an object with global_step")
            if (key := _too_large(row)) is not None:
                raise ValueError(f"{key} is a number too large for a float")
            step = row["global_step"]
            if not (real(step) and math.isfinite(step)):  # the x of every curve and every threshold
                raise ValueError(f"global_step is {json.dumps(step)[:40]}, not a finite number")
        except (ValueError, RecursionError) as e:  # RecursionError: a line nested deeper than json parses
            if i == len(lines) and not text.endswith("\n"):
                console.print(f"[yellow]warning:[/] {escape(str(path))}: last line is incomplete (run killed "
                              "mid-write?); skipped")
                continue
            raise RlgenError(f"{path}:{i}: corrupt metrics row ({e}): {line[:80]!r}") from None
        rows.append(row)
    return rows


def _unreadable(path: Path, e: OSError) -> RlgenError:
    return RlgenError(f"{path} cannot be read ({e.strerror or e}): make it readable (chmod u+r) and try again")


def read_runs(patterns: Sequence[str]) -> list[RunData]:
    return [read_run(p) for p in expand(patterns)]
