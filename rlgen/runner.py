"""The one training-loop owner.

An experiment kind (RL, GAN, self-play, ...) is an object implementing `Experiment`: it trains one
unit at a time and can evaluate and (de)serialise itself. The runner owns everything else: seeds,
device and threads, the run directory, logging, periodic evaluation, checkpoints, resume, early
stopping, SIGINT/SIGTERM, and the progress bar. Adding a kind never touches this file.

Example::

    exp = MyKind(cfg)                 # cheap: nothing heavy until setup()
    summary = Runner(cfg, exp).run()  # -> {"status": "completed", "global_step": ..., ...}
"""

from __future__ import annotations

import difflib
import json
import math
import numbers
import os
import signal
import sys
import time
from contextlib import ExitStack, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from rlgen import checkpoint, distributed, plain, rundir, transfer
from rlgen.config import ExperimentConfig, save_config
from rlgen.errors import Diverged, Interrupted, RlgenError, first_line, shell_line
from rlgen.experiment import Experiment, RunContext, prefers_accelerator
from rlgen.logging import ConsoleSink, JsonlSink, Logger, Sink, WandbSink, console, disk_error
from rlgen.process import choose_device, default_threads, process_state_kept, rng_state, seed_everything, set_rng_state
from rlgen.registry import registered_names_only

__all__ = ["Experiment", "RunContext", "Runner", "choose_device", "eval_mode", "prefers_accelerator", "process_state_kept"]


@dataclass
class _State:
    """The runner's own resumable state."""

    next_eval: int = 0
    next_ckpt: int = 0
    best: float | None = None  # the best checkpoint's value
    best_step: int | None = None
    top: float | None = None  # the best value seen (above `best` by at most early_stop.best_tolerance)
    evals_since_best: int = 0
    train_time_s: float = 0.0  # wall time spent in this run's loop, summed over resumes
    target_reached: dict[str, float] | None = None
    last_eval: dict[str, Any] = field(default_factory=dict)
    evals: int = 0  # evaluations so far (train.video_every films every N-th)
    stopped: str | None = None  # "stopped_early" / "pruned": an evaluation ended the run (a resume keeps it so)
    metrics_rows: int | None = None  # rows in metrics.jsonl when the checkpoint was written


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
        self.state = _State(next_eval=cfg.train.eval_every, next_ckpt=self._ckpt_every)
        self._stop_signal: int | None = None
        self._writing = False  # the run's files are open: summary.json and config.yaml may be written
        self._watched: dict[str, float] = {}  # first value of each metric that may diverge
        self._warned: set[str] = set()
        self._new_best = False  # the last evaluation beat the best: checkpoint now, keep it as best
        self._started = False  # a unit was trained: the run directory holds a run
        self._jsonl: JsonlSink | None = None
        self._metric_warned = False  # the early-stop metric was missing from an evaluation: said once
        self._nan_warned = False  # ... or NaN: said once
        self.rank, self.world_size = 0, 1

    @property
    def _ckpt_every(self) -> int:
        return self.cfg.train.checkpoint_every or self.cfg.train.eval_every

    # --- the loop -------------------------------------------------------------------------------

    def run(self) -> dict[str, Any]:
        """Train to the end. A resumed run writes nothing into its directory until the checkpoint
        is restored: a resume that fails leaves every file of the run as it was."""
        device = choose_device(self.cfg.device, prefers_accelerator(self.exp))  # before anything is created
        self.device = device
        owns_group = not distributed.is_initialized()
        self.rank, self.world_size = distributed.init_distributed(device)
        owns_group = owns_group and distributed.is_initialized()
        made: list[Path] | None = None  # what this new run's directory took to make: undone if it never starts
        # until the loop takes over the signals (it stops at a unit's end), SIGTERM interrupts as
        # Ctrl-C does, so that a new run stopped while it is set up leaves no directory behind
        term = signal.signal(signal.SIGTERM, _interrupt) if _main_thread() else None
        try:
            with ExitStack() as held:
                if self.resume_dir is None:
                    if self.rank == 0:
                        # `made` is set once the directory is ours: a refused --run-dir is someone's run
                        if self._chosen_dir:
                            absent = rundir.absent(self._chosen_dir)
                            self.run_dir = rundir.claim(self._chosen_dir)
                            made = absent
                        else:
                            absent = rundir.absent(self.run_dir.parent)
                            self.run_dir = rundir.create(self.run_dir.parent, self.cfg.seed, planned=self.run_dir)
                            made = [self.run_dir, *absent]  # the run's directory is always made by this call
                    if self.world_size > 1:
                        self.run_dir = distributed.broadcast_path(self.run_dir)  # every rank writes into rank 0's directory
                elif not self.resume_dir.is_dir():
                    raise RlgenError(f"cannot resume: {self.resume_dir} is not a run directory")
                else:  # before the lock file: the run's files are written from here on
                    rundir.check_links(self.resume_dir)
                if self.rank == 0:
                    held.enter_context(rundir.locked(self.run_dir))
                resume_state = self._resume_state or (self._load_resume() if self.resume_dir else None)
                self._run(resume_state, device)
        except (RlgenError, KeyboardInterrupt):
            # bad input found while the experiment was set up or began its first unit (a setting SB3
            # refuses, missing demos), or an interrupt then: a new run that never trained a unit
            # leaves no directory behind (a crash keeps it: its summary is the evidence)
            if made is not None and not self._started and self.run_dir.is_dir():
                rundir.discard(self.run_dir, made)
            raise
        finally:
            if term is not None:
                signal.signal(signal.SIGTERM, term)
            if owns_group:  # NCCL warns at exit about a process group left open
                import torch.distributed as dist

                if sys.exc_info()[0] is None:
                    dist.barrier()  # every rank done with the group before any rank tears it down
                dist.destroy_process_group()
        return self.summary

    def _run(self, resume_state: dict[str, Any] | None, device: torch.device) -> None:
        torch.set_num_threads(self.cfg.train.threads or default_threads(device, self.exp))
        seed_everything(self.cfg.seed)
        self.logger = Logger([])  # sinks join once the run's files may be written
        ctx = RunContext(self.cfg, self.run_dir, device, self.logger, self.cfg.seed, self.rank, self.world_size)
        status = "failed"
        try:
            if resume_state is None:
                self._open_sinks(resumed=False)
            # a resume takes transferred weights from its checkpoint, not their source run
            with (transfer.restoring() if resume_state is not None else nullcontext(),
                  registered_names_only(str(self.untrusted_config)) if self.untrusted_config else nullcontext()):
                self.exp.setup(ctx)
            if resume_state is not None:
                self._restore(resume_state, device)
                self._repair_best()
                if self._nothing_left():  # a finished run resumed as it is: no file changes but a stale summary
                    status = self._as_it_ended()
                    return
                self._open_sinks(resumed=True)
            self._watch()
            self._announce(device)
            status = self._loop()
        except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint now, but the last one resumes
            status = "interrupted" if self._started or resume_state is not None else status
            raise
        finally:
            self._finish(status)

    def _loop(self) -> str:
        cfg, exp, st = self.cfg.train, self.exp, self.state
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        status = "completed"
        try:
            with self._progress() as bar:
                task = bar.add_task("train", total=cfg.total_steps, completed=exp.global_step)
                while exp.global_step < cfg.total_steps:
                    t0, step0 = time.perf_counter(), exp.global_step
                    try:
                        metrics = dict(exp.train_unit())
                    except Diverged as e:
                        raise RlgenError(self._diverged(str(e))) from None
                    self._started = True
                    dt = time.perf_counter() - t0
                    st.train_time_s += dt
                    self._check_finite(metrics)
                    self._watch_divergence(metrics)
                    metrics["time/fps"] = (exp.global_step - step0) / max(dt, 1e-9)
                    self.logger.log(metrics, exp.global_step)
                    bar.update(task, completed=exp.global_step, description=_bar_text(self.logger.last))
                    if exp.global_step >= st.next_eval:
                        if self._evaluate():
                            status = st.stopped = "pruned" if self.pruned else "stopped_early"
                    if self.world_size > 1:  # a signal reaches each process (each node) at its own moment
                        self._stop_signal = distributed.agree_on_signal(self._stop_signal)
                    # a new best forces a checkpoint to keep as best; under torchrun the regular
                    # schedule only, since every rank must checkpoint (gather its state) together
                    forced = self._new_best and self.world_size == 1
                    if exp.global_step >= st.next_ckpt or status != "completed" or self._stop_signal or forced:
                        self._checkpoint()
                    if status != "completed":  # the run is over, whatever signal came during its last evaluation
                        return status
                    if self._stop_signal is not None:
                        return "interrupted"
            if st.last_eval.get("global_step") != exp.global_step:
                self._evaluate()
            self._checkpoint()
            return status
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _evaluate(self) -> bool:
        """Evaluate, track the best and the target; True when early stopping or `on_eval` says stop,
        which an evaluation at or past train.total_steps never does: that run has completed."""
        st, stop_cfg, step = self.state, self.cfg.train.early_stop, self.exp.global_step
        st.evals += 1
        every = self.cfg.train.video_every
        video_dir = self.run_dir / "media" / "videos" / f"step_{step}" if every and st.evals % every == 0 else None
        t0 = time.perf_counter()
        with eval_mode(self.exp):
            metrics = dict(self.exp.evaluate(video_dir=video_dir) if video_dir else self.exp.evaluate())
        st.train_time_s += time.perf_counter() - t0  # evaluation counts toward time-to-target
        while st.next_eval <= step:
            st.next_eval += self.cfg.train.eval_every
        value = metrics.get(stop_cfg.metric)
        if value is None and not self._metric_warned:
            self._metric_warned = True
            known = sorted(k for k, v in metrics.items() if _scalar(v))
            close = difflib.get_close_matches(stop_cfg.metric, known, n=1)
            console.print(f"[yellow]warning:[/] train.early_stop.metric {stop_cfg.metric!r} is not among this run's "
                          f"evaluation metrics{f' (did you mean {close[0]!r}?)' if close else ''}: no best checkpoint "
                          f"is kept and nothing stops early; it logs {', '.join(known) or 'none'}")
        stop = self._score(value, step)
        metrics["eval/wall_time_s"] = round(st.train_time_s, 3)
        self.logger.log(metrics, step)
        st.last_eval = {"global_step": step, **{k: v for k, v in metrics.items() if _scalar(v)}}
        pruned = self.on_eval is not None and self._call_on_eval(step, dict(st.last_eval))
        if step >= self.cfg.train.total_steps:
            # the budget is spent: the run completed, whatever this evaluation says (a target reached
            # is recorded all the same), be it a scheduled evaluation or the one the loop adds at the end
            return False
        self.pruned = pruned
        return stop or pruned

    def _score(self, value: Any, step: int) -> bool:
        """Track the best, the target and patience from the early-stop metric's `value`; True when
        they say stop. A NaN is never the best; once the metric has had a number, a NaN counts as no
        improvement (as Keras's EarlyStopping does), so a metric that turns NaN runs patience out.
        Before its first number it counts toward nothing: a metric undefined for the whole run (an
        imitation run's eval/expert_ratio against an expert no better than random) stops nothing,
        as a metric the run does not log does."""
        st, stop_cfg = self.state, self.cfg.train.early_stop
        if not isinstance(value, numbers.Real):  # numpy's floats too
            return False
        sign = 1.0 if stop_cfg.mode == "max" else -1.0
        top = st.best if st.top is None else st.top  # a run saved before `top` existed: they were one
        stop = False
        if math.isnan(value):
            self._warn_nan(step, seen=top is not None)
            if top is not None:
                st.evals_since_best += 1
        else:
            improved = top is None or sign * value > sign * top + stop_cfg.min_delta
            tol = stop_cfg.best_tolerance
            if improved or (tol > 0 and sign * value >= sign * top - tol):
                st.best, st.best_step = float(value), step
                self._new_best = True
                self.logger.summary({"best/metric": stop_cfg.metric, "best/value": st.best, "best/global_step": step})
            if improved:
                st.top, st.evals_since_best = float(value), 0
            else:
                st.evals_since_best += 1  # patience counts evaluations since the best value seen rose
            if stop_cfg.target is not None and sign * value >= sign * stop_cfg.target:
                if st.target_reached is None:
                    st.target_reached = {"global_step": step, "wall_time_s": round(st.train_time_s, 3)}
                    self.logger.summary({"target/value": stop_cfg.target, "target/global_step": step,
                                         "target/wall_time_s": st.target_reached["wall_time_s"]})
                stop = True
        if stop_cfg.patience is not None and st.evals_since_best >= stop_cfg.patience:
            stop = True
        return stop

    def _warn_nan(self, step: int, seen: bool) -> None:
        if self._nan_warned:
            return
        self._nan_warned = True
        stop_cfg = self.cfg.train.early_stop
        if not seen:
            rule = ("until it has a number it keeps no best checkpoint and stops nothing; a NaN after one counts as "
                    "no improvement toward train.early_stop.patience")
        elif stop_cfg.patience is None:
            rule = "a NaN is never the best (and counts as no improvement toward train.early_stop.patience, if set)"
        else:
            rule = ("a NaN is never the best and counts as no improvement toward train.early_stop.patience "
                    f"({stop_cfg.patience})")
        console.print(f"[yellow]warning:[/] train.early_stop.metric {stop_cfg.metric!r} is NaN at step {step:,}: "
                      f"{rule} (said once)")

    def _call_on_eval(self, step: int, metrics: dict[str, Any]) -> bool:
        """The caller's hook. When it raises, the experiment and this evaluation are still sound: they
        are checkpointed first (a new best as the best), as Ctrl-C does, so the failed run keeps the
        best its summary names and resumes or opens from this step. Under torchrun every rank must
        checkpoint together, which a hook failing on one rank cannot promise: there it is a crash."""
        try:
            return bool(self.on_eval(step, metrics))
        except Exception:
            if self.world_size == 1:
                try:
                    self._checkpoint()
                except Exception as e:  # noqa: BLE001 - the hook's own error is the one to see
                    console.print(f"[yellow]warning:[/] no checkpoint kept after on_eval failed: {first_line(e)}")
            raise

    # --- checkpoints and resume ----------------------------------------------------------------

    def _checkpoint(self) -> None:
        st = self.state
        ranks = distributed.gather_rank_states(self.exp) if self.world_size > 1 else None
        if self.rank != 0:  # replicas hold the same weights; one writer
            self._new_best = False
            while st.next_ckpt <= self.exp.global_step:
                st.next_ckpt += self._ckpt_every
            return
        if self._jsonl is not None:
            st.metrics_rows = self._jsonl.rows  # what a resume from here keeps of metrics.jsonl
        state = {
            "experiment": self.exp.state_dict(),
            "runner": vars(st).copy(),
            "global_step": self.exp.global_step,
            "config": self.cfg.model_dump(mode="json"),
            "rng": rng_state(),
            "ranks": ranks,  # each replica's own state (data streams), when the kind has one
        }
        bad = plain.non_finite(state["experiment"])
        if bad is not None:
            path, n, of = bad
            raise RlgenError(self._diverged(f"non-finite values in {path} ({n:,} of {of:,} elements) at step "
                                            f"{self.exp.global_step:,}: training diverged, and this state was not saved"))
        saved = checkpoint.save(self.run_dir / "checkpoints", self.exp.global_step, state,
                                keep=self.cfg.train.keep_checkpoints)
        if self._new_best and st.best_step == self.exp.global_step:
            checkpoint.mark_best(self.run_dir / "checkpoints", saved)  # kept beside the last k, whatever pruning does
        self._new_best = False
        while st.next_ckpt <= self.exp.global_step:
            st.next_ckpt += self._ckpt_every

    def _load_resume(self) -> dict[str, Any]:
        assert self.resume_dir is not None
        return checkpoint.load(self.resume_dir, trust=self.trust)

    def _restore(self, state: dict[str, Any], device: torch.device) -> None:
        saved = _runner_state(state.get("runner"), f"cannot resume {self.run_dir}: its checkpoint's runner")
        try:
            with checkpoint.trusted(self.trust):
                self.exp.load_state_dict(state["experiment"])
        except RlgenError:
            raise
        except Exception as e:  # noqa: BLE001 - a state that does not fit: one line, not a traceback
            raise RlgenError(f"cannot resume {self.run_dir}: its checkpoint at step {state.get('global_step')} does "
                             f"not fit this {self.cfg.kind} experiment ({type(e).__name__}: "
                             f"{first_line(e)})") from None
        checkpoint.count(self.exp.global_step, f"cannot resume {self.run_dir}: its checkpoint's step")
        for k, v in saved.items():
            setattr(self.state, k, v)  # the eval/checkpoint schedule and best-so-far carry over
        saved_train = (state.get("config") or {}).get("train") or {}
        self._rescore(saved_train.get("early_stop") or {})
        if self.state.stopped is not None and _real(saved_train.get("total_steps")) \
                and self.exp.global_step >= saved_train["total_steps"]:
            self.state.stopped = None  # stopped at its budget by an rlgen that did not yet call that completed
        set_rng_state(state.get("rng"))
        if self.world_size > 1:
            distributed.restore_rank_state(self.exp, state.get("ranks"), self.rank, self.world_size)
        if device.type == "cuda" and self.rank == 0:
            console.print("[yellow]warning:[/] resuming on CUDA: GPU kernels are not bitwise deterministic, so the "
                          "resumed run will not match an uninterrupted one exactly (on the CPU it does)")
        console.print(f"resumed from step {self.exp.global_step:,} ({self.run_dir})")

    def _nothing_left(self) -> bool:
        """A resumed run that has nothing to train or evaluate: it ended (its budget, or an
        evaluation that stopped it) at the checkpoint it resumes from, evaluated there."""
        st = self.state
        done = st.stopped is not None or self.exp.global_step >= self.cfg.train.total_steps
        return done and st.last_eval.get("global_step") == self.exp.global_step

    def _as_it_ended(self) -> str:
        """The status of a run that had nothing left; its summary is written again only when it is
        missing or says otherwise (a run interrupted in its last unit, killed before its summary)."""
        st, status = self.state, self.state.stopped or "completed"
        if st.stopped is not None and self.cfg.train.total_steps > self.exp.global_step:
            why = "was pruned" if st.stopped == "pruned" else "stopped early"
            console.print(f"this run {why} at step {self.exp.global_step:,} (train.early_stop: "
                          f"{self.cfg.train.early_stop.metric}), so a larger train.total_steps alone trains no more; "
                          "change train.early_stop (its target or patience) to continue it")
        try:
            old = json.loads((self.run_dir / "summary.json").read_text())
        except (OSError, ValueError):
            old = None
        self._writing = self.rank == 0 and not (
            isinstance(old, dict) and old.get("status") == status and old.get("global_step") == self.exp.global_step)
        return status

    def _repair_best(self) -> None:
        """`checkpoints/best/` is marked just after its step is saved; a run killed in between
        resumes with the best step recorded but not marked: mark it now, from that step's checkpoint."""
        st, ckpt_dir = self.state, self.run_dir / "checkpoints"
        if self.rank != 0 or st.best_step is None:
            return
        marked = checkpoint.best(ckpt_dir)
        marked_step = checkpoint.step_of(marked) if marked is not None else None
        source = ckpt_dir / f"step_{st.best_step}"
        if marked_step == st.best_step or not all((source / f).is_file() for f in (checkpoint.STATE, checkpoint.CHECKSUM)):
            return  # marked, or its checkpoint is gone (pruned, or a format before checksums): nothing to mark from
        try:
            checkpoint.mark_best(ckpt_dir, source)
        except RlgenError as e:  # a best/ not kept is no reason to stop the run
            console.print(f"[yellow]warning:[/] {e}")

    def _rescore(self, saved: dict[str, Any]) -> None:
        """A resume that changes `train.early_stop`: a best by another metric or direction is no best
        by this one, and a target reached is another target's. They start over at the next evaluation."""
        stop, st = self.cfg.train.early_stop, self.state
        if not saved:
            return
        if (saved.get("metric"), saved.get("mode", "max")) != (stop.metric, stop.mode):
            st.best = st.best_step = st.top = None
            st.evals_since_best = 0
            console.print(f"early_stop is now {stop.metric} ({stop.mode}): the best checkpoint is chosen afresh "
                          "from the next evaluation")
        if (saved.get("metric"), saved.get("target")) != (stop.metric, stop.target):
            st.target_reached = None
        if any(saved.get(k) != getattr(stop, k) for k in ("metric", "mode", "target", "patience")) or (
                saved.get("min_delta", 0.0) != stop.min_delta):  # a run saved before min_delta: it was 0
            st.stopped = None  # another stopping rule: the run goes on under it

    def _diverged(self, what: str) -> str:
        """The divergence message, true to what is on disk."""
        last = checkpoint.latest(self.run_dir / "checkpoints")
        fix = "lower optim.lr, add gradient clipping or normalization"
        if last is None:
            return f"{what}. No checkpoint was written before it: {fix}, and start again"
        return (f"{what}. The latest checkpoint, {last.name}, is intact: {fix}, then resume with "
                f"`{shell_line('rlgen', 'train', '--resume', self.run_dir)}` or start again")

    def _check_finite(self, metrics: Mapping[str, Any]) -> None:
        bad = [k for k, v in metrics.items() if isinstance(v, float) and not math.isfinite(v)]
        if bad:
            raise RlgenError(self._diverged(f"non-finite {', '.join(bad)} at step {self.exp.global_step:,}: "
                                            "training diverged"))

    def _watch_divergence(self, metrics: Mapping[str, Any]) -> None:
        """Warn once per metric when a value loss or a gradient norm diverges: it grows by orders of
        magnitude from its first value, or (a value loss) dwarfs the square of the episode returns
        seen so far, which bound what a value function has to fit."""
        returns = [abs(v) for k, v in metrics.items() if k.startswith("rollout/ep_return_mean") and _number(v)]
        self._return_scale = max([getattr(self, "_return_scale", 0.0), *returns])
        for key, value in metrics.items():
            if not (key.startswith("loss/value") or "grad_norm" in key) or not _number(value) or key in self._warned:
                continue
            value, first = abs(float(value)), self._watched.setdefault(key, abs(float(value)))
            grew = value > DIVERGING_RATIO * max(first, 1.0)
            beyond_returns = key.startswith("loss/value") and self._return_scale > 0 \
                and value > DIVERGING_RATIO * max(self._return_scale, 1.0) ** 2
            if value > DIVERGING_ABS and (grew or beyond_returns):
                self._warned.add(key)
                why = f"episode returns are near {self._return_scale:.3g}" if beyond_returns else f"it began near {first:.3g}"
                console.print(f"[yellow]warning:[/] {key} reached {value:.3g} at step {self.exp.global_step:,} "
                              f"({why}): training is probably diverging; lower optim.lr or clip gradients "
                              "(for SB3: agent.hyperparams.max_grad_norm)")

    # --- setup and teardown --------------------------------------------------------------------

    def _open_sinks(self, resumed: bool) -> None:
        """From here on the run writes into its directory: config.yaml, metrics.jsonl, W&B."""
        self.wandb: WandbSink | None = None
        if self.rank != 0:
            return  # only rank 0 logs
        self._writing = True
        if resumed:
            self._mark_running()
        try:
            save_config(self.cfg, self.run_dir / "config.yaml")
        except OSError as e:
            raise disk_error(e, self.run_dir / "config.yaml", "writing the config") from None
        try:
            # rows logged after the checkpoint a resume starts from are logged again: they go
            jsonl = JsonlSink(self.run_dir / "metrics.jsonl", keep_rows=self.state.metrics_rows if resumed else None)
        except OSError as e:
            raise disk_error(e, self.run_dir / "metrics.jsonl", "opening the metrics") from None
        self.logger.add(jsonl, required=True)
        self._jsonl = jsonl
        if self.cfg.logging.console:
            self.logger.add(ConsoleSink())
        mode = os.environ.get("WANDB_MODE", self.cfg.logging.wandb.mode)
        if mode != "disabled":
            try:
                self.wandb = WandbSink(self.run_dir, rundir.wandb_id(self.run_dir), self.cfg, mode, resumed)
                self.logger.add(self.wandb)
            except Exception as e:  # noqa: BLE001 - W&B is optional; metrics.jsonl is the record
                console.print(f"[yellow]warning:[/] W&B did not start ({type(e).__name__}: {first_line(e)}); "
                              "training continues, metrics.jsonl keeps the full record")

    def _mark_running(self) -> None:
        """A resumed run is no finished one until it ends again: its summary says "running", so a
        resume killed outright (SIGKILL, a lost machine) opens at its newest checkpoint, not at the
        best of the run it continued."""
        path = self.run_dir / "summary.json"
        try:
            old = json.loads(path.read_text())
            if isinstance(old, dict) and old.get("status") != "running":
                tmp = path.with_name(path.name + ".tmp")
                tmp.write_text(json.dumps({**old, "status": "running"}, indent=2, default=str))
                os.replace(tmp, path)
        except (OSError, ValueError):
            pass  # no summary yet (an interrupted first run killed outright), or an unreadable one: nothing to undo

    def _finish(self, status: str) -> None:
        st = self.state
        self.wandb = getattr(self, "wandb", None)
        self.summary = {
            "status": status,
            "name": self.cfg.name,
            "kind": self.cfg.kind,
            "seed": self.cfg.seed,
            "global_step": self.exp.global_step,
            "wall_time_s": round(st.train_time_s, 3),
            "final": st.last_eval,
            "best": {"metric": self.cfg.train.early_stop.metric, "value": st.best, "global_step": st.best_step},
            "target": self.cfg.train.early_stop.target,
            "target_reached": st.target_reached,
            "run_dir": str(self.run_dir.absolute()),  # readable from any working directory
            "device": str(getattr(self, "device", "")),
            "distributed": distributed.info(),
        }
        try:
            if self.rank == 0 and self._writing:  # a resume that never continued leaves the summary alone
                (self.run_dir / "summary.json").write_text(json.dumps(self.summary, indent=2, default=str))
        except OSError as e:
            console.print(f"[red]error:[/] {disk_error(e, self.run_dir / 'summary.json', 'writing the summary')}")
        if getattr(self, "logger", None) is not None:
            if self.wandb is not None and self.wandb in self.logger.sinks:
                self._finish_wandb()
                self.wandb.exit_code = self.exit_code or (1 if status == "failed" else 0)
            self.logger.close()
        try:
            self.exp.close()
        except Exception as e:  # noqa: BLE001 - closing must not hide the run's own outcome
            console.print(f"[yellow]warning:[/] closing the experiment failed: {e}")

    # --- W&B extras (a failure is a warning: metrics.jsonl and the checkpoints are the record) ----

    def _watch(self) -> None:
        w = self.cfg.logging.wandb
        if w.watch and self.wandb is not None and self.wandb in self.logger.sinks:
            try:
                self.wandb.watch(dict(getattr(self.exp, "modules", dict)()), w.watch, w.watch_every)
            except Exception as e:  # noqa: BLE001
                console.print(f"[yellow]warning:[/] wandb.watch failed ({type(e).__name__}: {e}); training continues")

    def _finish_wandb(self) -> None:
        """The last evaluation in the summary (the early-stop metric keeps its best,last pair), and
        the final and best checkpoints as versions of the run's model artifact."""
        assert self.wandb is not None
        metric = self.cfg.train.early_stop.metric
        try:
            self.wandb.summary({k: v for k, v in self.state.last_eval.items() if k != metric})
            if self.cfg.logging.wandb.log_model:
                self.wandb.log_checkpoints(self.run_dir, {"name": self.cfg.name, "kind": self.cfg.kind},
                                           best={metric: self.state.best})
        except Exception as e:  # noqa: BLE001
            console.print(f"[yellow]warning:[/] W&B summary/artifacts failed ({type(e).__name__}: {e}); "
                          "the run directory keeps them")

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._stop_signal is not None:  # a second Ctrl-C: the user means it
            raise KeyboardInterrupt
        self._stop_signal = signum
        console.print(f"\n[yellow]{signal.Signals(signum).name}[/]: finishing this unit, writing a checkpoint "
                      "(press Ctrl-C again to abort without one)")

    def _announce(self, device: torch.device) -> None:
        if self.rank != 0:
            return
        console.print(f"[bold]{self.cfg.name}[/] ({self.cfg.kind}) on {device}, "
                      f"{torch.get_num_threads()} thread(s) -> {self.run_dir}")

    def _progress(self) -> Progress:
        return Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
            TimeRemainingColumn(), console=console, transient=False,
            # in a pipe or a log file the eval lines show progress; a bar would only print once, at the end
            disable=not self.cfg.train.progress or self.rank != 0 or not console.is_terminal,
        )

    @property
    def exit_code(self) -> int:
        """Shell convention for a run ended by a signal: 128 + the signal number."""
        return 128 + self._stop_signal if self._stop_signal else 0


# --- small pure helpers ---------------------------------------------------------------------------


@contextmanager
def eval_mode(exp: Any) -> Iterator[None]:
    """The experiment's torch modules (`exp.modules()`) in eval mode within it, and every submodule
    back in its own mode after. An evaluation never depends on the mode that training (SB3's
    `train()` ends in train mode) or a caller of `Run.modules()` left them in: no batch statistics,
    no dropout, no running statistics updated by the evaluation's forward passes."""
    tops = [m for m in dict(getattr(exp, "modules", dict)()).values() if isinstance(m, torch.nn.Module)]
    modes = [(m, m.training) for top in tops for m in top.modules()]  # SB3's DQN target net stays in eval: per module
    for top in tops:
        top.eval()
    try:
        yield
    finally:
        for m, mode in modes:
            m.training = mode


def _runner_state(saved: Any, what: str) -> dict[str, Any]:
    """The `_State` fields of a checkpoint's "runner" entry, each checked to be of its type (a
    crafted checkpoint's `next_eval: None` would fail in the loop, not here); others are left out."""
    if not isinstance(saved, dict):
        raise RlgenError(f"{what} state is {'missing' if saved is None else f'a {type(saved).__name__}'}, not a mapping "
                         "(a damaged or crafted checkpoint)")
    out: dict[str, Any] = {}
    for name, value in saved.items():
        if name in ("next_eval", "next_ckpt", "evals_since_best", "evals"):
            value = checkpoint.count(value, f"{what}.{name}")
        elif name == "best_step":
            value = None if value is None else checkpoint.count(value, f"{what}.{name}")
        elif name in ("best", "top", "train_time_s"):
            if not (_real(value) or (value is None and name != "train_time_s")):
                raise RlgenError(f"{what}.{name} is {_shown(value)}, not a number (a damaged or crafted checkpoint)")
            value = None if value is None else float(value)
        elif name == "target_reached":
            if value is not None:
                if not isinstance(value, dict) or not _real(value.get("wall_time_s")):
                    raise RlgenError(f"{what}.{name} is {_shown(value)}, not a step and a time (a damaged or crafted "
                                     "checkpoint)")
                value = {"global_step": checkpoint.count(value.get("global_step"), f"{what}.{name}.global_step"),
                         "wall_time_s": float(value["wall_time_s"])}
        elif name == "stopped":
            if value not in (None, "stopped_early", "pruned"):
                raise RlgenError(f"{what}.{name} is {_shown(value)}, not a way a run stops (a damaged or crafted "
                                 "checkpoint)")
        elif name == "metrics_rows":
            value = None if value is None else checkpoint.count(value, f"{what}.{name}")
        elif name == "last_eval":
            if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
                raise RlgenError(f"{what}.{name} is {_shown(value)}, not metrics by name (a damaged or crafted "
                                 "checkpoint)")
        else:
            continue  # not a field of this rlgen's runner
        out[name] = value
    return out


def _real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"


# A value loss or gradient norm this large, and this many times its first value (or, for a value
# loss, the squared episode return), is diverging: PPO at lr 1e6 on CartPole reports a value loss
# of 2e14 with returns near 10; a healthy CartPole run stays below 1e3 with returns up to 500.
DIVERGING_ABS, DIVERGING_RATIO = 1e6, 1e4


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _scalar(v: Any) -> bool:
    return isinstance(v, (int, float, str, bool)) or v is None


def _bar_text(last: Mapping[str, Any]) -> str:
    for key in ("eval/return_mean", "rollout/ep_return_mean", "gan/loss_g", "league/elo"):
        if isinstance(last.get(key), float):
            return f"train  {key.split('/')[-1]}={last[key]:.4g}"
    return "train"


def _interrupt(signum: int, frame: Any) -> None:
    raise Interrupted(signum)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
