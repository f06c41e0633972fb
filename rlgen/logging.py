"""Metric sinks: console, metrics.jsonl (always, the record of truth) and W&B (rlgen.logging_wandb).

Every row carries `global_step`. A sink other than metrics.jsonl that fails is reported once and
dropped: a dead W&B never stops training. metrics.jsonl failing (a full disk) stops the run with a
readable message, because then nothing would be recorded.
"""

from __future__ import annotations

import errno
import json
import math
import os
import time
from pathlib import Path
from typing import Any, Mapping, Protocol

from rich.console import Console
from rich.markup import escape

from rlgen.errors import RlgenError


class _Console(Console):
    """rich's Console, but a reader gone (`rlgen train ... 2>&1 | head -1`) only silences it: rich's
    own `on_broken_pipe` raises SystemExit(1) from inside the print, which would end a training run
    mid-step with no checkpoint."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        to_devnull(self.file)  # any other write to it, such as a library's print to stderr, then goes nowhere


def to_devnull(stream: Any) -> None:
    """Point the descriptor of `stream`, a pipe whose reader went away, at /dev/null
    (https://docs.python.org/3/library/signal.html#note-on-sigpipe): later writes, Python's flush at
    exit included, go nowhere instead of raising BrokenPipeError. A stream without a descriptor (a
    test's capture) is left as it is."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, stream.fileno())
    except (AttributeError, OSError, ValueError):
        pass
    finally:
        os.close(devnull)


# paths stay copyable: no highlighting, no folding, and no emoji (rich reads `:x:` in /tmp/a:x:y as ❌)
console = _Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)
WHOLE_LINE = 1000  # `report_console`'s width off a terminal: longer than any line it prints


def report_console(stderr: bool = False) -> Console:
    """A console for a command's result (a table, figures, paths), on stdout or stderr: a terminal
    gets its own width; a file or a pipe gets whole lines, neither folded nor cut at the 80 columns
    rich assumes off a terminal, so `rlgen eval RUN > scores.txt` keeps a long path whole. On
    stderr it is as quiet as `console`, which shares that stream: a script that silenced rlgen's lines
    (benchmarks/scale.py's in-process sweeps) got the sweep's status tables all the same. Stdout stays
    loud: a result is never silenced by a stderr whose reader went away."""
    out = Console(stderr=stderr, highlight=False, emoji=False, quiet=stderr and console.quiet)
    if not out.is_terminal:
        out.width = WHOLE_LINE  # a table still takes only the width it needs: nothing is padded out to it
    return out


class Sink(Protocol):
    def write(self, row: Mapping[str, Any]) -> None: ...
    def close(self) -> None: ...


class JsonlSink:
    """Appends one JSON object per row and flushes, so a killed run keeps every row it logged.
    `keep_rows`: a resume keeps only the first rows (those logged up to its checkpoint; `rows`
    counts them): what a killed run logged after its checkpoint is logged again."""

    def __init__(self, path: Path, keep_rows: int | None = None):
        self.path = path
        _drop_cut_off_row(path)
        self.rows = _keep_rows(path, keep_rows)
        self._f = open(path, "a", encoding="utf-8")

    def write(self, row: Mapping[str, Any]) -> None:
        try:
            self._f.write(json.dumps(row, default=_jsonable) + "\n")
            self._f.flush()
            self.rows += 1
        except OSError as e:
            raise disk_error(e, self.path, "writing metrics") from None

    def close(self) -> None:
        try:
            self._f.close()
        except OSError as e:  # every row was flushed as it came: a failing close is the write that failed before
            if e.errno != errno.ENOSPC:
                raise disk_error(e, self.path, "closing the metrics") from None


def _keep_rows(path: Path, keep: int | None) -> int:
    """Cut the file after its first `keep` rows (None: keep all); how many rows it holds then."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    rows = data.count(b"\n")  # each row ends in a newline (a cut-off last one is dropped before)
    if keep is None or rows <= keep:
        return rows
    end = 0
    for _ in range(keep):
        end = data.index(b"\n", end) + 1
    with open(path, "rb+") as f:
        f.truncate(end)
    return keep


def kept_elapsed_s(path: Path, keep: int | None) -> float | None:
    """The largest time/elapsed_s among the first `keep` rows of a metrics.jsonl (None: all of
    them), or None where none has one: where a resume that keeps those rows goes on with the clock
    when its checkpoint did not keep the clock itself (written by an older rlgen)."""
    return max((v for v in kept_values(path, "time/elapsed_s", keep) if math.isfinite(v)), default=None)


def kept_values(path: Path, key: str, keep: int | None = None) -> list[float]:
    """The numbers logged as `key` in the first `keep` rows of a metrics.jsonl (None: all of them),
    in order; a row without one, cut off or foreign, gives none."""
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    seen = []
    for line in lines[:keep]:
        try:
            value = json.loads(line).get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                seen.append(float(value))
        # RecursionError: a line nested deeper than json parses; OverflowError: an integer no float holds
        except (ValueError, AttributeError, RecursionError, OverflowError):
            continue
    return seen


def _drop_cut_off_row(path: Path) -> None:
    """A run killed mid-write leaves its last row cut off (no newline): a resume appending after
    it would join the two into one corrupt line, so the cut-off part goes first."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return
    if data and not data.endswith(b"\n"):
        with open(path, "rb+") as f:
            f.truncate(data.rfind(b"\n") + 1)


class ConsoleSink:
    """Prints evaluation rows; training rows are shown by the progress bar instead."""

    def write(self, row: Mapping[str, Any]) -> None:
        evals = {k: v for k, v in row.items() if k.startswith("eval/") and isinstance(v, (int, float))}
        if evals:
            body = "  ".join(f"{k[5:]}={_fmt(v)}" for k, v in evals.items())
            console.print(f"[bold]eval[/] step {row['global_step']:>9,}  {escape(body)}")

    def close(self) -> None:
        pass


class Image:
    """A picture to log: saved under media/ by the caller, shown in W&B as an image."""

    def __init__(self, path: Path, caption: str = ""):
        self.path, self.caption = Path(path), caption


class Video:
    """A recorded episode (an mp4 under media/); shown in W&B as a video."""

    def __init__(self, path: Path, caption: str = ""):
        self.path, self.caption = Path(path), caption


class Table:
    """Rows with named columns, e.g. a payoff matrix; W&B shows it as a table."""

    def __init__(self, columns: list[str], rows: list[list[Any]]):
        self.columns, self.rows = columns, rows


class Logger:
    """Fans one row out to every sink; a failing optional sink is warned about once and dropped."""

    def __init__(self, sinks: list[Sink], required: tuple[Sink, ...] = ()):
        self.sinks = list(sinks)
        self.required = set(map(id, required))
        self._start = time.perf_counter()
        self.last: dict[str, Any] = {}

    @property
    def elapsed_s(self) -> float:
        """The clock of time/elapsed_s: seconds since this logger was made, plus what `continue_clock` added."""
        return time.perf_counter() - self._start

    def continue_clock(self, elapsed_s: float) -> None:
        """A resumed run's time/elapsed_s goes on from `elapsed_s`, where the run it continues left
        it at its checkpoint (the runner keeps it there, beside eval/wall_time_s's clock)."""
        self._start -= elapsed_s

    def add(self, sink: Sink, required: bool = False) -> None:
        """A sink that joins later (the runner opens a resumed run's files only once it has resumed)."""
        self.sinks.append(sink)
        if required:
            self.required.add(id(sink))

    def log(self, metrics: Mapping[str, Any], step: int) -> None:
        row = {"global_step": int(step), "time/elapsed_s": round(self.elapsed_s, 3)}
        row.update({k: _plain(v) for k, v in metrics.items()})
        self.last.update(row)
        for sink in list(self.sinks):
            try:
                sink.write(row)
            except Exception as e:  # noqa: BLE001 - any optional sink failure is survivable
                if id(sink) in self.required:
                    raise
                self.drop(sink, e)

    def summary(self, values: Mapping[str, Any]) -> None:
        """Figures of the whole run (best value, target step) for sinks that keep a summary."""
        self._each("summary", values)

    def config(self, values: Mapping[str, Any]) -> None:
        """More of the run's configuration (e.g. SB3's resolved defaults) for sinks that keep one."""
        self._each("config", values)

    def _each(self, method: str, *args: Any) -> None:
        for sink in list(self.sinks):
            if (call := getattr(sink, method, None)) is None:
                continue
            try:
                call(*args)
            except Exception as e:  # noqa: BLE001 - as in log(): an optional sink's failure is survivable
                if id(sink) in self.required:
                    raise
                self.drop(sink, e)

    def drop(self, sink: Sink, error: BaseException) -> None:
        self.sinks.remove(sink)
        console.print(
            f"[yellow]warning:[/] {type(sink).__name__} failed ({type(error).__name__}: {escape(str(error))}); "
            "training continues, metrics.jsonl keeps the full record"
        )
        try:
            sink.close()
        except Exception:  # noqa: BLE001
            pass

    def close(self) -> None:
        for sink in list(self.sinks):
            try:
                sink.close()
            except Exception as e:  # noqa: BLE001
                if id(sink) in self.required:
                    raise
                console.print(f"[yellow]warning:[/] closing {type(sink).__name__} failed: {escape(str(e))}")


def disk_error(e: OSError, path: Path, doing: str) -> RlgenError:
    """A readable message for a failed write; a full disk says how to fix it."""
    if e.errno == errno.ENOSPC:
        run_dir = next((p for p in Path(path).parents if (p / "config.yaml").is_file()), Path(path).parent)
        if (run_dir / "checkpoints" / "latest").is_file():
            from rlgen.api_configs import resume_line  # imports rlgen.logging

            fix = f"resume with `{resume_line(run_dir)}` (its last complete checkpoint is intact)"
        else:
            fix = "start the run again (it had written no checkpoint yet)"
        return RlgenError(f"disk full while {doing} to {path}: free some space and {fix}")
    return RlgenError(f"could not write {path} while {doing}: {e.strerror or e}")


def _plain(v: Any) -> Any:
    if isinstance(v, (Image, Video, Table, str, bool, int)) or v is None:
        return v
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def _jsonable(v: Any) -> Any:
    # a picture's file as an absolute path, as a run under logging.dir names it: one whose --run-dir
    # was relative named it from the directory it was started in, which a reader elsewhere cannot find
    if isinstance(v, Image):
        return {"_type": "image", "path": os.path.abspath(v.path), "caption": v.caption}
    if isinstance(v, Video):
        return {"_type": "video", "path": os.path.abspath(v.path), "caption": v.caption}
    if isinstance(v, Table):
        return {"_type": "table", "columns": v.columns, "rows": v.rows}
    return str(v)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)


def __getattr__(name: str) -> Any:
    """The W&B sink, moved to rlgen.logging_wandb, importable from here as before (imported when
    asked for: that module imports this one)."""
    if name in ("WandbSink", "finish_wandb_in"):
        from rlgen import logging_wandb

        return getattr(logging_wandb, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
