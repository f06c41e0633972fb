"""Checkers a kind author runs to prove a kind honours the experiment protocol (like PettingZoo's
`api_test`): every built-in kind's tests call it, and a plugin's tests should too.

    from rlgen.testing import check_experiment

    def test_my_kind_honours_the_protocol():
        report = check_experiment("mypkg.kinds:Coin", "configs/coin.yaml", ["train.total_steps=1000"])
        assert "loss/total" in report.metric_names

`check_experiment` trains a few units on the CPU in a temporary directory, checkpoints the
experiment exactly as the runner does (its `state_dict()` beside the global RNG state, through
`rlgen.checkpoint`), trains one more unit, then builds a fresh experiment, requires its state to be
the original's right after setup (both were seeded alike: a difference was drawn from an unseeded
source), resumes it from that checkpoint as `rlgen train --resume` would, trains the same unit and
requires both to agree bit for bit. It then evaluates the original twice, the global RNGs and its
`evaluation_state()` put back in between as `rlgen.load_run(...).evaluate()` does, and the resumed
copy from the same RNGs: all three must give the same figures, among them the config model's
`early_stop_default` when the config early-stops on it. Every problem is reported at once in one
`ExperimentCheckError`, one line each.
"""

from __future__ import annotations

import math
import reprlib
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch

from rlgen import checkpoint
from rlgen.api import config_path
from rlgen.api_args import _bool_arg, _config_arg, _count_arg, _path_arg
from rlgen.cli_output import os_error_text
from rlgen.config import ExperimentConfig, config_tree, load_config
from rlgen.config_load import check_overrides
from rlgen.errors import ConfigError, RlgenError
from rlgen.experiment import (METRIC_PREFIXES, PROTOCOL_METHODS, RunContext, back_to_evaluation_start, eval_mode,
                              evaluation_start, is_problem_list, misplaced_early_stop)
from rlgen.logging import Image, Logger, Table
from rlgen.plain import UnsafeStateError
from rlgen.registry import KINDS
from rlgen.process import (choose_device, default_threads, process_state_kept, rng_state, seed_everything,
                           set_rng_state)
from rlgen.testing_diff import _capped, _differences, _is_number, _number_differences, _state_lines
from rlgen.testing_diff import MAX_LINES  # re-exported for users too
from rlgen.transfer import restoring, trusting
from rlgen.unit_checks import is_count

__all__ = ["CheckReport", "ExperimentCheckError", "check_experiment"]

_FUNC = "rlgen.testing.check_experiment"

_NOT_RESTORED_HINT = (
    "this usually means state_dict() leaves out, or load_state_dict() does not restore, part of what "
    "training reads (an optimizer, an RNG or generator, a counter, a buffer, an env): save and restore it, "
    "or pass exact=False while the kind is known not to resume exactly"
)


_UNSEEDED_HINT = (
    "two experiments set up with the same seed must start from the same state, or two runs of one seed differ: "
    "setup() draws from an unseeded source, such as np.random.default_rng(), torch.Generator() or random.Random() "
    "without a seed, or the clock; seed it from ctx.seed, or draw from the global RNGs, which the runner seeds"
)


_NOT_REPEATABLE_HINT = (
    "evaluate() gave other figures with the global RNGs and evaluation_state() put back as they were before "
    "the first call, as rlgen.load_run(...).evaluate() puts them back so that every call plays the episodes of "
    "the first: it draws from something else, such as the training RNG or an unseeded generator "
    "(np.random.default_rng()); draw from the global RNGs, or from a generator that evaluation_state() returns "
    "and load_evaluation_state() puts back"
)


class ExperimentCheckError(RlgenError):
    """A kind breaks the experiment protocol; `problems` holds one line per problem."""

    def __init__(self, kind: str, problems: list[str], hint: str = ""):
        self.kind, self.problems = kind, problems
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"kind {kind}: {len(problems)} {noun}:\n{lines}" + (f"\n{hint}" if hint else ""))


@dataclass(frozen=True)
class CheckReport:
    """What `check_experiment` ran and saw."""

    kind: str
    units: int  # train_unit calls in all: `units` + one more on the original + one on the resumed copy
    metric_names: tuple[str, ...]  # every name train_unit returned
    eval_names: tuple[str, ...]
    exact: bool  # False: only the state's structure was compared after resume, not its values
    seconds: float


def check_experiment(kind: type | str, config: ExperimentConfig | Mapping[str, Any] | str | Path,
                     overrides: Sequence[str] = (), *, units: int = 2, workdir: Path | None = None,
                     exact: bool = True, trust: bool = False) -> CheckReport:
    """Check that `kind` honours the protocol of `rlgen.experiment.Experiment` on `config`.

    `kind`: the class, a registered kind name or an import path (`mypkg.kinds:Coin`). `config`:
    anything `rlgen.api.load_config` takes; `overrides` as on the command line (keep the budget
    small). The run goes to a new `run-*` folder of `workdir` (default: a temporary directory,
    removed afterwards) on the CPU with W&B, console and progress bar off. `exact=False` is for a
    kind known not to resume exactly yet: the resumed unit's state is then compared only by keys,
    types, shapes and dtypes, and the two fresh states not at all (nor where a backbone's `init`
    loads weights only the original gets). `trust`: as `rlgen train --trust`, the runs a
    backbone's `init` names open even where their config names code by import path. The global RNG and torch's thread count are restored when it
    returns. Raises `ExperimentCheckError` (or `ConfigError` for a config the kind rejects).
    """
    units, exact, trust, workdir = _checked_args(config, overrides, units, exact, trust, workdir)
    t0 = time.perf_counter()
    cls, name = _resolve_kind(kind)
    if problems := _protocol_problems(cls):
        raise ExperimentCheckError(name, problems, "see rlgen.experiment.Experiment for the protocol")
    temporary = tempfile.TemporaryDirectory(prefix="rlgen-check-") if workdir is None else nullcontext(workdir)
    with process_state_kept(), temporary as where, trusting(trust):
        root = _made(Path(where))
        cfg = _load(cls, config, overrides, root)
        name = f"{cfg.kind!r} ({_import_path(cls)})"
        # a run directory of its own: an earlier check's checkpoints in a reused workdir are not this one's
        report = _check(cls, cfg, name, Path(tempfile.mkdtemp(prefix="run-", dir=root)), units, exact)
    return CheckReport(name, units + 2, *report, exact, round(time.perf_counter() - t0, 3))


def _check(cls: type, cfg: ExperimentConfig, name: str, run_dir: Path, units: int,
           exact: bool) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The run itself: train, checkpoint, train on, resume a copy, compare, evaluate, close."""
    ctx = RunContext(cfg, run_dir, choose_device("cpu", False), Logger([]), cfg.seed)
    built: list[Any] = []
    try:
        original = _build(cls, ctx, name, built)
        fresh = _save(original, run_dir / "fresh", name)["experiment"] if exact and not _transfers(cfg) else None
        seen = [_train(original, name, f"unit {i + 1}") for i in range(units)]
        saved = _save(original, run_dir / "checkpoints", name)
        metrics_a = _train(original, name, f"unit {units + 1}")
        after_a = _comparable(original)

        resumed = _build(cls, ctx, name, built, resuming=True)
        if fresh is not None:
            _check_seeded(fresh, resumed, name, cfg.seed)
        resumed.load_state_dict(saved["experiment"])
        set_rng_state(saved["rng"])  # after load_state_dict, as the runner's _restore does
        steps = [f"global_step is {resumed.global_step!r} after load_state_dict, not the saved "
                 f"{saved['global_step']}"] if resumed.global_step != saved["global_step"] else []
        restored = _differences(saved["experiment"], resumed.state_dict(), exact, ("saved", "restored"))
        metrics_b = _train(resumed, name, f"unit {units + 1} after resume")
        if resumed.global_step != original.global_step:
            steps.append(f"global_step is {resumed.global_step} after the resumed unit, {original.global_step} without")
        diverged = _differences(after_a, _comparable(resumed), exact, ("uninterrupted", "resumed"))
        metric_lines = _number_differences(metrics_a, metrics_b, _METRIC_LINES, "after resume", "without") \
            if exact else []
        if steps or restored or diverged or metric_lines:
            problems = steps + _state_lines(restored, diverged) + _capped(metric_lines, 3, "metrics")
            raise ExperimentCheckError(name, problems, _NOT_RESTORED_HINT if exact else "")
        evaluated = _check_evaluations(original, resumed, name, exact)
        _check_early_stop_default(cfg, evaluated, name)
    except BaseException:
        _close(built, name, report=False)  # the first error is the one to see
        raise
    _close(built, name, report=True)
    names = sorted({k for m in (*seen, metrics_a, metrics_b) for k in m})
    return tuple(names), tuple(sorted(evaluated))


# --- the arguments, the kind and its config -------------------------------------------------------


def _checked_args(config: Any, overrides: Any, units: Any, exact: Any, trust: Any,
                  workdir: Any) -> tuple[int, bool, bool, Path | None]:
    """Every argument checked before a config is read or a directory made, one RlgenError line each."""
    _config_arg(_FUNC, config)
    check_overrides(overrides)
    units = _count_arg(_FUNC, "units", units)
    exact, trust = _bool_arg(_FUNC, "exact", exact), _bool_arg(_FUNC, "trust", trust)
    if workdir is None:
        return units, exact, trust, None
    root = _path_arg(_FUNC, "workdir", workdir, "the directory the check runs in, made if missing")
    if root.exists() and not root.is_dir():
        raise RlgenError(f"{_FUNC}: workdir {root} is not a directory; give a directory (made if missing), or no "
                         "workdir for a temporary one")
    return units, exact, trust, root


def _made(root: Path) -> Path:
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise RlgenError(f"{_FUNC}: cannot make workdir {root}: {os_error_text(e)}") from None
    return root


def _transfers(cfg: ExperimentConfig) -> bool:
    """A backbone's `init` is set: the original loads its source's weights at setup, the resumed
    copy does not (`transfer.restoring`), so their fresh states differ by design."""
    def found(node: Any) -> bool:
        if isinstance(node, Mapping):
            init = node.get("init")
            return isinstance(init, Mapping) and "run" in init or any(found(v) for v in node.values())
        return isinstance(node, list) and any(found(v) for v in node)
    return found(config_tree(cfg))


# --- the kind and its config ----------------------------------------------------------------------


def _resolve_kind(kind: type | str) -> tuple[type, str]:
    cls = KINDS.get(kind) if isinstance(kind, str) else kind
    if not isinstance(cls, type):
        raise ExperimentCheckError(repr(kind), [f"is a {type(cls).__name__}, not a class implementing "
                                                "rlgen.experiment.Experiment"])
    return cls, repr(kind) if isinstance(kind, str) else _import_path(cls)


def _import_path(cls: type) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _protocol_problems(cls: type) -> list[str]:
    """The parts of the protocol the class lacks (its instances' `global_step` is checked in `_build`)."""
    model = getattr(cls, "config_model", None)
    problems = []
    if not (isinstance(model, type) and issubclass(model, ExperimentConfig)):
        problems.append(f"config_model is {model!r}, not a subclass of rlgen.config.ExperimentConfig")
    problems += [f"{m}() is missing" for m in PROTOCOL_METHODS if not callable(getattr(cls, m, None))]
    if misplaced := misplaced_early_stop(cls):
        problems.append(f"it {misplaced}")
    return problems


class _AnyKindName(Mapping[str, type[ExperimentConfig]]):
    """Every `kind:` name maps to the model of the class under check: the class may be registered
    under no name at all (a toy kind in a test, a plugin not installed yet)."""

    def __init__(self, model: type[ExperimentConfig]):
        self.model = model

    def __getitem__(self, name: str) -> type[ExperimentConfig]:
        return self.model

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _load(cls: type, config: Any, overrides: Sequence[str], root: Path) -> ExperimentConfig:
    """The config validated by the class's own model, with the checker's run settings on top, and
    the kind's `check(cfg)`, which must return a list of strings."""
    if isinstance(config, ExperimentConfig):
        source: Any = config_tree(config)  # escaped `\${` text stays text
    else:
        source = config if isinstance(config, Mapping) else config_path(config)
    forced = [f"logging.dir='{root}'", "logging.console=false", "logging.wandb.mode=disabled",
              "train.progress=false", "device=cpu"]
    cfg = load_config(source, [*overrides, *forced], kinds=_AnyKindName(cls.config_model))
    check = getattr(cls, "check", None)
    if callable(check):
        found = check(cfg)
        if not is_problem_list(found):
            raise ExperimentCheckError(_import_path(cls), [f"check(cfg) returned {reprlib.repr(found)}, not a list of strings "
                                                           "(one line per problem, empty when none)"])
        if found:
            raise ConfigError(str(source) if not isinstance(source, Mapping) else "<config>", found)
    return cfg


# --- building and training ------------------------------------------------------------------------


def _build(cls: type, ctx: RunContext, name: str, built: list[Any], resuming: bool = False) -> Any:
    """Construct, seed and set up as the runner does (construction comes before the seeding; a
    copy that will receive a checkpoint is set up under `transfer.restoring`, loading no `init`)."""
    exp = cls(ctx.cfg)
    built.append(exp)
    torch.set_num_threads(ctx.cfg.train.threads or default_threads(ctx.device, exp))
    seed_everything(ctx.cfg.seed)
    with restoring() if resuming else nullcontext():
        exp.setup(replace(ctx, resumed=True) if resuming else ctx)  # as the runner tells a resume
    step = getattr(exp, "global_step", None)
    if not is_count(step) or step < 0:
        raise ExperimentCheckError(name, [f"global_step after setup is {step!r}, not an integer >= 0 "
                                          "(env steps or training iterations, set in __init__)"])
    return exp


def _train(exp: Any, name: str, which: str) -> dict[str, float]:
    """One train_unit whose metrics are finite numbers under the shared prefixes and whose
    global_step grew."""
    step0 = exp.global_step
    metrics = exp.train_unit()
    if not isinstance(metrics, Mapping):
        raise ExperimentCheckError(name, [f"{which}: train_unit() returned {type(metrics).__name__}, "
                                          "not a mapping of metric names to numbers"])
    problems = [f"{which}: {p}" for p in _value_problems(metrics, METRIC_PREFIXES, evaluation=False)]
    step = exp.global_step
    if not is_count(step) or step <= step0:
        problems.append(f"{which}: global_step went from {step0!r} to {step!r}; it must grow with every unit "
                        "(is train.total_steps already reached? give the check a larger budget)")
    if problems:
        raise ExperimentCheckError(name, problems)
    return dict(metrics)


def _value_problems(metrics: Mapping[str, Any], prefixes: tuple[str, ...], evaluation: bool) -> list[str]:
    """Names under `prefixes`, values finite numbers; an `evaluation` may also give a Table, an Image,
    or NaN: a score undefined for this run (eval/expert_ratio against an expert no better than
    random), which the runner's early stopping passes over. Infinity is never a score."""
    named = prefixes[0] if len(prefixes) == 1 else f"one of the shared prefixes ({', '.join(prefixes)})"
    problems = []
    for key, value in metrics.items():
        if not isinstance(key, str) or not key.startswith(prefixes):
            problems.append(f"metric {key!r} does not start with {named}")
        elif evaluation and isinstance(value, (Table, Image)):
            continue
        elif not (_is_number(value) and (math.isfinite(float(value)) or (evaluation and math.isnan(float(value))))):
            problems.append(f"metric {key!r} is {value!r}, not a finite number{' or NaN' if evaluation else ''}")
    return problems


def _save(exp: Any, ckpt_dir: Path, name: str) -> dict[str, Any]:
    """A checkpoint as the runner writes it, read back: what load_state_dict will really get."""
    state = {"experiment": exp.state_dict(), "global_step": exp.global_step, "rng": rng_state()}
    try:
        saved = checkpoint.save(ckpt_dir, exp.global_step, state)
    except UnsafeStateError as e:  # an object: it would have to be unpickled, which can run code
        where = f"{e.path.removeprefix('experiment.')} ({e.type_name})" if e.type_name else e.path
        raise ExperimentCheckError(name, [f"{where} cannot be saved in a checkpoint: state_dict() must hold "
                                          "tensors, numpy arrays, numbers, strings and lists/tuples/dicts of "
                                          "them (checkpoints are opened with torch.load(weights_only=True))"]) from None
    return checkpoint.load(saved)  # exactly this one (its step_N directory)


def _check_seeded(fresh: Mapping[str, Any], resumed: Any, name: str, seed: int) -> None:
    """The copy's state right after its setup (before load_state_dict) against the original's right
    after its own (`fresh`, saved then): both were seeded alike, so any difference was drawn from
    something unseeded, which a resume restores but two runs of one seed do not share."""
    found = _differences(fresh, resumed.state_dict(), True, ("first set up", "set up again"))
    if found:
        lines = [f"{path} differs between two setups with seed {seed} ({what})" for path, what in found]
        raise ExperimentCheckError(name, _capped(lines, MAX_LINES, "entries"), _UNSEEDED_HINT)


def _comparable(exp: Any) -> dict[str, Any]:
    """What must agree after the same unit: the experiment's state and the global RNG."""
    return {**exp.state_dict(), "<global RNG>": rng_state()}


def _check_evaluations(original: Any, resumed: Any, name: str, exact: bool) -> dict[str, Any]:
    """The original's evaluation, twice, with the global RNGs and its `evaluation_state()` put back
    in between as `rlgen.load_run(...).evaluate()` puts them back (README: every call plays the
    episodes of the first): both must give the same figures. With `exact`, the resumed copy, at the
    same step, evaluated from the same global RNGs, must give them too."""
    first = evaluation_start(original)
    evaluated = _evaluate(original, name)
    back_to_evaluation_start(original, first)
    again = _evaluate(original, name, "evaluate() the second time")
    if lines := _number_differences(evaluated, again, _EVAL_LINES, "the second time", "the first"):
        raise ExperimentCheckError(name, _capped(lines, 3, "metrics"), _NOT_REPEATABLE_HINT)
    if exact:
        set_rng_state(first[0])
        after_resume = _evaluate(resumed, name, "evaluate() after resume")
        if lines := _number_differences(evaluated, after_resume, _EVAL_LINES, "after resume", "without"):
            raise ExperimentCheckError(name, _capped(lines, 3, "metrics"), _NOT_RESTORED_HINT)
    return evaluated


def _check_early_stop_default(cfg: ExperimentConfig, evaluated: Mapping[str, Any], name: str) -> None:
    """The config model's `early_stop_default` is a metric the kind always logs (README, the kind
    contract): a config that names none early-stops and keeps its best checkpoint by it, and without it
    gets no best, target or patience. Judged when `cfg` early-stops on it: a kind may log it only under
    settings its check(cfg) requires of a config that does (teams' eval/score_min, against baselines)."""
    metric = type(cfg).early_stop_default[0]
    if cfg.train.early_stop.metric == metric and metric not in evaluated:
        raise ExperimentCheckError(name, [
            f"evaluate() does not return {metric!r}, its config_model's early_stop_default, on which a config "
            f"that names no train.early_stop.metric early-stops and picks its best checkpoint; return it from "
            f"every evaluation, or make early_stop_default one it returns ({', '.join(sorted(evaluated)) or 'none'})"])


def _evaluate(exp: Any, name: str, which: str = "evaluate()") -> dict[str, Any]:
    """One evaluation as the runner and `Run.evaluate` make it: the kind's modules in eval mode."""
    with eval_mode(exp):
        metrics = exp.evaluate()
    if not isinstance(metrics, Mapping):
        raise ExperimentCheckError(name, [f"{which} returned {type(metrics).__name__}, not a mapping"])
    problems = [f"{which}: {p}" for p in _value_problems(metrics, ("eval/",), evaluation=True)]
    if problems:
        raise ExperimentCheckError(name, problems)
    return dict(metrics)


_METRIC_LINES = ("metric {key} is {b} {when_b}, {a} {when_a}", "metric {key} is reported only {when}")
_EVAL_LINES = ("evaluate() gives {key} = {b} {when_b}, {a} {when_a}", "evaluate() reports {key} only {when}")


def _close(built: list[Any], name: str, report: bool) -> None:
    """Close every experiment built; `report`: a failing close is an error."""
    failed = []
    for exp in built:
        try:
            exp.close()
        except Exception as e:  # noqa: BLE001
            failed.append(f"close() raised {type(e).__name__}: {e}")
    if failed and report:
        raise ExperimentCheckError(name, failed)
