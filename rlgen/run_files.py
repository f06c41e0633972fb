"""What a run writes beside its checkpoints, and what it shows while it trains.

`RunFiles` owns config.yaml, metrics.jsonl, the W&B run and summary.json of one run directory:
it opens them once the run may write there (a resume only after its checkpoint is restored),
keeps a resumed run "running" on disk until it ends, and at the end writes the summary and
closes the sinks. Only rank 0 writes. `progress` is the console's progress bar.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rlgen import distributed, rundir, summary_file
from rlgen.config import ExperimentConfig, save_config
from rlgen.errors import RlgenError
from rlgen.identity import MAX_LEN, MAX_TAG, Identity, identity
from rlgen.logging import ConsoleSink, JsonlSink, Logger, console, disk_error, kept_values
from rlgen.logging_wandb import WandbSink, start_error
from rlgen.run_state import RunState
from rlgen.scoring import best_summary, target_summary

SUMMARY = "summary.json"
# the W&B name, group and tags the run's first W&B start gave it, which every resume of it keeps
IDENTITY = "wandb_identity.json"


class RunFiles:
    def __init__(self, cfg: ExperimentConfig, run_dir: Path, rank: int):
        self.cfg, self.run_dir, self.rank = cfg, run_dir, rank
        self.writing = False  # the run's files are open: summary.json and config.yaml may be written
        self.jsonl: JsonlSink | None = None
        self.wandb: WandbSink | None = None

    def open(self, logger: Logger, resumed: bool, keep_rows: int | None = None, state: RunState | None = None) -> None:
        """From here on the run writes into its directory: config.yaml, metrics.jsonl, W&B; their
        sinks join `logger`. `keep_rows`: the rows of metrics.jsonl a resume keeps (those logged up
        to its checkpoint: the ones after it are logged again); None keeps them all. `state`: a
        resume's restored state, whose best and target its W&B summary goes on from."""
        if self.rank != 0:
            return  # only rank 0 logs
        if resumed:
            self._check_rewritable()  # a resume refused here has changed no file of the run
            self.mark_running()
        self.writing = True
        try:
            save_config(self.cfg, self.run_dir / "config.yaml")
        except OSError as e:
            raise disk_error(e, self.run_dir / "config.yaml", "writing the config") from None
        # checkpoints/ is made at the start: empty, it says the run stopped before its first checkpoint;
        # missing, that the run lost it (as `checkpoint.load` then tells)
        try:
            (self.run_dir / "checkpoints").mkdir(exist_ok=True)
        except OSError as e:
            raise disk_error(e, self.run_dir / "checkpoints", "making the checkpoints folder") from None
        try:
            self.jsonl = JsonlSink(self.run_dir / "metrics.jsonl", keep_rows=keep_rows)
        except OSError as e:
            raise disk_error(e, self.run_dir / "metrics.jsonl", "opening the metrics") from None
        logger.add(self.jsonl, required=True)
        if self.cfg.logging.console:
            logger.add(ConsoleSink())
        self._open_wandb(logger, resumed, state)

    def _open_wandb(self, logger: Logger, resumed: bool, state: RunState | None) -> None:
        """The W&B sink, unless W&B is disabled or cannot start (a warning: metrics.jsonl is the record)."""
        mode = os.environ.get("WANDB_MODE", self.cfg.logging.wandb.mode)
        if mode == "disabled":
            return
        try:
            # a resume's W&B summary goes on from the early-stop metric's values in the rows it kept,
            # and from its best and target: the scorer writes those only when they change
            stop = self.cfg.train.early_stop
            logged = kept_values(self.run_dir / "metrics.jsonl", stop.metric) if resumed else ()
            self.wandb = WandbSink(self.run_dir, rundir.wandb_id(self.run_dir), self.cfg, mode, resumed, logged,
                                   who=self._identity(resumed))
            scored = {**best_summary(stop, state), **target_summary(stop, state)} if state is not None else {}
            if scored:
                self.wandb.summary(scored)
            logger.add(self.wandb)
        except Exception as e:  # noqa: BLE001 - W&B is optional; metrics.jsonl is the record
            console.print(f"[yellow]warning:[/] W&B did not start ({escape(start_error(e))}); training "
                          "continues, metrics.jsonl keeps the full record")

    def _identity(self, resumed: bool) -> Identity:
        """The run's W&B name, group and tags: a resume's are those its first W&B start kept, since
        its config.yaml no longer tells the command line's overrides from the file they were given
        over (rlgen/identity.py); a new run's are told from its config and kept."""
        kept = _kept_identity(self.run_dir / IDENTITY) if resumed else None
        if kept is not None:
            return kept
        who = identity(self.cfg)
        try:
            (self.run_dir / IDENTITY).write_text(json.dumps(asdict(who)) + "\n", encoding="utf-8")
        except OSError:
            pass  # not kept: a resume tells it from config.yaml, as a run without the file
        return who

    def _check_rewritable(self) -> None:
        """Refuse a resume that could not rewrite config.yaml or metrics.jsonl (a directory there,
        a read-only file) before it changes any file: found once it opens them, summary.json would
        say "running" and config.yaml hold the resume's settings already, and the run end "failed"."""
        for name in ("config.yaml", "metrics.jsonl"):
            why = _not_rewritable(self.run_dir / name)
            if why is not None:
                raise RlgenError(f"cannot resume {self.run_dir}: its {name} cannot be rewritten ({why}); put the "
                                 f"run's own {name} back as a writable file (chmod u+w) and resume again")

    def read_summary(self) -> Any:
        """The run's summary.json as written (its numbers as the run held them); None when it has
        none or it cannot be read."""
        try:
            return summary_file.from_text((self.run_dir / SUMMARY).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def mark_running(self) -> None:
        """A resumed run is no finished one until it ends again: its summary says "running", so a
        resume killed outright (SIGKILL, a lost machine) opens at its newest checkpoint, not at the
        best of the run it continued."""
        path = self.run_dir / SUMMARY
        old = self.read_summary()  # none yet (an interrupted first run killed outright), or unreadable: nothing to undo
        if not isinstance(old, dict) or old.get("status") == "running":
            return
        try:
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(summary_file.to_text({**old, "status": "running"}), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            pass

    def summary(self, status: str, state: RunState, global_step: int, device: object) -> dict[str, Any]:
        """What summary.json holds: how the run ended, its last evaluation, its best and its target."""
        stop = self.cfg.train.early_stop
        return {
            "status": status,
            "name": self.cfg.name,
            "kind": self.cfg.kind,
            "seed": self.cfg.seed,
            "global_step": global_step,
            "wall_time_s": round(state.train_time_s, 3),
            "final": state.last_eval,
            "best": {"metric": stop.metric, "value": state.best, "global_step": state.best_step},
            "target": stop.target,
            "target_reached": state.target_reached,
            "run_dir": str(self.run_dir.absolute()),  # readable from any working directory
            "device": str(device),
            "distributed": distributed.info(),
        }

    def write_summary(self, summary: dict[str, Any]) -> None:
        """summary.json, unless this process does not write (a replica, or a resume that never
        continued: its summary stays as it was). A failed write is said, not raised: the run's
        own outcome is the error to see."""
        if self.rank != 0 or not self.writing:
            return
        try:
            (self.run_dir / SUMMARY).write_text(summary_file.to_text(summary), encoding="utf-8")
        except OSError as e:
            said = disk_error(e, self.run_dir / SUMMARY, "writing the summary")
            console.print(f"[red]error:[/] {escape(str(said))}")

    # --- W&B extras (a failure is a warning: metrics.jsonl and the checkpoints are the record) ----

    def watch(self, logger: Logger, modules: Mapping[str, Any]) -> None:
        """wandb.watch the experiment's torch `modules`, when logging.wandb.watch asks for it."""
        w = self.cfg.logging.wandb
        if w.watch and self.wandb is not None and self.wandb in logger.sinks:
            try:
                self.wandb.watch(modules, w.watch, w.watch_every)
            except Exception as e:  # noqa: BLE001
                console.print(f"[yellow]warning:[/] wandb.watch failed ({type(e).__name__}: {escape(str(e))}); "
                              "training continues")

    def close(self, logger: Logger, last_eval: Mapping[str, Any], best: float | None, exit_code: int) -> None:
        """W&B's summary and model artifacts, then every sink closed; W&B's run ends with `exit_code`."""
        if self.wandb is not None and self.wandb in logger.sinks:
            self._finish_wandb(last_eval, best)
            self.wandb.exit_code = exit_code
        logger.close()

    def _finish_wandb(self, last_eval: Mapping[str, Any], best: float | None) -> None:
        """The last evaluation in the summary (the early-stop metric keeps its best,last pair), and
        the final and best checkpoints as versions of the run's model artifact."""
        assert self.wandb is not None
        metric = self.cfg.train.early_stop.metric
        try:
            self.wandb.summary({k: v for k, v in last_eval.items() if k != metric})
            if self.cfg.logging.wandb.log_model:
                self.wandb.log_checkpoints(self.run_dir, {"name": self.cfg.name, "kind": self.cfg.kind},
                                           best={metric: best})
        except Exception as e:  # noqa: BLE001
            console.print(f"[yellow]warning:[/] W&B summary/artifacts failed ({type(e).__name__}: "
                          f"{escape(str(e))}); the run directory keeps them")


def _kept_identity(path: Path) -> Identity | None:
    """The identity kept in `path`; None when there is none, or it is not one rlgen writes (within
    W&B's limits, as `identity` keeps them: a damaged file would stop W&B at every resume)."""
    try:
        kept = json.loads(path.read_text(encoding="utf-8"))
        who = Identity(name=kept["name"], group=kept["group"], tags=kept["tags"])
    except (OSError, ValueError, TypeError, KeyError, RecursionError):
        return None
    texts = [(who.name, MAX_LEN), (who.group, MAX_LEN)] + [(t, MAX_TAG) for t in who.tags] \
        if isinstance(who.tags, list) else [(None, 0)]
    return who if all(isinstance(t, str) and 0 < len(t) <= n for t, n in texts) else None


def _not_rewritable(path: Path) -> str | None:
    """Why a run could not read and append to its file `path`; None when it can, or when the file
    is not there (the run makes it)."""
    if not os.path.lexists(path):
        return None
    if not path.is_file():
        return "it is a directory" if path.is_dir() else "it is not a regular file"
    try:
        os.close(os.open(path, os.O_RDWR | os.O_APPEND))  # opened as the run opens it, nothing written
    except OSError as e:
        return e.strerror or str(e)
    return None


def progress(cfg: ExperimentConfig, rank: int) -> Progress:
    """The training progress bar: on rank 0's terminal only; in a pipe or a log file the eval lines
    show progress (a bar there would only print once, at the end)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
        TimeRemainingColumn(), console=console, transient=False,
        disable=not cfg.train.progress or rank != 0 or not console.is_terminal,
    )


def bar_text(last: Mapping[str, Any]) -> str:
    """The bar's label: the first of the headline metrics the logger has seen."""
    for key in ("eval/return_mean", "rollout/ep_return_mean", "gan/loss_g", "league/elo"):
        if isinstance(last.get(key), float):
            return f"train  {key.split('/')[-1]}={last[key]:.4g}"
    return "train"
