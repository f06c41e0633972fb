"""The sweep file (see `rlgen.sweep` for its form): its schema, reading and checking it, and the
Optuna objects it describes (the sampler, the pruner, a trial's draws) together with the values of
its space that are checked before the first trial. `rlgen.sweep` runs the study.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import json
import math
import warnings
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Union

import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from optuna.samplers import BaseSampler
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator

from rlgen.config import MAX_COUNT, STUDY_NAME, ConfigError, Section, _describe, check_overrides, is_study_name
from rlgen.errors import RlgenError
from rlgen.study_queue import HeartbeatConfig

# --- the sweep file -------------------------------------------------------------------------------


def _check_range(low: float, high: float, log: bool, stepped: bool, step: float | None = None) -> None:
    """Optuna's own checks of a range (FloatDistribution, IntDistribution), made when the sweep file
    is read: in the first trial they would come as a traceback, after study.db is created."""
    if low > high:
        raise ValueError(f"low ({low:g}) is above high ({high:g}); swap them")
    if log and low <= 0:
        raise ValueError(f"log: true needs low > 0 (got {low:g}); raise low or drop log")
    if log and stepped:
        raise ValueError("step does not go with log: true (Optuna samples a log range without steps); drop one")
    if step is not None and not log:  # Optuna would cut the range, with a warning at every trial
        n = (high - low) / step
        if abs(n - round(n)) > 1e-8 * max(1.0, abs(n)):
            top = low + math.floor(n + 1e-8) * step
            raise ValueError(f"step {step:g} does not divide the range {low:g} to {high:g}; Optuna would draw up to "
                             f"{top:g} only: set high to {top:g} (or a step that divides the range)")


class FloatParam(Section):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _range(self) -> FloatParam:
        _check_range(self.low, self.high, self.log, stepped=self.step is not None, step=self.step)
        return self


class IntParam(Section):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = Field(1, gt=0)

    @model_validator(mode="after")
    def _range(self) -> IntParam:
        _check_range(self.low, self.high, self.log, stepped=self.step != 1, step=self.step)
        return self


class CategoricalParam(Section):
    """A list of values, or a mapping label -> value (for values Optuna cannot store: lists, dicts)."""

    type: Literal["categorical"]
    choices: list[Any] | dict[str, Any] = Field(min_length=1)


Param = Annotated[Union[FloatParam, IntParam, CategoricalParam], Field(discriminator="type")]


class SamplerSpec(Section):
    """`type` names an Optuna sampler; other keys are its arguments (checked against its signature)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["tpe", "random", "qmc", "gp", "cmaes"] = "tpe"
    seed: int | None = Field(0, ge=0, le=2**32 - 1)  # numpy's RandomState takes no other


class PrunerSpec(Section):
    """`type` names an Optuna pruner; other keys are its arguments (checked against its signature)."""

    model_config = ConfigDict(extra="allow")
    type: Literal["none", "median", "percentile", "successive_halving", "hyperband", "threshold", "patient"] = "median"


class SweepConfig(Section):
    config: str = Field(description="the base config: a YAML path or a bundled config name")
    overrides: list[str] = Field([], description="dotted overrides applied to every trial")
    study: str | None = Field(None, pattern=f"^{STUDY_NAME.pattern}$", description="default: the sweep file's name")
    storage: str | None = Field(None, description="an Optuna database URL; default SQLite in the study folder")
    n_trials: int = Field(20, gt=0, le=MAX_COUNT, description="trials in the whole study (complete + pruned)")
    metric: str | None = Field(None, description="default: the base config's train.early_stop.metric")
    direction: Literal["maximize", "minimize"] | None = Field(None, description="default: from early_stop.mode")
    objective: Literal["best", "final"] = Field("best", description="a trial's value: its best or its last eval")
    sampler: SamplerSpec = SamplerSpec()
    pruner: PrunerSpec = PrunerSpec()
    heartbeat: HeartbeatConfig = HeartbeatConfig()
    space: dict[str, Param] = Field(min_length=1)

    @field_validator("space")
    @classmethod
    def _apart(cls, space: dict[str, Param]) -> dict[str, Param]:
        """No key inside another: the outer choice (a whole mapping) would replace the inner draw."""
        for outer in space:
            inner = next((k for k in space if k.startswith(f"{outer}.")), None)
            if inner is not None:
                raise ValueError(f"{inner!r} lies inside {outer!r}: each of {outer!r}'s choices replaces the whole "
                                 f"mapping, so the {inner!r} drawn would be thrown away; put it inside the choices")
        return space


def check_study(name: Any) -> None:
    """A study name (the sweep file's `study:`, its file name, `--study`): it names the folder
    <logging.dir>/<study>/ and every trial's config, so no path separator and not only dots."""
    if not is_study_name(name):
        raise RlgenError(f"study name {name!r}: use letters, digits, _ . - (no / and not only dots; it names the "
                         "folder <logging.dir>/<study> and every trial); set study: NAME in the sweep file, "
                         "or --study NAME")


def bundled_sweeps() -> dict[str, Path]:
    """The sweep files shipped inside the package, by name (`sweeps/ppo_cartpole`)."""
    from rlgen.api import bundled_configs

    return bundled_configs("sweeps")


def sweep_path(given: str | Path) -> Path:
    """A sweep file as given, or a bundled one by name: `sweeps/ppo_cartpole` (also as
    `configs/sweeps/ppo_cartpole.yaml`, the checkout's path, from anywhere)."""
    path = Path(given)
    if path.is_file():
        return path
    bundled = bundled_sweeps()
    name = f"sweeps/{path.name.removesuffix('.yaml')}"
    if path.parent.name == "sweeps" or len(path.parts) == 1:
        if name in bundled:
            return bundled[name]
    close = difflib.get_close_matches(name, list(bundled), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise RlgenError(f"sweep file not found: {given}{hint}; bundled sweeps: {', '.join(bundled)}")


def read_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Validate a sweep file; a relative base-config path is taken relative to the sweep file."""
    path = sweep_path(path)
    try:
        conf = OmegaConf.load(path)
    except Exception as e:  # noqa: BLE001 - YAML errors: say where
        raise RlgenError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    try:
        kept = _kept_overrides(conf, path)
        raw = OmegaConf.to_container(conf, resolve=True)
    except OmegaConfBaseException as e:
        raise RlgenError(f"{path}: could not resolve a ${{...}}: {str(e).strip().splitlines()[0]}") from None
    if isinstance(raw, dict) and kept is not None:
        raw["overrides"] = kept
    if not isinstance(raw, dict):
        raise RlgenError(f"{path}: a sweep file is a mapping (config, space, ...)")
    try:
        sweep = SweepConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(str(path), [_describe(err, SweepConfig, raw) for err in e.errors()]) from None
    beside = path.parent / sweep.config
    if beside.is_file():
        sweep.config = str(beside)
    sweep.study = sweep.study or path.stem
    sweep.overrides = [*sweep.overrides, *(overrides or [])]
    build("sampler", sweep.sampler)  # optuna's own checks of their arguments, before anything is made
    build("pruner", sweep.pruner)
    return sweep


def _kept_overrides(conf: Any, path: Path) -> list[str] | None:
    """The sweep file's `overrides`, taken out of `conf` unresolved: they are the base config's, so a
    ${...} in one names a key of that config, resolved per trial. None when the file has none."""
    if not OmegaConf.is_dict(conf) or "overrides" not in conf:
        return None
    node = conf._get_node("overrides")
    kept = OmegaConf.to_container(node, resolve=False) if OmegaConf.is_list(node) else node._value()
    del conf["overrides"]
    try:
        check_overrides(kept)
    except RlgenError as e:  # `overrides: train.total_steps=64`: one line, not OmegaConf's traceback
        raise RlgenError(f"{path}: {e}") from None
    return kept


# --- building Optuna objects from specs -----------------------------------------------------------


def _optuna_class(kind: str, name: str) -> Any:
    import optuna

    table = {
        "sampler": {"tpe": "TPESampler", "random": "RandomSampler", "qmc": "QMCSampler", "gp": "GPSampler",
                    "cmaes": "CmaEsSampler"},
        "pruner": {"none": "NopPruner", "median": "MedianPruner", "percentile": "PercentilePruner",
                   "successive_halving": "SuccessiveHalvingPruner", "hyperband": "HyperbandPruner",
                   "threshold": "ThresholdPruner", "patient": "PatientPruner"},
    }[kind]
    return getattr(optuna.samplers if kind == "sampler" else optuna.pruners, table[name])


# the packages Optuna imports only when a sampler first samples (CmaEsSampler at the second trial)
_SAMPLER_NEEDS = {"cmaes": "cmaes", "gp": "scipy", "qmc": "scipy"}


def _check_installed(spec: SamplerSpec) -> None:
    """A sampler whose package is missing fails now, not in a trial (a trial slot burned, exit 1)."""
    package = _SAMPLER_NEEDS.get(spec.type)
    if package is None:
        return
    try:
        importlib.import_module(package)
    except ImportError:
        raise RlgenError(f"sampler.type: {spec.type} needs the package {package!r}, which is not installed: "
                         f"pip install {package} (or choose another sampler type)") from None


def build(kind: Literal["sampler", "pruner"], spec: SamplerSpec | PrunerSpec) -> Any:
    """An Optuna sampler or pruner from `{type: ..., arg: value}`; a wrong argument lists the right ones."""
    cls = _optuna_class(kind, spec.type)
    kwargs = dict(spec.model_extra or {})
    if isinstance(spec, SamplerSpec):
        _check_installed(spec)
        kwargs["seed"] = spec.seed
    if spec.type == "patient":  # wraps another pruner: {type: patient, patience: 2, wrapped: {type: median}}
        try:
            wrapped = PrunerSpec.model_validate(kwargs.pop("wrapped", {"type": "median"}))
        except ValidationError as e:
            raise ConfigError("pruner.wrapped", [_describe(err, PrunerSpec, {}) for err in e.errors()]) from None
        kwargs["wrapped_pruner"] = build("pruner", wrapped)
    allowed = [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]
    bad = [k for k in kwargs if k not in allowed]
    if bad:
        raise RlgenError(f"{kind}.{bad[0]}: not an argument of optuna's {cls.__name__}; allowed: {', '.join(allowed)}")
    from optuna.exceptions import ExperimentalWarning

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ExperimentalWarning)  # PatientPruner's, GPSampler's: said once in docs
            return cls(**kwargs)
    except (TypeError, ValueError) as e:  # a required argument missing, a value optuna refuses
        given = {k: v for k, v in kwargs.items() if k not in ("wrapped_pruner", "seed")}
        raise RlgenError(f"{kind} {spec.type}: optuna's {cls.__name__} refused {given or 'no arguments'}: {e} "
                         f"(its arguments: {', '.join(allowed)})") from None


def sampler(spec: SamplerSpec) -> Any:
    """The sweep's sampler. A seeded one is seeded anew for every trial from (seed, trial number):
    workers that share a study then draw different parameters (one fixed seed in every worker would
    draw the same ones), and one worker alone still draws a reproducible sequence. QMC keeps one
    seed: its points must come from one scrambled sequence, which it indexes through the storage."""
    if spec.seed is None or spec.type == "qmc":
        return build("sampler", spec)
    return _SeedPerTrial(lambda seed: build("sampler", spec.model_copy(update={"seed": seed})), spec.seed)


class _SeedPerTrial(BaseSampler):
    """An Optuna sampler that delegates to one made at each trial's start from (seed, trial number)."""

    def __init__(self, make: Callable[[int], Any], seed: int):
        self._make, self._seed = make, seed
        self._inner = make(seed)

    def before_trial(self, study: Any, trial: Any) -> None:
        # one independent stream per (seed, trial): sweeps with seeds 3 and 4 share no draws
        self._inner = self._make(int(np.random.SeedSequence([self._seed, trial.number]).generate_state(1)[0]))
        self._inner.before_trial(study, trial)

    def infer_relative_search_space(self, study: Any, trial: Any) -> Any:
        return self._inner.infer_relative_search_space(study, trial)

    def sample_relative(self, study: Any, trial: Any, search_space: Any) -> Any:
        return self._inner.sample_relative(study, trial, search_space)

    def sample_independent(self, study: Any, trial: Any, name: str, distribution: Any) -> Any:
        return self._inner.sample_independent(study, trial, name, distribution)

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        self._inner.after_trial(study, trial, state, values)

    def reseed_rng(self) -> None:
        self._inner.reseed_rng()


def suggest(trial: Any, key: str, spec: FloatParam | IntParam | CategoricalParam) -> Any:
    """The trial's value for one config key."""
    if isinstance(spec, FloatParam):
        return trial.suggest_float(key, spec.low, spec.high, log=spec.log, step=spec.step)
    if isinstance(spec, IntParam):
        return trial.suggest_int(key, spec.low, spec.high, log=spec.log, step=spec.step)
    labels = _labels(spec)
    return _choice(spec, trial.suggest_categorical(key, labels))


def check_space(study: Any, space: dict[str, Param]) -> None:
    """Optuna holds each key of a study to the kind of distribution its trials drew it from (its
    type, a range's `log`, a categorical's choices; a range's ends may move): a sweep file that
    changes one would fail at its first draw, with a trial taken. Refused here, before that."""
    from optuna.distributions import check_distribution_compatibility

    held: dict[str, Any] = {}
    for t in study.get_trials(deepcopy=False):
        for key, drawn in t.distributions.items():
            held.setdefault(key, drawn)  # Optuna's storage checks a draw against the study's first
    for key, spec in space.items():
        if key not in held:
            continue
        try:
            check_distribution_compatibility(held[key], distribution(spec))
        except ValueError:
            raise RlgenError(f"space.{key}: study {study.study_name!r} drew it as {_shown(held[key])}, this sweep file "
                             f"as {_shown(distribution(spec))}; within one study Optuna lets only a range's low and "
                             "high change: set it back, or start a new study with --study NEW_NAME") from None


def distribution(spec: FloatParam | IntParam | CategoricalParam) -> Any:
    """The Optuna distribution `suggest` draws the key from."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(spec, FloatParam):
        return FloatDistribution(spec.low, spec.high, log=spec.log, step=spec.step)
    if isinstance(spec, IntParam):
        return IntDistribution(spec.low, spec.high, log=spec.log, step=spec.step)
    return CategoricalDistribution(_labels(spec))


def _shown(d: Any) -> str:
    """A distribution as a sweep file gives it: `categorical [small, big]`, `float 0.001 to 0.004, log`."""
    from optuna.distributions import CategoricalDistribution

    if isinstance(d, CategoricalDistribution):
        return f"categorical [{', '.join(map(str, d.choices))}]"
    kind = type(d).__name__.removesuffix("Distribution").lower()
    return f"{kind} {d.low:g} to {d.high:g}{', log' if d.log else ''}"


def _labels(spec: CategoricalParam) -> list[Any]:
    if isinstance(spec.choices, dict):
        return list(spec.choices)
    return [c if c is None or isinstance(c, (bool, int, float, str)) else json.dumps(c) for c in spec.choices]


def _choice(spec: CategoricalParam, label: Any) -> Any:
    """The config value behind a categorical label (the label itself for plain values)."""
    if isinstance(spec.choices, dict):
        return spec.choices[label]
    return spec.choices[_labels(spec).index(label)]


def _probes(sweep: SweepConfig) -> list[tuple[str, dict[str, Any]]]:
    """The parameters to check before the first trial, each with where they come from: every key
    alone at both ends of its range, at a fraction between the ends of a float range (whole ends
    pass an integer key, whose every trial then fails) and at each of its choices (a bad choice
    between two good ones is found too), then every key at its low end / first choice together,
    and at its high end / last choice together (values that clash only in one trial)."""
    probes = []
    for key, spec in sweep.space.items():
        if isinstance(spec, CategoricalParam):
            probes += [(f"space.{key}: choice {label!r}", {key: _choice(spec, label)}) for label in _labels(spec)]
            continue
        probes += [(f"space.{key}: low", {key: spec.low}), (f"space.{key}: high", {key: spec.high})]
        if isinstance(spec, FloatParam) and (between := _fraction_between(spec)) is not None:
            probes.append((f"space.{key}: {between:g}, a float between low and high", {key: between}))

    def at(spec: Any, end: int) -> Any:
        if isinstance(spec, CategoricalParam):
            return _choice(spec, _labels(spec)[end])
        return spec.low if end == 0 else spec.high
    probes.append(("space: every key at its low end or first choice", {k: at(s, 0) for k, s in sweep.space.items()}))
    probes.append(("space: every key at its high end or last choice", {k: at(s, -1) for k, s in sweep.space.items()}))
    return probes


def _fraction_between(spec: FloatParam) -> float | None:
    """A value with a fractional part that the range can draw between its ends, if it has one: the
    first step past `low`, or a point near the middle."""
    if spec.step is not None:
        value = spec.low + spec.step
    else:
        middle = (spec.low + spec.high) / 2
        value = middle + (spec.high - spec.low) / 8 if middle.is_integer() else middle
    return value if spec.low < value < spec.high and not float(value).is_integer() else None
