"""The experiment protocol: what a kind implements so that the runner can drive it.

A kind is a class registered in `rlgen.registry.KINDS` (an entry point in the `rlgen.kinds` group,
or `kind: mypkg.kinds:MyKind` in a config). The runner owns everything around it: seeds, device,
run directory, logging, evaluation schedule, checkpoints, resume, early stopping, signals.
`rlgen.testing.check_experiment` proves a kind honours the protocol.

    class Coin(ExperimentBase):
        '''Learns the bias of a coin.'''            # first line: its description in `rlgen list`
        config_model = CoinConfig                  # an ExperimentConfig subclass

        def setup(self, ctx): ...                  # build nets and optimizers on ctx.device
        def train_unit(self): ...                  # -> {"loss/...": float}; advance global_step
        def evaluate(self, episodes=None, video_dir=None): ...   # -> {"eval/...": ...}
        def state_dict(self): ...                  # everything needed to resume exactly
        def load_state_dict(self, state): ...
"""

from __future__ import annotations

import reprlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator, Mapping, Protocol, runtime_checkable

import torch

from rlgen.errors import RlgenError

if TYPE_CHECKING:
    from rlgen.config import ExperimentConfig
    from rlgen.logging import Logger

# Metric prefixes every kind shares, so runs of different kinds compare in one W&B project.
METRIC_PREFIXES = ("eval/", "rollout/", "loss/", "gan/", "league/", "time/", "train/")


@dataclass
class RunContext:
    """What the runner hands an experiment in `setup`."""

    cfg: ExperimentConfig
    run_dir: Path
    device: torch.device
    logger: Logger
    seed: int
    rank: int = 0  # this process's rank under torchrun (DDP); 0 when not distributed
    world_size: int = 1
    training: bool = True  # False: a finished run loaded to act, evaluate or export (`rlgen.load_run`)
    # True: training goes on from a checkpoint (`--resume`), whose state `load_state_dict` gets after
    # setup. Its config trained already: what a new run is refused (a key an older rlgen allowed)
    # is at most a warning there, as the run cannot change it
    resumed: bool = False

    @property
    def media_dir(self) -> Path:
        path = self.run_dir / "media"
        path.mkdir(parents=True, exist_ok=True)
        return path


@runtime_checkable
class Experiment(Protocol):
    """The protocol an experiment kind implements; the runner drives it."""

    global_step: int  # env steps (RL) or training iterations (GAN); monotone, survives resume

    def setup(self, ctx: RunContext) -> None:
        """Build envs, networks and optimizers on `ctx.device`. Called once, before any training."""

    def train_unit(self) -> Mapping[str, float]:
        """Train one unit (a rollout + update, a batch of GAN steps, a league phase); return metrics."""

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> Mapping[str, Any]:
        """Evaluate the current players; return metrics named `eval/...`."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume exactly: weights, optimizers, buffers, RNG, counters."""

    def load_state_dict(self, state: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


class ExperimentBase:
    """Defaults for the optional parts of the protocol; a kind subclasses it (or not: the runner
    only needs the methods of `Experiment`).

    It gives `__init__(cfg)`, `check`, `evaluate`, `modules`, `evaluation_state`,
    `load_evaluation_state` and `close` (BASE_GIVES), and the class attributes' defaults.

    Class-level: `config_model` (the pydantic model of its config; its `early_stop_default` is
    the metric and mode early stopping uses when a config names none), `check(cfg)` (cheap
    problems beyond the schema: a list of strings, one line each with a dotted path),
    `prefers_accelerator` (device: auto picks a GPU only when True), `data_parallel` (True: under torchrun its replicas average their
    gradients and stay one model; torchrun with several processes refuses a kind without it),
    `episodic` (False: its evaluation scores what its own config says, not episodes, so
    `Run.evaluate(episodes=N)` and `rlgen eval --episodes N` warn that N is not used).
    Optional: `modules()` (its torch modules by role, for
    `rlgen.load_run(...).modules()` and transfer), `agent()` (a policy to act outside training, for
    `rlgen.load_run(...).agent()` / `.predict()` and `rlgen record`: an object with
    `predict(obs, reward=0.0, deterministic=True)`, the action for one observation as `env.step`
    takes it, and `reset()`, called before each episode; optionally `observation_space`, the env's
    own, which each observation is then checked against, and `takes_action_masks`, True for
    `rlgen record` to pass the env's `action_masks=` too),
    `rank_state()` / `load_rank_state(state | None)` (what differs between torchrun replicas, such
    as each one's data stream; see rlgen/distributed.py),
    `export(fmt, out_dir) -> list[Path]` (`rlgen export`; rlgen.export.save_module writes a module
    as ONNX or TorchScript), `evaluation_state()` / `load_evaluation_state(state)` (what an
    evaluation draws from besides the global RNGs: eval envs, opponents' generators, cached
    results; `rlgen.load_run(...).evaluate()` puts it back before each evaluation after the first,
    so every one plays the episodes of the first).
    """

    config_model: ClassVar[type[ExperimentConfig]]
    prefers_accelerator: bool = False
    data_parallel: ClassVar[bool] = False
    episodic: ClassVar[bool] = True

    def __init__(self, cfg: ExperimentConfig):
        self.cfg = cfg
        self.global_step = 0

    @classmethod
    def check(cls, cfg: ExperimentConfig) -> list[str]:
        return []

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> Mapping[str, Any]:
        return {}

    def modules(self) -> dict[str, torch.nn.Module]:
        return {}

    def evaluation_state(self) -> Any:
        return None

    def load_evaluation_state(self, state: Any) -> None:
        pass

    def close(self) -> None:
        pass


# What the runner calls on every kind (of these, ExperimentBase gives evaluate and close)
PROTOCOL_METHODS = ("setup", "train_unit", "evaluate", "state_dict", "load_state_dict", "close")
# What ExperimentBase gives, as the errors below and the README's `rlgen.kinds` row list it
BASE_GIVES = ("__init__(cfg) (self.cfg, self.global_step = 0), check (no problems), evaluate ({}), modules ({}), "
              "evaluation_state (None), load_evaluation_state and close (both nothing)")


def protocol_problem(kind: Any) -> str | None:
    """None when `kind` has the shape of an experiment kind, else one line (a predicate: "is a
    int, not ...", "has no train_unit() ...") saying what it lacks and what the protocol needs.
    Checked when a kind's name is resolved, so that a config using it fails validation, before a
    run directory exists, instead of failing inside the runner."""
    from rlgen.config import ExperimentConfig

    needs = ("a kind is a class with config_model (an rlgen.config.ExperimentConfig subclass) and setup, "
             f"train_unit, evaluate, state_dict, load_state_dict and close (rlgen.experiment.ExperimentBase gives "
             f"{BASE_GIVES})")
    if not isinstance(kind, type):
        return f"is a {type(kind).__name__}, not a class implementing rlgen.experiment.Experiment: {needs}"
    lacks = []
    model = getattr(kind, "config_model", None)
    if model is None:
        lacks.append("has no config_model")
    elif not (isinstance(model, type) and issubclass(model, ExperimentConfig)):
        shown = model.__name__ if isinstance(model, type) else f"a {type(model).__name__}"
        lacks.append(f"has config_model {shown}, not an rlgen.config.ExperimentConfig subclass")
    missing = [m for m in PROTOCOL_METHODS if not callable(getattr(kind, m, None))]
    if missing:
        named = [f"{m}()" for m in missing]
        lacks.append(f"has no {' or '.join(named) if len(named) < 3 else ', '.join(named[:-1]) + ' or ' + named[-1]}")
    misplaced = misplaced_early_stop(kind)
    if lacks:
        return f"{' and '.join([*lacks, *([misplaced] if misplaced else [])])}: {needs}"
    return misplaced


def misplaced_early_stop(kind: type) -> str | None:
    """A predicate ("sets ...") when the kind class sets an `early_stop_default` its config_model
    does not: only `config_model.early_stop_default` is read (rlgen.config), so the kind's would be
    ignored without a word."""
    own = getattr(kind, "early_stop_default", None)
    if own is None or own == getattr(getattr(kind, "config_model", None), "early_stop_default", None):
        return None
    return (f"sets early_stop_default {own!r} on the kind class, where nothing reads it: set it on its config_model "
            "(early_stop_default: ClassVar[tuple[str, str]] in the ExperimentConfig subclass)")


def is_problem_list(found: Any) -> bool:
    """What `check(cfg)` must return: a list (or tuple) of strings, one line per problem."""
    return isinstance(found, (list, tuple)) and all(isinstance(p, str) for p in found)


def check_of(kind: Any, cfg: ExperimentConfig) -> list[str]:
    """`kind.check(cfg)` when the kind has one, else no problems; RlgenError for a check that
    returns anything but a list of strings (a str would be read one character per problem)."""
    check = getattr(kind, "check", None)
    if not callable(check):
        return []
    found = check(cfg)
    if not is_problem_list(found):
        raise RlgenError(f"kind {cfg.kind!r}: check(cfg) returned {reprlib.repr(found)}, not a list of strings "
                         "(one line per problem, empty when none)")
    return list(found)


def prefers_accelerator(exp: Any) -> bool:
    """Kinds say whether their networks profit from a GPU (an MLP on-policy agent does not)."""
    return bool(getattr(exp, "prefers_accelerator", False))


def evaluation_start(exp: Any) -> tuple[Any, Any]:
    """What an evaluation of `exp` draws from, taken now: the global RNGs and the kind's
    `evaluation_state()`. `back_to_evaluation_start` puts it back, so that the next evaluation
    plays the episodes this one is about to (`rlgen.load_run(...).evaluate()`, the checker)."""
    from rlgen.process import rng_state

    return rng_state(), getattr(exp, "evaluation_state", lambda: None)()


def back_to_evaluation_start(exp: Any, start: tuple[Any, Any]) -> None:
    from rlgen.process import set_rng_state

    set_rng_state(start[0])
    if (load := getattr(exp, "load_evaluation_state", None)) is not None:
        load(start[1])


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
