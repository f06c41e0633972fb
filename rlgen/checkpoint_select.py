"""Which checkpoint to open: the names of a run's checkpoint layout (see `rlgen.checkpoint`), the
checkpoints a run directory holds, and the choice among them (`best`, `latest`, `step_N`) that
`rlgen.load_run(checkpoint=...)` and the commands' `--checkpoint` make. Reading and writing a
checkpoint is `rlgen.checkpoint`'s."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rlgen import rundir, summary_file
from rlgen.errors import RlgenError, first_line

LATEST = "latest"
BEST = "best"  # checkpoints/best/: the checkpoint of the best evaluation, kept beside the last k
STATE = "state.pt"
FINISHED = ("completed", "stopped_early", "pruned")  # summary.json statuses of a run that ended on its own
CHOICE_WORDS = ("best", "latest", "step_N")
CHOICES = "best, latest or step_N"  # as a command line says them


def step_of(path: Path) -> int:
    """The global step of a `step_<N>` or `best` checkpoint directory (-1 when it does not say)."""
    try:
        if path.name == BEST:  # a regular file only: a fifo there would wait for ever
            return int((path / "step").read_text()) if (path / "step").is_file() else -1
        return int(path.name.split("_", 1)[1])
    except (IndexError, ValueError, OSError):
        return -1


def best(ckpt_dir: Path) -> Path | None:
    """`checkpoints/best/` when the run has kept one (not yet verified)."""
    path = ckpt_dir / BEST
    return path if (path / STATE).is_file() and (path / "step").is_file() else None


def latest(ckpt_dir: Path) -> Path | None:
    """The checkpoint directory `latest` points to, when it exists (not yet verified)."""
    pointer = ckpt_dir / LATEST
    if not pointer.is_file():
        return None
    path = ckpt_dir / pointer.read_text().strip()
    return path if (path / STATE).is_file() else None


def candidates(path: Path) -> tuple[list[Path], int | None]:
    """Checkpoints to try for `path`, best first, and the newest step the run had written.

    A `step_<N>` directory: only itself. A run directory or its `checkpoints/` folder: every
    complete step directory, newest first (each is verified when read, so `latest` is only a
    hint: a process killed between renaming a checkpoint and moving `latest` loses nothing),
    with `best/` in its place by step when no step directory holds the same step."""
    path = Path(path)
    if (path / STATE).is_file() or path.name.startswith("step_") or path.name == BEST:
        return [path], step_of(path)
    ckpt_dir = path if (path / LATEST).exists() or any(path.glob("step_*")) else path / "checkpoints"
    if not ckpt_dir.is_dir():
        return [], None
    steps = [p for p in ckpt_dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")]
    kept = best(ckpt_dir)
    if kept is not None and step_of(kept) not in {step_of(p) for p in steps}:
        steps.append(kept)  # pruned from the last k, still a complete checkpoint of this run
    steps.sort(key=step_of, reverse=True)
    named = ckpt_dir / (ckpt_dir / LATEST).read_text().strip() if (ckpt_dir / LATEST).is_file() else None
    newest = max([step_of(p) for p in steps] + ([step_of(named)] if named is not None else []), default=None)
    return steps, newest


# --- the choice -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spelling:
    """How a caller's user gives the choice: `--checkpoint best` on the command line,
    `checkpoint='best'` in Python. A message that asks for another choice says it their way."""

    name: str  # "--checkpoint" (an option) or "checkpoint" (a keyword argument)
    python: bool  # a keyword argument: `name=` and the values as Python strings

    def values(self, *choices: str) -> str:
        """`best, latest or step_N` (in Python: `'best', 'latest' or 'step_N'`)."""
        shown = [repr(c) if self.python else c for c in choices]
        return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"

    def given(self, *choices: str) -> str:
        """`--checkpoint latest or step_N` (in Python: `checkpoint='latest' or 'step_N'`)."""
        return f"{self.name}{'=' if self.python else ' '}{self.values(*choices)}"


API = Spelling("checkpoint", python=True)  # rlgen.load_run, record, export: their `checkpoint` parameter


class CheckpointChoiceError(RlgenError):
    """A choice of checkpoint that names none the run can open. Its message is worded for the
    Python API (`checkpoint='step_9'`); `worded` says it for another caller, as the CLI does for
    its `--checkpoint` option."""

    def __init__(self, words: Callable[[Spelling], str]):
        self._words = words
        super().__init__(words(API))

    def worded(self, spelling: Spelling) -> str:
        return self._words(spelling)

    def __reduce__(self) -> tuple[type, tuple[str]]:  # to another process (a lambda does not pickle): as worded
        return RlgenError, (str(self),)


def select(path: Path, which: str | None = None) -> tuple[Path, Path, str]:
    """`(run_dir, what to load, label)` for the checkpoint `which` of `path`.

    `path` is a run directory (or a W&B model artifact's folder) or one of its checkpoint
    directories (`checkpoints/step_N`, `checkpoints/best`). `which` is `best`, `latest`, `step_N`
    (or `N`), or a checkpoint directory of the same run. By default a checkpoint directory is
    itself, and a run directory gives its best checkpoint when the run finished and kept one
    (`best/`, by `train.early_stop.metric`), else its latest: an interrupted run is opened where
    it stopped, as `--resume` would continue it. A `which` that names no checkpoint of the run
    raises `CheckpointChoiceError`."""
    path = Path(path)
    try:
        run_dir, in_ckpts = _run_dir(path, which)
    except OSError as e:  # is_file() raises for a path the system refuses to look up (a name too long)
        raise RlgenError(f"cannot open {path}: {e.strerror or e}; give a run directory (runs/<name>/<id>) or one of "
                         "its checkpoint directories") from None
    if which is None:
        return _default(path, run_dir, in_ckpts)
    if in_ckpts:
        raise CheckpointChoiceError(lambda o: f"give either a checkpoint directory ({path}) or "
                                    f"{o.given(str(which))}, not both")
    text = str(which).strip()
    if text == LATEST:
        return run_dir, run_dir, "latest"
    if text == BEST:
        return run_dir, _kept_best(run_dir), "best"
    return _by_name(run_dir, which)


def _run_dir(path: Path, which: str | None) -> tuple[Path, bool]:
    """The run directory of `path`, and whether `path` is one of its checkpoint directories."""
    if path.is_file():  # `runs/x/<id>/config.yaml`: its folder was meant
        meant = path.parent if (path.parent / "config.yaml").is_file() or (path.parent / STATE).is_file() else None
        raise RlgenError(f"{path} is a file, not a run directory: "
                         + (f"give its folder, {meant}" if meant else "runs live under runs/<name>/<id>"))
    if which is not None and not str(which).strip():
        raise RlgenError(f"the checkpoint to open is empty ({which!r}): give best, latest or step_N, or "
                         "none for the default (a finished run's best, an interrupted run's latest)")
    full = path.absolute()  # `step_N` given from inside checkpoints/ has a parent only in full
    # a run directory may itself sit in a folder named "checkpoints": it holds its config
    in_ckpts = full.parent.name == "checkpoints" and not (path / "config.yaml").is_file()
    run_dir = path
    if in_ckpts:  # relative paths stay relative (messages name what the user typed)
        run_dir = full.parent.parent if path.is_absolute() else Path(os.path.relpath(full.parent.parent))
    if not (run_dir / "config.yaml").is_file() and not (path / STATE).is_file():
        raise RlgenError(f"{path} is not a run directory (no config.yaml); runs live under runs/<name>/<id>")
    rundir.check_links(run_dir)  # what opens it may write into it (eval --video, media)
    return run_dir, in_ckpts


def _default(path: Path, run_dir: Path, in_ckpts: bool) -> tuple[Path, Path, str]:
    """No choice given: a checkpoint directory itself; a finished run's best; else the latest."""
    if in_ckpts or (path / STATE).is_file():
        return run_dir, path, "best" if path.name == BEST else path.name
    ckpt_dir = run_dir / "checkpoints"
    kept, summary = best(ckpt_dir), _summary(run_dir, quiet=False) or {}
    if summary.get("status") in FINISHED and (kept is not None or (ckpt_dir / BEST).is_dir()) \
            and _disowned(run_dir, summary) is None:
        # a damaged best/ fails to load, and Run.experiment falls back to the newest, with a warning
        return run_dir, kept or ckpt_dir / BEST, "best"
    return run_dir, run_dir, "latest"


def _kept_best(run_dir: Path) -> Path:
    ckpt_dir = run_dir / "checkpoints"
    kept = best(ckpt_dir)
    if (why := _disowned(run_dir)) is not None:
        raise CheckpointChoiceError(lambda o: f"{run_dir} has no best checkpoint: {why}; use "
                                    f"{o.given('latest', 'step_N')}")
    if kept is None and (ckpt_dir / BEST).is_dir():
        raise CheckpointChoiceError(lambda o: f"the best checkpoint {ckpt_dir / BEST} is missing or damaged ({STATE} "
                                    f"or its step file is gone); use {o.given('latest', 'step_N')}")
    if kept is None:
        why = _why_no_best(run_dir)
        raise CheckpointChoiceError(lambda o: f"{run_dir} has no best checkpoint (checkpoints/best): {why}; use "
                                    f"{o.given('latest', 'step_N')}")
    return kept


def _disowned(run_dir: Path, summary: dict | None = None) -> str | None:
    """Why `checkpoints/best/` is not the best that the run's summary.json names (a best/ kept by
    the train.early_stop a resume changed, until its first checkpoint removes it: scoring.Scorer);
    None when it is, or when best/ or the summary does not say its step. `summary`: the run's, when
    read already."""
    marked = step_of(run_dir / "checkpoints" / BEST)
    named = (summary if summary is not None else _summary(run_dir, quiet=True) or {}).get("best")
    if marked < 0 or not isinstance(named, dict) or "global_step" not in named or named["global_step"] == marked:
        return None
    if named["global_step"] is None:
        return (f"checkpoints/best (step {marked:,}) was kept under an earlier train.early_stop, and summary.json "
                "names none")
    return f"checkpoints/best holds step {marked:,}, but summary.json names step {named['global_step']} as the best"


def _why_no_best(run_dir: Path) -> str:
    """The early-stop metric never logged, logged as no number (a picture), or as NaN or inf only
    (never a best: scoring.Scorer), read from the run's config.yaml and metrics.jsonl as data."""
    from rlgen.run_data import read_run
    from rlgen.scoring import logged_as

    never = "the run never evaluated its early-stop metric"
    try:
        run = read_run(run_dir)
        metric = run.config["train"]["early_stop"]["metric"]
    except (RlgenError, OSError, UnicodeDecodeError, TypeError, KeyError):
        return never
    values = [row[metric] for row in run.rows if metric in row]
    numbers = [v for v in values if isinstance(v, (int, float))]
    if not values or any(math.isfinite(v) for v in numbers):
        return never
    if not numbers:
        return (f"its early-stop metric {metric} is not a number ({logged_as(values[0])}) at any evaluation "
                f"({len(values)}), and only a number can be the best")
    return (f"its early-stop metric {metric} was NaN or inf at every evaluation ({len(values)}), and such a value is "
            "never the best")


def _by_name(run_dir: Path, which: str) -> tuple[Path, Path, str]:
    """`step_N`, `N`, or a checkpoint directory of `run_dir` by its path."""
    ckpt_dir, text = run_dir / "checkpoints", str(which).strip()
    name = f"step_{text}" if text.isdigit() else text
    if name.startswith("step_") and "/" not in name:
        target = ckpt_dir / name
    else:  # a checkpoint directory by path: it must belong to this run
        target = Path(text)
        if target.parent.resolve() != ckpt_dir.resolve():
            raise CheckpointChoiceError(lambda o: f"{o.given(str(which))} is not a checkpoint of {run_dir}; "
                                        f"use {o.values(*CHOICE_WORDS)}")
    if not (target / STATE).is_file() and (kept := best(ckpt_dir)) is not None and target.parent == ckpt_dir \
            and step_of(kept) >= 0 and target.name == f"step_{step_of(kept)}":
        return run_dir, kept, target.name  # pruned from the last k, kept as best: the same state
    if not (target / STATE).is_file():
        steps = sorted((p for p in ckpt_dir.glob("step_*") if (p / STATE).is_file()), key=step_of)
        have = ", ".join([p.name for p in steps] + ([BEST] if best(ckpt_dir) is not None else [])) or "none"
        raise CheckpointChoiceError(lambda o: f"no checkpoint {which!r} in {run_dir}: it has {have} "
                                    f"({o.name} takes {o.values(*CHOICE_WORDS)})")
    return run_dir, target, "best" if target.name == BEST else target.name


def run_status(run_dir: Path, quiet: bool = False) -> str | None:
    """The status in a run's summary.json; None when it has none (a run that never finished writing
    one: interrupted, or running) or one that cannot be read (said on the console unless `quiet`)."""
    status = (_summary(run_dir, quiet) or {}).get("status")
    return status if isinstance(status, str) else None


def _summary(run_dir: Path, quiet: bool) -> dict | None:
    """A run's summary.json; None when it has none, or one that cannot be read (said on the console
    unless `quiet`)."""
    path = run_dir / "summary.json"
    try:
        if not path.is_file():  # nothing else is opened: a fifo there would wait for ever
            return _status_unknown(path, "not a regular file", quiet) if path.exists() else None
        summary = summary_file.from_text(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:  # ValueError: not JSON, or nested too deeply to parse (summary_file)
        return _status_unknown(path, f"{type(e).__name__}: {first_line(e)}", quiet)
    return summary if isinstance(summary, dict) else _status_unknown(path, "not a JSON object", quiet)


def _status_unknown(path: Path, why: str, quiet: bool) -> None:
    """No status: a summary.json that cannot be read, said on the console unless `quiet`."""
    if quiet:
        return None
    from rich.markup import escape

    from rlgen.logging import console

    console.print(f"[yellow]warning:[/] {escape(str(path))} is unreadable ({why}), so whether the "
                  "run finished is unknown: opening its newest intact checkpoint (ask for checkpoint best to open "
                  "its best)")
    return None
