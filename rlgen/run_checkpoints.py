"""A run's checkpoints, as the runner writes them and a resume reads them back.

`rlgen.runner.Runner` calls these at its checkpoints and when it resumes: what a checkpoint holds
(the experiment, the loop's `RunState`, the config, the RNGs, each rank's own state), the refusal of
a state that diverged, a resume's restore and the schedule it goes on with, and what a resumed run
that has nothing left to train ends as. Saving and loading the files themselves is `rlgen.checkpoint`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.markup import escape

from rlgen import checkpoint, distributed, plain
from rlgen.errors import RlgenError, first_line
from rlgen.logging import console, kept_elapsed_s
from rlgen.process import rng_state, set_rng_state
from rlgen.run_state import real, runner_state

if TYPE_CHECKING:
    import torch

    from rlgen.runner import Runner


def write_checkpoint(runner: Runner) -> None:
    """`Runner._checkpoint`: the run's state at this step, written by rank 0 (a new best marked as the best)."""
    st = runner.state
    runner._clock()
    ranks = distributed.gather_rank_states(runner.exp) if runner.world_size > 1 else None
    runner._saved_step = runner.exp.global_step
    if runner.rank != 0:  # replicas hold the same weights; one writer
        runner.scorer.new_best = runner.scorer.stale_best = False
        runner._schedule_next_checkpoint()
        return
    if runner.files.jsonl is not None:
        st.metrics_rows = runner.files.jsonl.rows  # what a resume from here keeps of metrics.jsonl
    st.elapsed_s = round(runner.logger.elapsed_s, 3)  # where a resume from here goes on with time/elapsed_s
    state = {
        "experiment": runner.exp.state_dict(),
        "runner": vars(st).copy(),
        "global_step": runner.exp.global_step,
        "config": runner.cfg.model_dump(mode="json"),
        "rng": rng_state(),
        "ranks": ranks,  # each replica's own state (data streams), when the kind has one
        "world_size": runner.world_size,  # a resume by a job of another size starts fresh streams
    }
    bad = plain.non_finite(state["experiment"])
    if bad is not None:
        path, n, of = bad
        raise RlgenError(runner.divergence.message(
            f"non-finite values in {path} ({n:,} of {of:,} elements) at step {runner.exp.global_step:,}: "
            "training diverged, and this state was not saved"))
    runner.scorer.drop_stale_best(runner.run_dir / "checkpoints")
    saved = checkpoint.save(runner.run_dir / "checkpoints", runner.exp.global_step, state,
                            keep=runner.cfg.train.keep_checkpoints)
    if runner.scorer.new_best and st.best_step == runner.exp.global_step:
        checkpoint.mark_best(runner.run_dir / "checkpoints", saved)  # kept beside the last k, whatever pruning does
    runner.scorer.new_best = False
    runner._schedule_next_checkpoint()


def reschedule(runner: Runner) -> None:
    """A resume evaluates and checkpoints at the next multiples of the train.eval_every and
    checkpoint_every it runs with (which it may change), past the step it resumes from. With
    them unchanged this is the uninterrupted run's schedule: after each unit's evaluation check
    `next_eval` is the first multiple past the step, and `next_ckpt` is that once a checkpoint
    is written (the checkpoint itself keeps the value from just before it moved on)."""
    step = runner.exp.global_step
    runner.state.next_eval = (step // runner.cfg.train.eval_every + 1) * runner.cfg.train.eval_every
    runner.state.next_ckpt = (step // runner._ckpt_every + 1) * runner._ckpt_every


def restore(runner: Runner, state: dict[str, Any], device: torch.device) -> None:
    """`Runner._restore`: a checkpoint read back into the experiment, the loop's state and clocks, the RNGs."""
    saved = runner_state(state.get("runner"), f"cannot resume {runner.run_dir}: its checkpoint's runner")
    try:
        with checkpoint.trusted(runner.trust):
            runner.exp.load_state_dict(state["experiment"])
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - a state that does not fit: one line, not a traceback
        raise RlgenError(f"cannot resume {runner.run_dir}: its checkpoint at step {state.get('global_step')} does "
                         f"not fit this {runner.cfg.kind} experiment ({type(e).__name__}: "
                         f"{first_line(e)})") from None
    _check_restored_step(runner, state)
    for k, v in saved.items():
        setattr(runner.state, k, v)  # best-so-far and clocks carry over
    runner._reschedule()
    # time/elapsed_s goes on from the checkpoint, as eval/wall_time_s does. A checkpoint written before
    # the logger's clock was kept: the latest clock of the rows it keeps (train_time_s leaves out setup,
    # so it would go backwards), its training clock where none has one
    elapsed = runner.state.elapsed_s
    if elapsed is None:
        elapsed = kept_elapsed_s(runner.run_dir / "metrics.jsonl", runner.state.metrics_rows)
    runner.logger.continue_clock(runner.state.train_time_s if elapsed is None else elapsed)
    saved_train = (state.get("config") or {}).get("train") or {}
    spent = runner.exp.global_step >= runner.cfg.train.total_steps and _evaluated_last(runner)
    runner.scorer.rescore(saved_train.get("early_stop") or {}, spent=spent)
    if runner.state.stopped is not None and real(saved_train.get("total_steps")) \
            and runner.exp.global_step >= saved_train["total_steps"]:
        runner.state.stopped = None  # stopped at its budget by an rlgen that did not yet call that completed
    set_rng_state(state.get("rng"))
    distributed.restore_rank_state(runner.exp, state, runner.rank, runner.world_size)
    if device.type == "cuda" and runner.rank == 0:
        console.print("[yellow]warning:[/] resuming on CUDA: GPU kernels are not bitwise deterministic, so the "
                      "resumed run will not match an uninterrupted one exactly (on the CPU it does)")
    if runner.rank == 0:
        console.print(f"resumed from step {runner.exp.global_step:,} ({escape(str(runner.run_dir))})")


def _check_restored_step(runner: Runner, state: dict[str, Any]) -> None:
    """The experiment's step after its load_state_dict: a count, and the checkpoint's own (a kind
    that forgets to restore it would train the steps before it again, silently)."""
    step = checkpoint.count(runner.exp.global_step, f"cannot resume {runner.run_dir}: its checkpoint's step")
    saved = state.get("global_step")
    if saved is not None and step != saved:  # a count: `checkpoint.read` checked it
        raise RlgenError(f"cannot resume {runner.run_dir}: its checkpoint is at step {saved:,}, but the "
                         f"{runner.cfg.kind} kind's load_state_dict left global_step at {step:,}; make it restore "
                         "global_step from the state it is given")


def nothing_left(runner: Runner) -> bool:
    """A resumed run that has nothing to train or evaluate: it ended (its budget, or an
    evaluation that stopped it) at the checkpoint it resumes from, evaluated there."""
    st = runner.state
    done = st.stopped is not None or runner.exp.global_step >= runner.cfg.train.total_steps
    return done and _evaluated_last(runner)


def _evaluated_last(runner: Runner) -> bool:
    """The run's last evaluation is at the step it resumes from."""
    return runner.state.last_eval.get("global_step") == runner.exp.global_step


def _still_stopped(runner: Runner) -> str:
    """Why a resume with a larger budget trains no more: what stopped the run, and what continues it."""
    step, then = f"{runner.exp.global_step:,}", "so a larger train.total_steps alone trains no more"
    if runner.state.stopped == "pruned":  # the caller's hook said stop; the early-stop rule did not
        return (f"this run was pruned by its on_eval hook (a sweep's pruner) at step {step}, {then}; train a new "
                "run to go further (a resume that changes train.early_stop continues it too)")
    return (f"this run stopped early at step {step} (train.early_stop: {runner.cfg.train.early_stop.metric}), "
            f"{then}; change train.early_stop (its target or patience) to continue it")


def as_it_ended(runner: Runner) -> str:
    """The status of a run that had nothing left; its summary is written again only when it is
    missing or says otherwise (a run interrupted in its last unit, killed before its summary)."""
    st, status = runner.state, runner.state.stopped or "completed"
    if st.stopped is not None and runner.cfg.train.total_steps > runner.exp.global_step and runner.rank == 0:
        console.print(_still_stopped(runner))
    if runner.scorer.changed and runner.rank == 0:  # the changed rule cleared `stopped`: its budget is what ended it
        console.print(f"nothing is left to train (step {runner.exp.global_step:,} of train.total_steps "
                      f"{runner.cfg.train.total_steps:,}), so the changed train.early_stop "
                      f"({', '.join(runner.scorer.changed)}) has no effect; raise train.total_steps to train on "
                      "under it")
    old = runner.files.read_summary()
    runner.files.writing = runner.rank == 0 and not (
        isinstance(old, dict) and old.get("status") == status and old.get("global_step") == runner.exp.global_step)
    return status
