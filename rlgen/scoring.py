"""How a run is scored, and when it has gone wrong.

`Scorer` follows `train.early_stop`'s metric over the evaluations: the best value (whose checkpoint
is kept as best), the target and patience; a resume that changes the rule scores afresh.
`DivergenceWatch` looks at every training unit's metrics: a non-finite one stops the run, a value
loss or gradient norm growing by orders of magnitude is warned about once.
Both keep their figures in the runner's `RunState`, which checkpoints carry over a resume.
"""

from __future__ import annotations

import difflib
import math
import numbers
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from rich.markup import escape

from rlgen import checkpoint
from rlgen.config import EarlyStopConfig
from rlgen.errors import RlgenError
from rlgen.logging import Logger, console
from rlgen.run_state import RunState


class Scorer:
    """Best, target and patience by the early-stop metric `stop.metric`, kept in `state`; `quiet`:
    its warnings unsaid (a torchrun rank other than 0, whose evaluations rank 0's repeat)."""

    def __init__(self, stop: EarlyStopConfig, state: RunState, logger: Logger, quiet: bool = False):
        self.stop, self.state, self.logger, self.quiet = stop, state, logger, quiet
        self.new_best = False  # the last evaluation beat the best: checkpoint now, keep it as best
        self._metric_warned = False  # the early-stop metric was missing from an evaluation, or no number: said once
        self._nan_warned = False  # ... or NaN or inf: said once
        self.changed: list[str] = []  # the train.early_stop fields a resume changed (`rescore`)
        self.stale_best = False  # checkpoints/best/ is the changed rule's: dropped at the next checkpoint

    def score(self, metrics: Mapping[str, Any], step: int) -> bool:
        """Score one evaluation's `metrics` at `step`; True when the target or patience says stop."""
        value = plain_value(metrics.get(self.stop.metric))  # a 0-d tensor's or numpy's number as Python's
        if not isinstance(value, numbers.Real) and not self._metric_warned:
            self._metric_warned = True
            self._warn_unscored(metrics)
        return self._update(value, step)

    def _warn_unscored(self, metrics: Mapping[str, Any]) -> None:
        """The early-stop metric is missing or is no number (a picture, a table): said once, with
        the numeric metrics it could be."""
        known = sorted(k for k, v in metrics.items() if isinstance(plain_value(v), numbers.Real))
        if self.stop.metric not in metrics:
            close = difflib.get_close_matches(self.stop.metric, known, n=1)
            what = "is not among this run's evaluation metrics" + (f" (did you mean {close[0]!r}?)" if close else "")
        else:
            what = f"is not a number ({logged_as(metrics[self.stop.metric])})"
        fix = f"set it to one of its numeric metrics: {', '.join(known)}" if known else "the run logs no numeric one"
        self._say("[yellow]warning:[/] " + escape(
            f"train.early_stop.metric {self.stop.metric!r} {what}: no best checkpoint is kept and nothing stops "
            f"early; {fix}"))

    def _update(self, value: Any, step: int) -> bool:
        """Track the best, the target and patience from the early-stop metric's `value`; True when
        they say stop. A NaN or an inf is never the best and never reaches the target (an inf
        return is an env's fault, not a result); once the metric has had a number, either counts as
        no improvement (as a NaN does in Keras's EarlyStopping), so a metric that turns NaN runs
        patience out. Before its first number it counts toward nothing: a metric undefined for the
        whole run (an imitation run's eval/expert_ratio against an expert no better than random)
        stops nothing, as a metric the run does not log does."""
        st, stop_cfg = self.state, self.stop
        if not isinstance(value, numbers.Real):  # numpy's floats too
            return False
        sign = 1.0 if stop_cfg.mode == "max" else -1.0
        top = st.best if st.top is None else st.top  # a run saved before `top` existed: they were one
        stop = False
        if not math.isfinite(value):
            self._warn_non_finite(value, step, seen=top is not None)
            if top is not None:
                st.evals_since_best += 1
        else:
            improved = top is None or sign * value > sign * top + stop_cfg.min_delta
            tol = stop_cfg.best_tolerance
            if improved or (tol > 0 and sign * value >= sign * top - tol):
                st.best, st.best_step = float(value), step
                self.new_best = True
                self.logger.summary(best_summary(stop_cfg, st))
            if improved:
                st.top, st.evals_since_best = float(value), 0
            else:
                st.evals_since_best += 1  # patience counts evaluations since the best value seen rose
            if stop_cfg.target is not None and sign * value >= sign * stop_cfg.target:
                if st.target_reached is None:
                    st.target_reached = {"global_step": step, "wall_time_s": round(st.train_time_s, 3)}
                    self.logger.summary(target_summary(stop_cfg, st))
                stop = True
        if stop_cfg.patience is not None and st.evals_since_best >= stop_cfg.patience:
            stop = True
        return stop

    def _warn_non_finite(self, value: float, step: int, seen: bool) -> None:
        if self._nan_warned:
            return
        self._nan_warned = True
        stop_cfg = self.stop
        if not seen:
            rule = ("until it has a finite number it keeps no best checkpoint and stops nothing; a NaN or an inf "
                    "after one counts as no improvement toward train.early_stop.patience")
        elif stop_cfg.patience is None:
            rule = ("a NaN or an inf is never the best nor reaches a target (and counts as no improvement toward "
                    "train.early_stop.patience, if set)")
        else:
            rule = ("a NaN or an inf is never the best nor reaches a target, and counts as no improvement toward "
                    f"train.early_stop.patience ({stop_cfg.patience})")
        shown = "NaN" if math.isnan(value) else f"{value}"  # inf or -inf
        metric = escape(repr(stop_cfg.metric))
        self._say(f"[yellow]warning:[/] train.early_stop.metric {metric} is {shown} at step {step:,}: "
                  f"{rule} (said once)")

    def rescore(self, saved: Mapping[str, Any], spent: bool = False) -> None:
        """A resume that changes `train.early_stop` (`saved`: the checkpoint's): a best by another
        metric or direction is no best by this one, and a target reached is another target's. They
        start over at the next evaluation; `spent`: there is none (the budget is trained and
        evaluated), which `run_checkpoints.as_it_ended` says instead. The old rule's best/ stays
        until the next checkpoint (`drop_stale_best`): a resume refused before then changes no file."""
        stop, st = self.stop, self.state
        if not saved:
            return
        if (saved.get("metric"), saved.get("mode", "max")) != (stop.metric, stop.mode):
            st.best = st.best_step = st.top = None
            st.evals_since_best = 0
            self.stale_best = True
            if not spent:
                self._say(f"early_stop is now {escape(stop.metric)} ({stop.mode}): the best checkpoint is chosen "
                          "afresh from the next evaluation")
        if (saved.get("metric"), saved.get("target")) != (stop.metric, stop.target):
            st.target_reached = None
        before = {"mode": "max", "min_delta": 0.0}  # what a run saved before these fields had
        self.changed = [k for k in ("metric", "mode", "target", "patience", "min_delta")
                        if saved.get(k, before.get(k)) != getattr(stop, k)]
        if self.changed:
            st.stopped = None  # another stopping rule: the run goes on under it

    def drop_stale_best(self, ckpt_dir: Path) -> None:
        """Remove the best/ a resume's changed rule disowned (`rescore`), once, as the resumed run
        writes its first checkpoint: just before it, so a run killed in between resumes from the
        old rule's checkpoint and rescores again, its best/ already gone."""
        if not self.stale_best:
            return
        self.stale_best = False
        best, old = ckpt_dir / checkpoint.BEST, ckpt_dir / f"{checkpoint.BEST}.old"
        shutil.rmtree(old, ignore_errors=True)
        try:  # renamed first: a process killed mid-removal leaves no half best/ (mark_best clears best.old)
            if best.exists():
                best.rename(old)
        except OSError as e:  # summary.json disowns it at the end (checkpoint_select): no reason to stop the run
            console.print(f"[yellow]warning:[/] could not remove {escape(str(best))}, kept under the earlier "
                          f"train.early_stop ({escape(e.strerror or str(e))}); it is not this run's best")
        shutil.rmtree(old, ignore_errors=True)

    def _say(self, text: str) -> None:
        if not self.quiet:
            console.print(text)

    def repair_best(self, ckpt_dir: Path) -> None:
        """`checkpoints/best/` is marked just after its step is saved; a run killed in between
        resumes with the best step recorded but not marked: mark it now, from that step's checkpoint."""
        st = self.state
        if st.best_step is None:
            return
        marked = checkpoint.best(ckpt_dir)
        marked_step = checkpoint.step_of(marked) if marked is not None else None
        source = ckpt_dir / f"step_{st.best_step}"
        if marked_step == st.best_step or not all((source / f).is_file() for f in (checkpoint.STATE, checkpoint.CHECKSUM)):
            return  # marked, or its checkpoint is gone (pruned, or a format before checksums): nothing to mark from
        try:
            checkpoint.mark_best(ckpt_dir, source)
        except RlgenError as e:  # a best/ not kept is no reason to stop the run
            console.print(f"[yellow]warning:[/] {escape(str(e))}")


def best_summary(stop: EarlyStopConfig, state: RunState) -> dict[str, Any]:
    """The W&B summary's best/* of `state` (none before a best)."""
    if state.best is None:
        return {}
    return {"best/metric": stop.metric, "best/value": state.best, "best/global_step": state.best_step}


def target_summary(stop: EarlyStopConfig, state: RunState) -> dict[str, Any]:
    """The W&B summary's target/* of `state` (none before the target is reached)."""
    if state.target_reached is None:
        return {}
    return {"target/value": stop.target, "target/global_step": state.target_reached["global_step"],
            "target/wall_time_s": state.target_reached["wall_time_s"]}


# A value loss or gradient norm this large, and this many times its first value (or, for a value
# loss, the squared episode return), is diverging: PPO at lr 1e6 on CartPole reports a value loss
# of 2e14 with returns near 10; a healthy CartPole run stays below 1e3 with returns up to 500.
DIVERGING_ABS, DIVERGING_RATIO = 1e6, 1e4


class DivergenceWatch:
    """Each training unit's metrics, watched for a run going wrong; `run_dir`'s checkpoints are
    what its messages offer to resume from, and `experiment` (its `divergence_fix()`) what they advise."""

    def __init__(self, run_dir: Path, experiment: Any = None, source: str = "the env"):
        self.run_dir, self.experiment, self.source = run_dir, experiment, source  # source: "env 'X'", for messages
        self._first: dict[str, float] = {}  # first value of each metric that may diverge
        self._warned: set[str] = set()
        self._return_scale = 0.0  # the largest episode return seen so far

    def check(self, metrics: Mapping[str, Any], step: int) -> None:
        """Stop on a non-finite metric; warn once per metric about one that diverges. A non-finite
        rollout/* metric is the env's: episode returns sum the env's own rewards (Monitor's, under
        imitation's discriminator reward too), and a policy whose weights went non-finite shows in
        its losses a unit before its actions reach the env."""
        bad = [k for k, v in metrics.items() if (x := _as_number(v)) is not None and not math.isfinite(x)]
        from_env = [k for k in bad if k.startswith("rollout/")]
        if from_env and len(from_env) < len(bad):  # the losses too: either may have come first
            raise RlgenError(self.message(
                f"non-finite {', '.join(bad)} at step {step:,}: {self.source} returned non-finite rewards (NaN or "
                "inf), or training diverged and the policy's actions made them so",
                fix=f"make the env's step() return finite rewards; if it does, {self._training_fix()}"))
        if from_env:
            raise RlgenError(self.message(
                f"non-finite {', '.join(from_env)} at step {step:,}: {self.source} returned non-finite rewards (NaN or "
                "inf)", fix="make its step() return finite rewards"))
        if bad:
            raise RlgenError(self.message(f"non-finite {', '.join(bad)} at step {step:,}: training diverged"))
        self._watch(metrics, step)

    def _watch(self, metrics: Mapping[str, Any], step: int) -> None:
        """Warn once per metric when a value loss or a gradient norm diverges: it grows by orders of
        magnitude from its first value, or (a value loss) dwarfs the square of the episode returns
        seen so far, which bound what a value function has to fit."""
        returns = [abs(float(v)) for k, v in metrics.items() if k.startswith("rollout/ep_return_mean") and _number(v)]
        self._return_scale = max([self._return_scale, *returns])
        for key, value in metrics.items():
            if not (key.startswith("loss/value") or "grad_norm" in key) or not _number(value) or key in self._warned:
                continue
            value, first = abs(float(value)), self._first.setdefault(key, abs(float(value)))
            grew = value > DIVERGING_RATIO * max(first, 1.0)
            beyond_returns = key.startswith("loss/value") and self._return_scale > 0 \
                and value > DIVERGING_RATIO * max(self._return_scale, 1.0) ** 2
            if value > DIVERGING_ABS and (grew or beyond_returns):
                self._warned.add(key)
                why = f"episode returns are near {self._return_scale:.3g}" if beyond_returns else f"it began near {first:.3g}"
                console.print(f"[yellow]warning:[/] {escape(key)} reached {value:.3g} at step {step:,} "
                              f"({why}): training is probably diverging; {escape(self._training_fix())}")

    def message(self, what: str, fix: str | None = None) -> str:
        """The stopping message, true to what is on disk; `fix`: what to change (by default what
        this run's config offers against divergence)."""
        fix = fix or self._training_fix()
        last = checkpoint.latest(self.run_dir / "checkpoints")
        if last is None:
            return f"{what}. No checkpoint was written before it: {fix}, and start again"
        # not "then resume": --resume refuses what the fix changes, and resumed as it was, the run
        # diverges again at the same step (a resume equals the uninterrupted run)
        return f"{what}. The latest checkpoint, {last.name}, is intact: {fix}, and start again"

    def _training_fix(self) -> str:
        """What to change against divergence: the kind's own advice (`divergence_fix()`: the SB3
        algorithms that take max_grad_norm offer clipping), else what every kind has."""
        hook = getattr(self.experiment, "divergence_fix", None)
        fix = hook() if callable(hook) else None
        return fix if isinstance(fix, str) and fix else "lower optim.lr or add normalization"


def _as_number(v: Any) -> float | None:
    """A metric's value as a float when it is one number: a Python or numpy real (not a bool), or a
    0-d floating-point tensor or array (what a plugin kind may hand over as its loss)."""
    if isinstance(v, numbers.Real) and not isinstance(v, bool):  # numpy's floats and ints too
        return float(v)
    if isinstance(v, torch.Tensor) and v.ndim == 0 and v.is_floating_point():
        return float(v)
    if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind == "f":
        return float(v)
    return None


def _number(v: Any) -> bool:
    return (x := _as_number(v)) is not None and math.isfinite(x)


def logged_as(v: Any) -> str:
    """What a metric that is no number is, for messages: `v` as logged, or as metrics.jsonl keeps it
    (a picture as {"_type": "image", ...}: logging._jsonable)."""
    tag = v.get("_type") if isinstance(v, Mapping) else None
    kind = tag if isinstance(tag, str) else type(v).__name__.lower()
    article = "an" if kind[:1] in "aeiou" else "a"
    words = {"image": "a picture", "video": "a video", "table": "a table", "str": "text", "nonetype": "None"}
    return words.get(kind, f"{article} {kind}")


def scalar(v: Any) -> bool:
    """A value summary.json and `last_eval` keep (a Table, an Image or a Video is not)."""
    return plain_value(v) is not NOT_PLAIN


NOT_PLAIN = object()  # what `plain_value` gives for a value summary.json does not keep


def plain_value(v: Any) -> Any:
    """`v` as summary.json, `last_eval` and the `on_eval` hook keep it: text, a bool or None as it
    is, a number as a Python int or float, numpy's and a 0-d tensor's or array's too (what a
    plugin's `arr.mean()` on float32 gives); `NOT_PLAIN` for anything else (a Table, a Video)."""
    if isinstance(v, (np.ndarray, torch.Tensor)) and v.ndim == 0 or isinstance(v, np.generic):
        v = v.item()  # a Python int, float or bool (np.float32 -> float)
    return v if isinstance(v, (int, float, str, bool)) or v is None else NOT_PLAIN
