"""The one training-loop owner.

An experiment kind (RL, GAN, self-play, ...) is an object implementing `Experiment`: it trains one
unit at a time and can evaluate and (de)serialise itself. The runner owns everything else: seeds,
device and threads, the run directory, logging, periodic evaluation, checkpoints, resume, early
stopping, SIGINT/SIGTERM, and the progress bar. Adding a kind never touches this file.

This file is the loop; the runner holds its checkpoints and resume (`rlgen.run_checkpoints`), the
scoring (`rlgen.scoring`: best value, target, patience, divergence), the run's other files
(`rlgen.run_files`: config, metrics, W&B, summary.json) and its resumable state (`rlgen.run_state`).

Example::

    exp = MyKind(cfg)                 # cheap: nothing heavy until setup()
    summary = Runner(cfg, exp).run()  # -> {"status": "completed", "global_step": ..., ...}
"""

from __future__ import annotations

import signal
import sys
import threading
import time
from contextlib import ExitStack, nullcontext
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from rich.markup import escape

from rlgen import checkpoint, distributed, run_checkpoints, rundir, transfer
from rlgen.api_args import _shown
from rlgen.config import ExperimentConfig
from rlgen.errors import Diverged, Interrupted, RlgenError, RunFailed, first_line
from rlgen.experiment import Experiment, RunContext, eval_mode, prefers_accelerator
from rlgen.logging import Logger, console
from rlgen.logging_wandb import finish_wandb_in
from rlgen.process import (choose_device, default_threads, process_state_kept, seed_everything, torch_defaults,
                           training_alone)
from rlgen.registry import registered_names_only
from rlgen.run_files import RunFiles, bar_text, progress
from rlgen.run_state import RunState
from rlgen.scoring import NOT_PLAIN, DivergenceWatch, Scorer, plain_value
from rlgen.unit_checks import UnitChecks

__all__ = ["Experiment", "RunContext", "RunFailed", "Runner", "choose_device", "eval_mode", "prefers_accelerator",
           "process_state_kept"]

class Runner:
    def __init__(self, cfg: ExperimentConfig, experiment: Experiment, *, resume_dir: Path | None = None,
                 on_eval: Callable[[int, dict[str, Any]], bool] | None = None, run_dir: Path | None = None,
                 resume_state: dict[str, Any] | None = None, trust: bool = False,
                 untrusted_config: Path | None = None):
        """`on_eval(global_step, eval_metrics)` is called after every evaluation; returning True
        stops the run with status "pruned" (e.g. an Optuna trial that is doing worse than others).
        `run_dir`: where a new run goes (created, or existing and empty); default a new directory
        under logging.dir/name. `resume_state`: the checkpoint of `resume_dir`, when the caller has
        already read it. `trust`: an old-format checkpoint may be read (its numpy, gymnasium and SB3 objects only).
        `untrusted_config`: the file `cfg` was read from, when it may come from anyone (a resume
        without --trust): the names setup passes on (a data source's env_id) resolve as in that file."""
        self.cfg = cfg
        self.exp = experiment
        self.on_eval = on_eval
        self.pruned = False
        self.trust = trust
        self.untrusted_config = untrusted_config
        self.resume_dir = Path(resume_dir) if resume_dir else None
        self._chosen_dir = Path(run_dir) if run_dir else None
        # a new run's directory is made (exclusively) when it starts; until then, where it will most
        # likely go (another run that took this id in the meantime makes it draw again)
        self.run_dir = self.resume_dir or self._chosen_dir or rundir.plan(Path(cfg.logging.dir) / cfg.name, cfg.seed)
        self._resume_state = resume_state
        self.state = RunState(next_eval=cfg.train.eval_every, next_ckpt=self._ckpt_every)
        self._stop_signal: int | None = None  # what the run stops for (under torchrun, once every rank agreed)
        self._signal_received: int | None = None  # by this process: under torchrun, acted on only once agreed
        self._started = False  # a unit was trained: the run directory holds a run
        self._saved_step: int | None = None  # the step of the last checkpoint this process wrote
        self._loop_start: float | None = None  # perf_counter() at which the loop's clock (train_time_s) read 0
        self.rank, self.world_size = 0, 1

    @property
    def _ckpt_every(self) -> int:
        return self.cfg.train.checkpoint_every or self.cfg.train.eval_every

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to the end. A resumed run writes nothing into its directory until the checkpoint
        is restored: a resume that fails leaves every file of the run as it was. One run trains in a
        process at a time, with torch's defaults (`torch_defaults`), whatever the caller set."""
        with training_alone(), torch_defaults():
            return self._train()

    def _train(self) -> dict[str, Any]:
        distributed.check_data_parallel(self.exp, self.cfg.kind)  # a bad torchrun job: refused before any file
        device = choose_device(self.cfg.device, prefers_accelerator(self.exp))  # before anything is created
        self.device = device
        owns_group = not distributed.is_initialized()
        self.rank, self.world_size = distributed.init_distributed(device)
        owns_group = owns_group and distributed.is_initialized()
        made: list[Path] | None = None  # what this new run's directory took to make: undone if it never starts
        previous = self._setup_signals()
        threads = torch.get_num_threads()  # the caller's, theirs again when the run ends (`rlgen.train`)
        try:
            with ExitStack() as held:
                refused: RlgenError | None = None
                try:
                    if self.resume_dir is None:
                        if self.rank == 0:
                            made = self._make_run_dir(held)  # set once the directory is ours: a refused --run-dir is someone's run
                    elif not self.resume_dir.is_dir():
                        gone = "does not exist" if not self.resume_dir.exists() else "is not a directory"
                        raise RlgenError(f"cannot resume: {self.resume_dir} {gone}; give the run directory to continue")
                    else:  # before the lock file: the run's files are written from here on
                        rundir.check_links(self.resume_dir)
                        if self.rank == 0:
                            held.enter_context(rundir.locked(self.run_dir))
                except RlgenError as e:
                    refused = e
                if self.world_size > 1:  # every rank writes into rank 0's directory, or stops on the same line
                    self.run_dir, refused = distributed.agree_on_start(self.run_dir, refused)
                if refused is not None:
                    raise refused
                resume_state = self._resume_state or (self._load_resume() if self.resume_dir else None)
                self._run(resume_state, device)
        except (RlgenError, KeyboardInterrupt) as e:
            # bad input found while the experiment was set up or began its first unit (a setting SB3
            # refuses, missing demos), or an interrupt then: a new run that never trained a unit
            # leaves no directory behind (a crash keeps it: its summary is the evidence; so does
            # RunFailed, an env's own error said in one line)
            if made is not None and not self._started and not isinstance(e, RunFailed) and self.run_dir.is_dir():
                finish_wandb_in(self.run_dir)
                rundir.discard(self.run_dir, made)
            raise
        finally:
            torch.set_num_threads(threads)
            for s, handler in previous.items():
                signal.signal(s, handler)
            if owns_group:  # NCCL warns at exit about a process group left open
                import torch.distributed as dist

                if sys.exc_info()[0] is None:
                    dist.barrier()  # every rank done with the group before any rank tears it down
                dist.destroy_process_group()
        return self.summary

    def _make_run_dir(self, held: ExitStack) -> list[Path]:
        """A new run's directory (rank 0 makes it), locked in `held`; what making it took, undone
        if the run never starts. Refused the lock, only what stays empty of it is undone: another
        process given the same --run-dir (which may have made it first) holds it, and its .lock."""
        if self._chosen_dir:
            made = rundir.absent(self._chosen_dir)
            self.run_dir = rundir.claim(self._chosen_dir)
        else:
            made = rundir.absent(self.run_dir.parent, "logging.dir and name")
            self.run_dir = rundir.create(self.run_dir.parent, self.cfg.seed, planned=self.run_dir)
            made = [self.run_dir, *made]  # the run's directory is always made by this call
        try:
            held.enter_context(rundir.locked(self.run_dir, new=True))
        except RlgenError:
            rundir.prune(made)
            raise
        return made

    def _run(self, resume_state: dict[str, Any] | None, device: torch.device) -> None:
        torch.set_num_threads(self.cfg.train.threads or default_threads(device, self.exp))
        seed_everything(self.cfg.seed)
        self.logger = Logger([])  # sinks join once the run's files may be written
        self.files = RunFiles(self.cfg, self.run_dir, self.rank)
        self.scorer = Scorer(self.cfg.train.early_stop, self.state, self.logger, quiet=self.rank != 0)
        self.divergence = DivergenceWatch(self.run_dir, self.exp, _source(self.cfg))
        self.checks = UnitChecks(self.cfg.kind)
        ctx = RunContext(self.cfg, self.run_dir, device, self.logger, self.cfg.seed, self.rank, self.world_size,
                         resumed=resume_state is not None)
        status = "failed"
        try:
            if resume_state is None:
                self.files.open(self.logger, resumed=False)
            # a resume takes transferred weights from its checkpoint, not their source run
            with (transfer.restoring() if resume_state is not None else nullcontext(),
                  registered_names_only(str(self.untrusted_config)) if self.untrusted_config else nullcontext()):
                self.exp.setup(ctx)
            if self.world_size > 1 and (signum := distributed.agree_on_signal(self._signal_received)):
                raise Interrupted(signum)  # held while some rank set up: all abort, as one process does at once
            if resume_state is not None:
                self._restore(resume_state, device)
                if self.rank == 0:
                    self.scorer.repair_best(self.run_dir / "checkpoints")
                if self._nothing_left():  # a finished run resumed as it is: no file changes but a stale summary
                    status = self._as_it_ended()
                    return
                # rows logged after the checkpoint a resume starts from are logged again: they go
                self.files.open(self.logger, resumed=True, keep_rows=self.state.metrics_rows, state=self.state)
            self.files.watch(self.logger, dict(getattr(self.exp, "modules", dict)()))
            self._announce(device)
            status = self._loop()
        except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint now, but the last one resumes
            status = "interrupted" if self._started or resume_state is not None else status
            raise
        finally:
            self._finish(status)

    def _loop(self) -> str:
        cfg, exp, st = self.cfg.train, self.exp, self.state
        # Python delivers signals to the main thread only, and refuses handlers set from another
        handled = (signal.SIGINT, signal.SIGTERM) if _main_thread() else ()
        previous = {s: signal.signal(s, self._on_signal) for s in handled}
        status = "completed"
        # the loop's wall clock, whole (units, evaluations, logging, checks, checkpoints), set up left
        # out; a resumed run's goes on from its checkpoint's
        self._loop_start = time.perf_counter() - st.train_time_s
        try:
            with progress(self.cfg, self.rank) as bar:
                task = bar.add_task("train", total=cfg.total_steps, completed=exp.global_step)
                while exp.global_step < cfg.total_steps:
                    t0, step0 = time.perf_counter(), exp.global_step
                    try:
                        metrics = self.checks.unit(exp.train_unit(), step0, exp.global_step)
                    except Diverged as e:
                        raise RlgenError(self.divergence.message(str(e))) from None
                    self._started = True
                    dt = time.perf_counter() - t0
                    self.divergence.check(metrics, exp.global_step)
                    metrics["time/fps"] = (exp.global_step - step0) / max(dt, 1e-9)
                    self.logger.log(metrics, exp.global_step)
                    bar.update(task, completed=exp.global_step, description=bar_text(self.logger.last))
                    ended = None
                    if exp.global_step >= st.next_eval and self._evaluate():
                        ended = "pruned" if self.pruned else "stopped_early"
                    if self.world_size > 1:
                        ended = self._agree_after_unit(ended)
                    if ended is not None:
                        status = st.stopped = ended
                    # a new best forces a checkpoint, to keep as best; the last unit's scheduled one
                    # waits for the final evaluation below, to be written once with it
                    due = exp.global_step >= st.next_ckpt and not self._final_eval_due()
                    if due or status != "completed" or self._stop_signal or self.scorer.new_best:
                        self._checkpoint()
                    if status != "completed":  # the run is over, whatever signal came during its last evaluation
                        return status
                    if self._stop_signal is not None:
                        return "interrupted"
            if self._final_eval_due():
                self._evaluate()
                self._checkpoint()
            elif self._saved_step != exp.global_step:  # written again, it would be a copy: best/ links the first
                self._checkpoint()
            return status
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _agree_after_unit(self, ended: str | None) -> str | None:
        """Under torchrun, what all ranks act on after a unit: a signal any rank received (each at its
        own moment), and rank 0's evaluation (`ended`, a new best). No rank acts on a signal before:
        alone, it would wait in the final barrier while the others train on. One that comes after the
        all-reduce read it (in it, or while rank 0 checkpoints) is agreed after the next unit."""
        self._stop_signal, ended, self.scorer.new_best = distributed.agree_after_unit(
            self._signal_received, ended, self.scorer.new_best)
        self.pruned = ended == "pruned"
        return ended

    def _final_eval_due(self) -> bool:
        """The budget is spent and this step was not evaluated: the loop ends with an evaluation."""
        step = self.exp.global_step
        return step >= self.cfg.train.total_steps and self.state.last_eval.get("global_step") != step

    def _evaluate(self) -> bool:
        """Evaluate, track the best and the target; True when early stopping or `on_eval` says stop,
        which an evaluation at or past train.total_steps never does: that run has completed."""
        st, step = self.state, self.exp.global_step
        st.evals += 1
        every = self.cfg.train.video_every
        video_dir = self.run_dir / "media" / "videos" / f"step_{step}" if every and st.evals % every == 0 else None
        with eval_mode(self.exp):
            out = self.exp.evaluate(video_dir=video_dir) if video_dir else self.exp.evaluate()
            metrics = self.checks.evaluation(out)
        self._clock()  # the time to target: everything the loop did up to this evaluation's end
        while st.next_eval <= step:
            st.next_eval += self.cfg.train.eval_every
        stop = self.scorer.score(metrics, step)
        metrics["eval/wall_time_s"] = round(st.train_time_s, 3)
        self.logger.log(metrics, step)
        kept = {k: plain_value(v) for k, v in metrics.items()}  # numpy's and 0-d tensors' numbers as Python's
        st.last_eval = {"global_step": step, **{k: v for k, v in kept.items() if v is not NOT_PLAIN}}
        pruned = self.on_eval is not None and self._call_on_eval(step, dict(st.last_eval))
        if step >= self.cfg.train.total_steps:
            # the budget is spent: the run completed, whatever this evaluation says (a target reached
            # is recorded all the same), be it a scheduled evaluation or the one the loop adds at the end
            return False
        self.pruned = pruned
        return stop or pruned

    def _call_on_eval(self, step: int, metrics: dict[str, Any]) -> bool:
        """The caller's hook. When it raises, the experiment and this evaluation are still sound: they
        are checkpointed first (a new best as the best), as Ctrl-C does, so the failed run keeps the
        best its summary names and resumes or opens from this step. Under torchrun every rank must
        checkpoint together, which a hook failing on one rank cannot promise: there it is a crash."""
        try:
            return _stop_asked(self.on_eval(step, metrics))
        except BaseException:  # Ctrl-C or sys.exit() in the hook too: the run they stop resumes from here
            if self.world_size == 1:
                try:
                    self._checkpoint()
                except Exception as e:  # noqa: BLE001 - the hook's own error is the one to see
                    console.print(f"[yellow]warning:[/] no checkpoint kept after on_eval failed: {first_line(e)}")
            raise

    # --- checkpoints and resume (`rlgen.run_checkpoints`) --------------------------------------

    def _clock(self) -> None:
        """`train_time_s` read off the loop's wall clock (while the loop runs)."""
        if self._loop_start is not None:
            self.state.train_time_s = time.perf_counter() - self._loop_start

    def _checkpoint(self) -> None:
        run_checkpoints.write_checkpoint(self)

    def _schedule_next_checkpoint(self) -> None:
        while self.state.next_ckpt <= self.exp.global_step:
            self.state.next_ckpt += self._ckpt_every

    def _reschedule(self) -> None:
        run_checkpoints.reschedule(self)

    def _load_resume(self) -> dict[str, Any]:
        assert self.resume_dir is not None
        return checkpoint.load(self.resume_dir, trust=self.trust)

    def _restore(self, state: dict[str, Any], device: torch.device) -> None:
        run_checkpoints.restore(self, state, device)

    def _nothing_left(self) -> bool:
        return run_checkpoints.nothing_left(self)

    def _as_it_ended(self) -> str:
        return run_checkpoints.as_it_ended(self)

    # --- the end, signals, the console ---------------------------------------------------------

    def _finish(self, status: str) -> None:
        st = self.state
        self._clock()  # the summary's wall time: the whole loop, its last checkpoint included
        self.summary = self.files.summary(status, st, self.exp.global_step, getattr(self, "device", ""))
        self.files.write_summary(self.summary)  # a resume that never continued leaves the summary alone
        self.files.close(self.logger, st.last_eval, st.best, self.exit_code or (1 if status == "failed" else 0))
        try:
            self.exp.close()
        except Exception as e:  # noqa: BLE001 - closing must not hide the run's own outcome
            console.print(f"[yellow]warning:[/] closing the experiment failed: {escape(first_line(e))}")

    def _setup_signals(self) -> dict[int, Any]:
        """The handlers replaced until the loop takes over (it stops at a unit's end). SIGTERM interrupts
        as Ctrl-C does, so that a new run stopped while set up leaves no directory behind; under
        torchrun both are held, and all ranks abort once set up (`_run`): one aborting alone left the
        others a gloo traceback in their first collective."""
        if not _main_thread():
            return {}
        if self.world_size == 1:
            return {signal.SIGTERM: signal.signal(signal.SIGTERM, _interrupt)}
        return {s: signal.signal(s, self._hold_signal) for s in (signal.SIGINT, signal.SIGTERM)}

    def _hold_signal(self, signum: int, frame: Any) -> None:
        if self._signal_received is not None:  # a second Ctrl-C: the user means it
            raise Interrupted(signum)
        self._signal_received = signum

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._signal_received is not None:  # a second Ctrl-C (to this process): the user means it
            raise KeyboardInterrupt
        self._signal_received = signum
        if self.world_size == 1:  # under torchrun, the ranks stop for it once they agree (`_agree_after_unit`)
            self._stop_signal = signum
        if self.rank == 0:  # the others stop with it: every rank learns of a signal after the unit
            console.print(f"\n[yellow]{signal.Signals(signum).name}[/]: finishing this unit, writing a checkpoint "
                          "(press Ctrl-C again to abort without one)")

    def _announce(self, device: torch.device) -> None:
        if self.rank != 0:
            return
        console.print(f"[bold]{escape(self.cfg.name)}[/] ({escape(self.cfg.kind)}) on {device}, "
                      f"{torch.get_num_threads()} thread(s) -> {escape(str(self.run_dir))}")

    @property
    def exit_code(self) -> int:
        """Shell convention for a run ended by a signal: 128 + the signal number."""
        return 128 + self._stop_signal if self._stop_signal else 0


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def _source(cfg: ExperimentConfig) -> str:
    """What a run's rewards come from, as its config names it (an env's id, a game's name): for messages."""
    for section, key, word in (("env", "id", "env"), ("game", "name", "game")):
        if isinstance(value := getattr(getattr(cfg, section, None), key, None), str):
            return f"{word} {value!r}"
    return "the env"


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _stop_asked(answer: Any) -> bool:
    """What an `on_eval` hook answered: True stops the run, False or None goes on. Anything else is
    refused rather than read by truthiness, where "no" (or a metric returned by mistake) would stop
    it, as `rlgen.train` refuses trust="false"."""
    if answer is None or isinstance(answer, (bool, np.bool_)):
        return bool(answer)
    raise RlgenError(f"on_eval must return True (stop), False or None, not {_shown(answer)}")
