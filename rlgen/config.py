"""YAML -> validated, typed config tree, with dotted command-line overrides: the models every kind
shares (this module) and reading a config into them (`rlgen.config_load`, re-exported here).

Loading is two steps. OmegaConf reads the YAML and merges `a.b=c` overrides (so `3e-4` is a float
and interpolations work); pydantic v2 then validates the plain tree against the model of the
config's `kind` with `extra="forbid"`. Every problem is reported at once with its dotted path, and a
misspelt key or choice gets a "did you mean". Kinds register their model with `load_config(...,
kinds=...)`; this module knows the sections every kind shares and nothing about any algorithm.
"""

from __future__ import annotations

import math
import os
import re
import types
import typing
from typing import Annotated, Any, ClassVar, Literal, Mapping, Sequence, Union

import numpy as np
from pydantic import (AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError,
                      ValidatorFunctionWrapHandler, field_validator, model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from rlgen.errors import ConfigError, RlgenError
from rlgen.registry import BACKBONES

# The names of rlgen.nets.common's ACTIVATIONS, NORMS and POOLS, spelled out so that loading a config
# needs no torch; tests/runner/test_config.py checks that the two agree.
Activation = Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu"]
Norm = Literal["none", "batch", "layer"]
Pool = Literal["last", "mean", "sequence"]


MAX_COUNT = 1_000_000  # episodes, games, trials, processes in one go: more is a typo, not a plan
MAX_SEED = 2**32 - 1  # a seed is 0 to this: numpy's range, which SB3 seeds with

# A sweep's study name (its file's `study:`, `--study`) names the folder <logging.dir>/<study>/ and its
# trials: letters, digits, _ . - as a config's name, and not only dots
STUDY_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def is_study_name(name: Any) -> bool:
    return isinstance(name, str) and STUDY_NAME.fullmatch(name) is not None and set(name) != {"."}


def whole_count(value: Any, what: str) -> int:
    """`value` as a count from 1 to MAX_COUNT (bool, float and text refused); else one RlgenError line."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_COUNT:
        raise RlgenError(f"{what} must be a whole number from 1 to {MAX_COUNT:,}, got {value!r}")
    return int(value)


def _members(t: Any) -> list[Any]:
    """Flatten Annotated / Union / Optional into the plain types they can be."""
    origin = typing.get_origin(t)
    if origin is Annotated:
        return _members(typing.get_args(t)[0])
    if origin in (Union, types.UnionType):
        return [m for a in typing.get_args(t) for m in _members(a)]
    return [t]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, defaults are validated too, a float
    field takes finite numbers only (`inf`, `.nan`, `1e400` are refused where the field is declared;
    a field where inf means "off" says so with `Field(allow_inf_nan=True)`), and true/false goes only
    where a flag (or anything) is declared (`_no_stray_bools`)."""

    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False)

    @model_validator(mode="wrap")
    @classmethod
    def _no_stray_bools(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # pydantic's lax mode reads True as 1 in an int or float field (`optim.lr=true` would train
        # at lr 1.0); strict mode would refuse that but also `total_steps: 1e5`, which YAML reads as
        # a float and the README allows. So only a bool is checked, wherever it sits in a field. (A
        # model validator, not a field one: pydantic allows no field validator on a union's tag.)
        found = [(key, *f) for key, value in data.items() if (field := cls.model_fields.get(key))
                 for f in _stray_bools([field.annotation], value)] if isinstance(data, Mapping) else []
        if not found:
            return handler(data)
        ours = [InitErrorDetails(type=PydanticCustomError("yaml_bool", "{problem}", {"problem": problem}),
                                 loc=(key, *loc), input=bad) for key, loc, bad, problem in found]
        try:  # the section's other problems too, so that every problem is said at once
            handler(data)
            theirs = []
        except ValidationError as e:
            theirs = [InitErrorDetails(type=PydanticCustomError(err["type"], err["msg"], err.get("ctx")),
                                       loc=err["loc"], input=err["input"]) for err in e.errors()
                      if not any(err["loc"][:len(o["loc"])] == o["loc"] for o in ours)]
        raise ValidationError.from_exception_data(cls.__name__, [*ours, *theirs])


_YAML_BOOLS = {"yes", "no", "on", "off", "true", "false"}


def _stray_arguments(builder: Any, model: type[BaseModel] | None, given: Mapping[str, Any]) -> list[str]:
    """`_stray_bools` for a plugin backbone's arguments: against its `config_model`'s fields, or
    else its builder's annotated parameters (a builder whose hints do not resolve is not checked)."""
    if model is not None:
        hints = {k: f.annotation for k, f in model.model_fields.items()}
    else:
        try:
            target = getattr(builder, "func", builder)
            hints = typing.get_type_hints(target.__init__ if isinstance(target, type) else target)
        except Exception:  # a builtin, or a hint naming what the plugin does not import
            hints = {}
    return [f"{'.'.join(map(str, (key, *loc)))}: {problem}" for key, value in given.items() if key in hints
            for loc, _, problem in _stray_bools([hints[key]], value)]


def _stray_bools(annotations: list[Any], value: Any,
                 loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], bool, str]]:
    """(location, value, problem) of every True/False in `value` (lists, tuples and mappings
    included) where none of `annotations` takes a bool: where a number or text is expected. Models
    are left to their own check; `Any` takes a bool (free-form sections have their own checks)."""
    members = [m for a in annotations for m in _members(a)]
    if any(m is Any or (isinstance(m, type) and issubclass(m, BaseModel)) for m in members):
        return []
    if isinstance(value, bool):
        choices = [a for m in members if typing.get_origin(m) is Literal for a in typing.get_args(m)]
        if bool in members or any(a is value for a in choices):
            return []
        if any(isinstance(m, type) and issubclass(m, (int, float)) for m in members) or any(
                isinstance(a, (int, float)) and not isinstance(a, bool) for a in choices):
            return [(loc, value, f"expected a number, got {value}")]
        if str in members or any(isinstance(a, str) for a in choices):
            expected = "text" if str in members else f"one of {', '.join(repr(a) for a in choices)}"
            # YAML 1.1 (OmegaConf's reader) turns yes/no/on/off/true/false into a bool unless quoted
            quote = str in members or any(str(a).lower() in _YAML_BOOLS for a in choices)
            return [(loc, value, f"expected {expected}, got {value} (YAML reads an unquoted yes/no, on/off or "
                                 f"true/false as true/false)" + (f"; put the word in quotes (e.g. "
                                 f"'{'yes' if value else 'no'}') to keep it as text" if quote else ""))]
        return []
    if isinstance(value, (list, tuple)):
        found = []
        for i, item in enumerate(value):
            inner = [_item_type(m, i) for m in members if typing.get_origin(m) in (list, tuple, set, frozenset)]
            found += _stray_bools([t for t in inner if t is not None], item, (*loc, i))
        return found
    if isinstance(value, Mapping):
        inner = [typing.get_args(m)[-1] for m in members if typing.get_origin(m) is dict and typing.get_args(m)]
        return [f for key, item in value.items() for f in _stray_bools(inner, item, (*loc, key))]
    return []


def _item_type(container: Any, i: int) -> Any:
    """The type of item `i` of a list[X] / tuple[X, Y] / tuple[X, ...] annotation; None past a tuple's end."""
    args = typing.get_args(container)
    if not args:
        return Any
    if typing.get_origin(container) is not tuple or (len(args) == 2 and args[1] is Ellipsis):
        return args[0]
    return args[i] if i < len(args) else None


def _is_nan(value: Any) -> bool:
    """A NaN float, or a `lin_nan` schedule."""
    if isinstance(value, str) and value.startswith("lin_"):
        value = _schedule_start(value)
    return isinstance(value, float) and math.isnan(value)


def _schedule_start(value: str) -> float | None:
    """The start of a `lin_X` schedule (`lin_0.2` -> 0.2), None when X is no number."""
    try:
        return float(value[4:])
    except ValueError:
        return None


def nan_values(tree: Any, path: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every NaN number anywhere in a plain config tree: in typed fields and in
    free-form ones alike (agent.hyperparams, data.kwargs, env.kwargs, a plugin backbone's arguments),
    lists included; a `lin_nan` schedule too. NaN is no setting anywhere: it compares false with
    everything, so a check such as `lr > 0` or an early-stop target never sees it."""
    if isinstance(tree, Mapping):
        return [found for key, value in tree.items() for found in nan_values(value, f"{path}.{key}" if path else str(key))]
    if isinstance(tree, (list, tuple)):
        return [found for i, value in enumerate(tree) for found in nan_values(value, f"{path}.{i}" if path else str(i))]
    return [(path or "<root>", tree)] if _is_nan(tree) else []


def finite_numbers(inf_means_off: Sequence[str] = ()) -> AfterValidator:
    """For a free-form mapping of numbers (an algorithm's own arguments): every number in it must be
    finite (nested ones, `lin_X` schedule starts and text that float() reads, "inf", included),
    except that a top-level key in `inf_means_off` may be +inf (where the argument reads it as "no
    limit", e.g. a gradient-norm clip). Each problem is reported at its own key:
    `agent.hyperparams.clip_range: must be a finite number (got inf)`."""
    off = frozenset(inf_means_off)

    def bad(value: Any, key: Any) -> bool:
        number = value
        if isinstance(value, str):  # a lin_X schedule's start; "inf" / "nan" as text, which float() reads
            number = _schedule_start(value) if value.startswith("lin_") else _schedule_start(f"lin_{value}")
        if isinstance(number, bool) or not isinstance(number, float) or math.isfinite(number):
            return False
        return not (number == math.inf and key in off)

    def walk(tree: Any, loc: tuple[Any, ...]) -> list[InitErrorDetails]:
        items = tree.items() if isinstance(tree, Mapping) else enumerate(tree) if isinstance(tree, (list, tuple)) else []
        found: list[InitErrorDetails] = []
        for key, value in items:
            if bad(value, key if not loc else None):  # only the top-level arguments may mean "off" by inf
                found.append(InitErrorDetails(type=PydanticCustomError("finite_number", "must be a finite number"),
                                              loc=(*loc, key), input=value))
            else:
                found += walk(value, (*loc, key))
        return found

    def check(tree: Any) -> Any:
        if problems := walk(tree, ()):
            raise ValidationError.from_exception_data("finite numbers", problems)
        return tree

    return AfterValidator(check)


def device_problem(device: Any) -> str | None:
    """What is wrong with a device name (the config's `device`, `rlgen.load_run(device=...)`), or None."""
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        return f"device must be auto, cpu, mps, cuda or cuda:N, not {device!r}"
    return None


# --- backbones (mirror the constructors in rlgen/nets; `spec()` is what build_backbone takes) ---


def _absolute_if_found(path: str) -> str:
    """A relative path that names something from the current directory, made absolute; anything
    else (an absolute path, a Minari dataset id, a path not there) as written. The run's config.yaml
    then names the same demos or run from any directory: `--resume`, `rlgen eval`, `load_run`."""
    return os.path.abspath(path) if not os.path.isabs(path) and os.path.exists(path) else path


# a file or directory a config names (demos.path, init.run, bc.init_from): see `_absolute_if_found`
LocalPath = Annotated[str, AfterValidator(_absolute_if_found)]


class InitConfig(Section):
    """Start a backbone from another run's trained one (rlgen/transfer.py): `role` names a module of
    that run (`rlgen inspect RUN_DIR` lists them: encoder, discriminator, policy, classifier, ...)."""

    run: LocalPath = Field(description="a run directory, or runs/<name> for the newest run of that config")
    role: str = Field(description="which module of that run, e.g. encoder, discriminator, policy, value")
    freeze: bool = Field(False, description="keep the loaded weights fixed (and the backbone in eval mode)")
    lr: float | None = Field(None, gt=0, description="its own learning rate when not frozen; None = the optimizer's")

    @model_validator(mode="after")
    def _lr_needs_training(self) -> InitConfig:
        if self.freeze and self.lr is not None:
            raise ValueError("lr is for a backbone that trains; drop lr or set freeze: false")
        return self


class BackboneBase(Section):
    """What every built-in backbone takes. Its traits are the network class's: `sequence` (reads
    (T, F) windows; the GAN draws sequences with it) and `prefers_accelerator` (device: auto)."""

    _sequence: ClassVar[bool] = False
    _accelerator: ClassVar[bool] = False
    activation: Activation = "relu"
    norm: Norm = "none"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    init: InitConfig | None = Field(None, description="load (and maybe freeze) a trained backbone of another run")

    def spec(self) -> dict[str, Any]:
        return self.model_dump(exclude={"init"})

    @property
    def sequence(self) -> bool:
        return self._sequence

    @property
    def prefers_accelerator(self) -> bool:
        return self._accelerator


class MLPBackbone(BackboneBase):
    type: Literal["mlp"]
    hidden: list[Annotated[int, Field(gt=0)]] = [64, 64]


class CNNBackbone(BackboneBase):
    _accelerator: ClassVar[bool] = True
    type: Literal["cnn"]
    channels: list[Annotated[int, Field(gt=0)]] = [32, 64, 64]
    kernels: list[Annotated[int, Field(gt=0)]] = [8, 4, 3]
    strides: list[Annotated[int, Field(gt=0)]] = [4, 2, 1]
    padding: list[Annotated[int, Field(ge=0)]] | None = None
    hidden: int = Field(512, ge=0, description="size of the final Linear; 0 = none")


class RNNBackbone(BackboneBase):
    _sequence: ClassVar[bool] = True
    type: Literal["rnn", "gru", "lstm"]
    activation: Activation = "tanh"
    hidden_size: int = Field(64, gt=0)
    num_layers: int = Field(1, gt=0)
    pool: Pool = "last"


class TransformerBackbone(BackboneBase):
    _sequence: ClassVar[bool] = True
    _accelerator: ClassVar[bool] = True
    type: Literal["transformer"]
    activation: Activation = "gelu"
    norm: Norm = "layer"
    d_model: int = Field(64, gt=0)
    n_heads: int = Field(4, gt=0)
    n_layers: int = Field(2, gt=0)
    ff_dim: int = Field(128, gt=0)
    positional: Literal["learned", "sinusoidal"] = "learned"
    causal: bool = True
    pool: Pool = "last"
    max_len: int | None = Field(None, gt=0)


class CustomBackbone(Section):
    """A backbone type from the registry (a plugin's entry point) or an import path
    (`type: mypkg.nets:MyEncoder`); the other keys are its keyword arguments, checked against the
    class's `config_model` (a pydantic model) when it has one, else against its signature."""

    model_config = ConfigDict(extra="allow")
    type: str
    init: InitConfig | None = None

    @field_validator("type")
    @classmethod
    def _known(cls, name: str) -> str:
        if (problem := BACKBONES.problem(name)) is not None:
            raise ValueError(problem)  # pydantic reports it with the field's dotted path
        return name

    @model_validator(mode="after")
    def _arguments(self) -> CustomBackbone:
        builder = BACKBONES.get(self.type)
        model = getattr(getattr(builder, "func", builder), "config_model", None)
        if stray := _stray_arguments(builder, model, self.model_extra or {}):  # true/false as a number, as elsewhere
            raise ValueError("; ".join(stray))
        if model is not None:
            try:
                model.model_validate(self.model_extra or {})
            except ValidationError as e:
                raise ValueError("; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()))
        return self

    def spec(self) -> dict[str, Any]:
        return {"type": self.type, **(self.model_extra or {})}

    def _traits(self) -> tuple[bool, bool]:
        from rlgen.nets import backbone_traits

        return backbone_traits(self.type)

    @property
    def sequence(self) -> bool:
        return self._traits()[0]

    @property
    def prefers_accelerator(self) -> bool:
        return self._traits()[1]


_BUILTIN_BACKBONES = {"mlp": "mlp", "cnn": "cnn", "rnn": "rnn", "gru": "rnn", "lstm": "rnn", "transformer": "transformer"}


def backbone_union(builtins: Mapping[str, type[BaseModel]]) -> Any:
    """A config field holding one backbone: `type` picks the model among `builtins` (tag -> model,
    several types may share a model), anything else is a CustomBackbone looked up in the registry."""

    def tag(value: Any) -> str:
        t = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
        for name, model in builtins.items():
            if t in typing.get_args(model.model_fields["type"].annotation):
                return name
        return "custom"

    members = tuple(Annotated[m, Tag(n)] for n, m in builtins.items())
    return Annotated[Union[(*members, Annotated[CustomBackbone, Tag("custom")])], Discriminator(tag)]


BackboneConfig = backbone_union(
    {"mlp": MLPBackbone, "cnn": CNNBackbone, "rnn": RNNBackbone, "transformer": TransformerBackbone}
)


# --- sections every kind shares ---


class OptimConfig(Section):
    """One optimizer; `schedule: linear` decays the learning rate to 0 over the run."""

    type: Literal["sgd", "adam", "adamw", "rmsprop", "adagrad"] = "adam"
    lr: float = Field(3e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0, description="L2: the torch optimizer's own weight_decay")
    l1: float = Field(0.0, ge=0, description="L1: l1 * sign(w) added to every gradient (rlgen/optim.py)")
    betas: tuple[float, float] | None = Field(None, description="adam/adamw only")
    momentum: float = Field(0.0, ge=0, description="sgd/rmsprop only")
    eps: float | None = Field(None, gt=0)
    fused: bool = Field(False, description="torch's fused step (adam, adamw, sgd, adagrad): one kernel for all "
                        "parameters instead of a loop over them; the same update up to float rounding")
    schedule: Literal["constant", "linear"] = "constant"

    _TORCH: ClassVar[dict[str, str]] = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                                        "adagrad": "Adagrad"}

    @model_validator(mode="after")
    def _fits_type(self) -> OptimConfig:
        # checked when the config loads, so the error carries the section's full path
        if self.betas is not None and self.type not in ("adam", "adamw"):
            raise ValueError(f"betas are only for adam/adamw, not {self.type!r}; drop betas or change type")
        if self.momentum and self.type not in ("sgd", "rmsprop"):
            raise ValueError(f"momentum is only for sgd/rmsprop, not {self.type!r}; drop momentum or change type")
        if self.fused and self.type == "rmsprop":
            raise ValueError("torch's RMSprop has no fused step; drop fused or change type")
        return self

    @property
    def torch_class(self) -> type:
        import torch

        return getattr(torch.optim, self._TORCH[self.type])

    def torch_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for the torch optimizer class, without `lr`."""
        kwargs: dict[str, Any] = {"weight_decay": self.weight_decay}
        if self.betas is not None:
            kwargs["betas"] = tuple(self.betas)
        if self.momentum:
            kwargs["momentum"] = self.momentum
        if self.eps is not None:
            kwargs["eps"] = self.eps
        if self.fused:
            kwargs["fused"] = True
        return kwargs

    def build(self, params: Any) -> Any:
        """The torch optimizer over the trainable `params` at the initial learning rate, with `l1`
        and transferred backbones' own learning rates (rlgen/optim.py)."""
        from rlgen.optim import param_groups, prepare

        return prepare(self.torch_class(param_groups(params, self.lr), lr=self.lr, **self.torch_kwargs()), self.l1)

    def lr_at(self, progress_remaining: float) -> float:
        """The learning rate with `progress_remaining` of the run left (1 -> 0)."""
        return self.lr * (progress_remaining if self.schedule == "linear" else 1.0)


class EarlyStopConfig(Section):
    metric: str = "eval/return_mean"
    mode: Literal["max", "min"] = "max"
    target: float | None = Field(None, description="stop once the metric reaches this value")
    patience: int | None = Field(None, gt=0, description="stop after this many evals with no improvement")
    min_delta: float = Field(0.0, ge=0, description="an evaluation improves on the best value seen only when "
                             "better by more than this (Keras's and Lightning's min_delta): smaller gains count "
                             "toward patience and keep the best checkpoint where it is")
    best_tolerance: float = Field(0.0, ge=0, description="a later evaluation within this much of the best value "
                                  "seen takes over as the best checkpoint: noisy evaluations of an agent that has "
                                  "stopped improving then keep the later one, not an earlier lucky reading")


class TrainConfig(Section):
    total_steps: int = Field(gt=0)
    eval_every: int = Field(10_000, gt=0)
    eval_episodes: int = Field(10, gt=0, le=MAX_COUNT)
    checkpoint_every: int | None = Field(None, gt=0, description="default: eval_every")
    keep_checkpoints: int = Field(3, gt=0)
    early_stop: EarlyStopConfig = EarlyStopConfig()
    threads: int | None = Field(None, gt=0, description="torch threads; default 1 on CPU for small nets")
    progress: bool = True
    video_every: int | None = Field(None, gt=0, description="every N-th evaluation also records one episode, "
                                    "logged as eval/video (kinds that can film one: rl)")


class WandbConfig(Section):
    mode: Literal["online", "offline", "disabled"] = "offline"
    project: str = "rlgen"
    entity: str | None = None
    # W&B's limits: a run whose name or group is over 128 characters, or a tag over 64, fails to start
    group: str | None = Field(None, max_length=128,
                              description="default: the config name and what differs from its bundled config")
    tags: list[Annotated[str, Field(max_length=64)]] = []
    name: str | None = Field(None, max_length=128,
                             description="run name; default: e.g. 'ppo_cartpole lr=3e-4 s1' (rlgen/identity.py)")
    log_model: bool = Field(True, description="final and best checkpoints as W&B model artifacts (latest, best)")
    save_code: bool = Field(True, description="W&B saves the main program's code")
    system_metrics: bool = Field(True, description="W&B samples CPU, GPU, memory, disk and network")
    capture_console: bool = Field(True, description="W&B keeps the run's console output")
    watch: Literal["gradients", "parameters", "all"] | None = Field(
        None, description="wandb.watch the kind's torch modules: histograms of gradients and/or weights")
    watch_every: int = Field(1000, gt=0, description="wandb.watch log_freq, in backward passes")
    init_timeout: float = Field(15.0, gt=0, description="seconds W&B may take to start (online: to reach its "
                                "server) before training goes on without it")


class LoggingConfig(Section):
    dir: str = Field("runs", description="runs go to <dir>/<name>/<id>; `.` for the current folder")
    console: bool = True
    wandb: WandbConfig = WandbConfig()

    @field_validator("dir")
    @classmethod
    def _some_folder(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("must name a folder (runs go to <dir>/<name>/<id>), e.g. runs, or . for the current one")
        return v


class NormalizeConfig(Section):
    """Running mean/std normalization of observations and returns (SB3 VecNormalize)."""

    obs: bool = True
    reward: bool = True
    clip_obs: float = Field(10.0, gt=0, allow_inf_nan=True, description="inf = no clipping")
    clip_reward: float = Field(10.0, gt=0, allow_inf_nan=True, description="inf = no clipping")
    freeze_after: int | None = Field(
        None, ge=0, description="update the running statistics (observations and returns) over the first N env "
        "steps of training, then keep them: from the first training unit that starts at or after N; null = always")


class HistoryConfig(Section):
    """Observe a window of the episode's last `length` steps, so a memoryless algorithm can
    remember (agents/rl/history.py)."""

    length: int = Field(gt=0, description="steps in the window; a task remembering N steps back needs N + 1")
    actions: bool = Field(False, description="each step also shows the previous action")
    rewards: bool = Field(False, description="each step also shows the previous reward")


def _known_wrapper(spec: Any) -> Any:
    from rlgen.envs import resolve_wrapper

    try:
        resolve_wrapper(spec)
    except RlgenError as e:
        raise ValueError(str(e)) from None
    return spec


class EnvConfig(Section):
    """A gymnasium env id, how many copies run side by side, and what wraps them."""

    id: str
    n_envs: int = Field(1, gt=0)
    vectorize: Literal["dummy", "subproc"] = Field("dummy", description="subproc = one process per env")
    kwargs: dict[str, Any] = Field({}, description="passed to gymnasium.make")
    wrappers: list[Annotated[str | dict[str, dict[str, Any]], AfterValidator(_known_wrapper)]] = Field(
        [], description="wrappers by gymnasium class name, registered name or import path, applied in order: "
        "[Name, {Name: {arg: v}}]"
    )
    frame_stack: int = Field(0, ge=0, description="stack the last N observations (0 = off)")
    normalize: NormalizeConfig | None = None
    history: HistoryConfig | None = Field(None, description="a window of past steps as the observation")

    @field_validator("id")
    @classmethod
    def _known_id(cls, env_id: str) -> str:
        from rlgen.envs import check_env_id

        if (problem := check_env_id(env_id)) is not None:
            raise ValueError(problem)
        return env_id

    @model_validator(mode="after")
    def _one_memory(self) -> EnvConfig:
        if self.frame_stack and self.history is not None:
            raise ValueError("frame_stack and history both stack past observations; use one")
        return self


class ExperimentConfig(Section):
    """What every experiment kind has; kinds subclass it and add their own sections."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$")
    kind: str
    seed: int = Field(0, ge=0, le=MAX_SEED, description="0 to 4,294,967,295 (numpy's range, which SB3 seeds with)")
    device: str = "auto"
    train: TrainConfig
    logging: LoggingConfig = LoggingConfig()

    # train.early_stop's metric and mode when a config names no metric: one its kind always logs
    # (a GAN's eval/mmd, not an RL agent's eval/return_mean), so the best checkpoint and the seeds
    # table work without one
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/return_mean", "max")

    @model_validator(mode="before")
    @classmethod
    def _kind_early_stop(cls, data: Any) -> Any:
        train = data.get("train") if isinstance(data, dict) else None
        stop = train.get("early_stop", {}) if isinstance(train, dict) else None
        if stop is None:
            stop = {}
        if not isinstance(stop, dict) or "metric" in stop:
            return data
        metric, mode = cls.early_stop_default
        return {**data, "train": {**train, "early_stop": {"metric": metric, "mode": mode, **stop}}}

    @field_validator("name")
    @classmethod
    def _not_a_parent(cls, v: str) -> str:
        if not v.strip("."):  # `.` and `..` would put the run beside or above logging.dir, not in it
            raise ValueError(f"{v!r} is only dots, which would put the run outside logging.dir (runs go to "
                             "<logging.dir>/<name>/<id>); give a name with a letter or digit")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: str) -> str:
        if (problem := device_problem(v)) is not None:
            raise ValueError(problem)
        return v

    def tags(self) -> list[str]:
        """W&B tags describing the run; kinds add theirs (agent, env, backbone)."""
        return [self.kind]


# Reading a config (YAML, overrides, interpolation, one line per problem) lives in rlgen.config_load,
# which builds on the models above; its public names are importable from here as well.
from rlgen.config_load import (_describe, _override, check_overrides,  # noqa: E402
                               load_config, save_config)

__all__ = ["load_config", "save_config", "check_overrides"]
