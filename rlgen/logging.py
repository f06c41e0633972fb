"""Metric sinks: console, metrics.jsonl (always, the record of truth) and W&B.

Every row carries `global_step`. A sink other than metrics.jsonl that fails is reported once and
dropped: a dead W&B never stops training. metrics.jsonl failing (a full disk) stops the run with a
readable message, because then nothing would be recorded.
"""

from __future__ import annotations

import errno
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Iterable, Mapping, Protocol

from rich.console import Console
from rich.markup import escape

from rlgen.errors import RlgenError, shell_line


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


console = _Console(stderr=True, highlight=False, soft_wrap=True)  # paths stay copyable
WHOLE_LINE = 1000  # `report_console`'s width off a terminal: longer than any line it prints


def report_console(stderr: bool = False) -> Console:
    """A console for a command's result (a table, figures, paths), on stdout or stderr: a terminal
    gets its own width; a file or a pipe gets whole lines, neither folded nor cut at the 80 columns
    rich assumes off a terminal, so `rlgen eval RUN > scores.txt` keeps a long path whole."""
    out = Console(stderr=stderr, highlight=False)
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
        except (ValueError, AttributeError):
            continue
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            seen.append(float(value))
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


def finish_wandb_in(run_dir: Path) -> None:
    """Finish the W&B run this process has open in `run_dir`, if any, before that directory is
    removed. A Ctrl-C or SIGTERM between `wandb.init` and its sink's assignment leaves a run no sink
    holds: unfinished, its console capture wrote "aborted" into the removed directory at exit,
    making it again (a directory neither resumable nor reusable), and the process's next
    `wandb.init` found it still open. A run of the caller's own (elsewhere) is left alone."""
    import sys

    wandb = sys.modules.get("wandb")  # never imported: no run to finish
    run = getattr(wandb, "run", None)
    if run is not None and Path(run.dir).resolve().is_relative_to(Path(run_dir).resolve()):
        run.finish(exit_code=1)


class WandbSink:
    """A W&B run in the run directory: offline unless the config or WANDB_MODE says otherwise.

    Named, grouped and tagged by what differs from the config the run came from
    (rlgen/identity.py); the early-stop metric keeps its best and last value in the summary.
    `logged`: the values of that metric the run logged before (a resume: those metrics.jsonl keeps).
    """

    def __init__(self, run_dir: Path, run_id: str, cfg: Any, mode: str, resume: bool, logged: Iterable[float] = ()):
        import wandb  # imported here: a broken wandb install must not break `import rlgen`

        from rlgen.identity import MAX_TAG, clip, identity

        self.exit_code = 0  # what the run's process exits with (130 after Ctrl-C), set before close

        w, who = cfg.logging.wandb, identity(cfg)
        self._wandb = wandb
        self.run = wandb.init(
            project=w.project,
            entity=w.entity,
            group=w.group or who.group,
            job_type=cfg.kind,
            name=w.name or who.name,
            id=run_id,
            tags=sorted({clip(t, MAX_TAG) for t in cfg.tags()} | set(w.tags) | set(who.tags)),  # a long env id
            config=cfg.model_dump(mode="json"),
            dir=str(run_dir),
            mode=os.environ.get("WANDB_MODE", mode),
            resume="allow" if resume else None,
            save_code=w.save_code,
            # init_timeout: how long a W&B that cannot reach its server may hold up training (its default is 90 s)
            settings=wandb.Settings(console="auto" if w.capture_console else "off", silent=True,
                                    x_disable_stats=not w.system_metrics, init_timeout=w.init_timeout),
        )
        # Every metric is plotted against global_step, so runs of different kinds line up.
        self.run.define_metric("global_step")
        self.run.define_metric("*", step_metric="global_step")
        # The early-stop metric's best value (max or min, as the run's mode) and its last, over the
        # whole run: written here, not by define_metric(summary="max,last"), which sums up only what
        # this process logs, so that a resumed run's summary would forget its best from before
        self._metric, self._mode = cfg.train.early_stop.metric, cfg.train.early_stop.mode
        self.run.define_metric(self._metric, step_metric="global_step", summary="none")
        self._best: float | None = None
        self._last: float | None = None
        for value in logged:
            self._track(value)
        if self._last is not None:
            self._summarize_metric()

    def write(self, row: Mapping[str, Any]) -> None:
        self.run.log({k: _to_wandb(self._wandb, v) for k, v in row.items()})
        value = row.get(self._metric)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            self._track(float(value))
            self._summarize_metric()

    def _track(self, value: float) -> None:
        """A logged value of the early-stop metric: the last, and the best unless it is NaN."""
        self._last = value
        if not math.isnan(value) and (self._best is None or (value > self._best if self._mode == "max"
                                                              else value < self._best)):
            self._best = value

    def _summarize_metric(self) -> None:
        self.run.summary[self._metric] = {**({self._mode: self._best} if self._best is not None else {}),
                                          "last": self._last}

    def summary(self, values: Mapping[str, Any]) -> None:
        self.run.summary.update(dict(values))

    def config(self, values: Mapping[str, Any]) -> None:
        self.run.config.update(dict(values), allow_val_change=True)

    def watch(self, modules: Mapping[str, Any], log: str, every: int) -> None:
        """Histograms of the modules' gradients and/or weights (wandb.watch), every `every` backward passes."""
        if modules:
            self.run.watch(list(modules.values()), log=log, log_freq=every)

    def log_model(self, files: Mapping[str, Path], aliases: list[str], metadata: Mapping[str, Any]) -> None:
        """One version of the run's model artifact (`model-<run id>`), files by their name inside it.
        Offline, the version waits in the run folder and uploads with `wandb sync`."""
        artifact = self._wandb.Artifact(f"model-{self.run.id}", type="model", metadata=dict(metadata))
        for name, path in files.items():
            artifact.add_file(str(path), name=name)
        self.run.log_artifact(artifact, aliases=aliases)

    def log_checkpoints(self, run_dir: Path, meta: Mapping[str, Any], best: Mapping[str, Any]) -> None:
        """The final checkpoint (aliases latest, step_N) and checkpoints/best (best, step_M) as
        versions of the model artifact, each with config.yaml, state.pt and its state.pt.sha256, which
        is what rlgen.load_run reads; one version with both aliases when they are the same step. An
        off-policy state.pt leaves its replay buffer out (`checkpoint.model_only`): the run directory
        keeps it for resuming."""
        from rlgen import checkpoint  # checkpoint.py imports this module

        ckpts = run_dir / "checkpoints"
        last, best_dir = checkpoint.latest(ckpts), checkpoint.best(ckpts)
        same = best_dir is not None and last is not None and checkpoint.step_of(best_dir) == checkpoint.step_of(last)
        # the best first: W&B moves `latest` to the version logged last
        versions = [(best_dir, ["best"])] if best_dir is not None and not same else []
        if last is not None:
            versions.append((last, ["latest", "best"] if same else ["latest"]))
        with tempfile.TemporaryDirectory(prefix="rlgen-artifact-") as tmp:  # W&B copies each file as it is added
            for path, aliases in versions:
                step = checkpoint.step_of(path)
                lean = checkpoint.model_only(path, Path(tmp) / f"step_{step}")  # no replay buffer
                files = {"config.yaml": run_dir / "config.yaml", checkpoint.STATE: lean / checkpoint.STATE}
                if (lean / checkpoint.CHECKSUM).is_file():  # load_run verifies state.pt against it, as in the run
                    files[checkpoint.CHECKSUM] = lean / checkpoint.CHECKSUM
                self.log_model(files, [*aliases, f"step_{step}"],
                               {"global_step": step, **meta, **(best if "best" in aliases else {})})

    def close(self) -> None:
        self.run.finish(exit_code=self.exit_code)

    @property
    def dir(self) -> str:
        return str(Path(self.run.dir).parent)


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
            fix = f"resume with `{shell_line('rlgen', 'train', '--resume', run_dir)}` (its last complete checkpoint is intact)"
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


def _to_wandb(wandb: Any, v: Any) -> Any:
    if isinstance(v, Image):
        return wandb.Image(str(v.path), caption=v.caption)
    if isinstance(v, Video):
        return wandb.Video(str(v.path), caption=v.caption)
    if isinstance(v, Table):
        return wandb.Table(columns=v.columns, data=v.rows)
    return v


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if math.isnan(v) else f"{v:.4g}"
    return str(v)
