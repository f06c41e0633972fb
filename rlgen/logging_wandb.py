"""The W&B sink: a W&B run in the run directory, fed the rows rlgen.logging's Logger fans out,
with the run's model checkpoints as artifact versions; and the cleanup of a W&B run left open when
its run directory is removed. `wandb` is imported only when a sink is made.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from pydantic import ValidationError

from rlgen import checkpoint
from rlgen.errors import first_line
from rlgen.logging import Image, Table, Video

if TYPE_CHECKING:
    from rlgen.identity import Identity


def finish_wandb_in(run_dir: Path) -> None:
    """Finish the W&B run this process has open in `run_dir`, if any, before that directory is
    removed. A Ctrl-C or SIGTERM between `wandb.init` and its sink's assignment leaves a run no sink
    holds: unfinished, its console capture wrote "aborted" into the removed directory at exit,
    making it again (a directory neither resumable nor reusable), and the process's next
    `wandb.init` found it still open. A run of the caller's own (elsewhere) is left alone."""
    import sys

    wandb = sys.modules.get("wandb")  # never imported: no run to finish
    if wandb is None:
        return
    run = _last_open_run(wandb)  # the sink's, started beside another, is not `wandb.run`
    if run is not None and Path(run.dir).resolve().is_relative_to(Path(run_dir).resolve()):
        run.finish(exit_code=1)


def start_error(e: BaseException) -> str:
    """Why W&B did not start, in one line. A setting wandb.Settings refuses (WANDB_MODE=Offline) is
    a pydantic ValidationError, whose first line says only "1 validation error for Settings": the
    setting, W&B's message and the value it got say which."""
    if isinstance(e, ValidationError) and e.errors():
        err = e.errors()[0]
        where = ".".join(map(str, err.get("loc", ()))) or e.title
        said = str(err.get("msg", "")).removeprefix("Value error, ")
        return f"{type(e).__name__}: W&B setting {where}: {said} (got {err.get('input')!r:.200})"
    return f"{type(e).__name__}: {first_line(e)}"


class WandbSink:
    """A W&B run in the run directory: offline unless the config or WANDB_MODE says otherwise.

    Named, grouped and tagged by what differs from the config the run came from
    (rlgen/identity.py); the early-stop metric keeps its best and last value in the summary.
    `logged`: the values of that metric the run logged before (a resume: those metrics.jsonl keeps).
    `who`: the run's name, group and tags (rlgen.run_files keeps a run's first); default: told from `cfg`.
    """

    def __init__(self, run_dir: Path, run_id: str, cfg: Any, mode: str, resume: bool, logged: Iterable[float] = (),
                 who: Identity | None = None):
        import wandb  # imported here: a broken wandb install must not break `import rlgen`

        from rlgen.identity import MAX_TAG, clip, identity

        self.exit_code = 0  # what the run's process exits with (130 after Ctrl-C), set before close

        w, who = cfg.logging.wandb, who or identity(cfg)
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
            # a run of its own beside one the caller (or an outer rlgen run, from its on_eval) has open,
            # where W&B's default returns that one, to log into and then finish; alone, the default makes
            # it `wandb.run`, which wandb.watch's hooks log to (wandb/integration/torch/wandb_torch.py)
            reinit="create_new" if _last_open_run(wandb) is not None else "default",
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
            if self._wandb.run is not self.run:  # started beside another run: the histograms would go there
                raise RuntimeError("another W&B run open in this process is wandb.run, where wandb.watch logs")
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


def _last_open_run(wandb: Any) -> Any:
    """The W&B run this process started last and has not finished, or None: from W&B's own list, as
    a run started with reinit="create_new" is never `wandb.run`."""
    return wandb.sdk.wandb_setup.singleton().most_recent_active_run


def _to_wandb(wandb: Any, v: Any) -> Any:
    if isinstance(v, Image):
        return wandb.Image(str(v.path), caption=v.caption)
    if isinstance(v, Video):
        return wandb.Video(str(v.path), caption=v.caption)
    if isinstance(v, Table):
        return wandb.Table(columns=v.columns, data=v.rows)
    return v
