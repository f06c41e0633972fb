"""Hyperparameter sweeps with Optuna: every trial is a full run of the runner.

A sweep file names a base config and a search space over any dotted config key::

    config: ppo_cartpole                  # a YAML path (relative to this file or the cwd) or a bundled name
    overrides: [train.total_steps=30000]  # fixed for every trial
    n_trials: 20                          # in the whole study, over every worker sharing its storage
    pruner: {type: median, n_startup_trials: 3}
    space:
      optim.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}
      agent.hyperparams.n_epochs: {type: int, low: 4, high: 20}
      agent.policy.backbone:
        type: categorical
        choices: {mlp: {type: mlp, hidden: [64, 64]}, tf: {type: transformer, d_model: 32}}

Trials write ordinary run directories under `<logging.dir>/<study>/` (name = the study, one W&B
group, each W&B run named `<study> t<N> <draws>`), report every evaluation to Optuna through the
runner's `on_eval` hook so that poor trials are pruned, and the best trial's config is written as a
ready-to-run YAML file. The study lives in SQLite next to the runs unless `storage` names another
database URL (PostgreSQL, MySQL), which lets many machines work on one study:
`rlgen/study_queue.py` shares the trials out among the workers and retries a dead worker's trial
from its last checkpoint. This module knows no kind: the caller passes `load` and `make_experiment`.
"""

from __future__ import annotations

import difflib
import inspect
import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping, Union

import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from optuna.samplers import BaseSampler
from pydantic import ConfigDict, Field, ValidationError, field_validator, model_validator
from rich.markup import escape

from rlgen.compare import compare_command
from rlgen.config import (MAX_COUNT, STUDY_NAME, ConfigError, ExperimentConfig, Section, _describe, _override,
                          is_study_name, save_config, whole_count)
from rlgen.errors import RlgenError, shell_line
from rlgen.identity import MAX_LEN, clip, describe
from rlgen.logging import console
from rlgen.study_queue import (HeartbeatConfig, StudyProgress, first_attempt, open_study, run_value, short, shown_url,
                               status_table, train_trial, work)

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
    seed: int | None = 0


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
    try:  # its `overrides` are the base config's: a ${...} in one names a key of that config, per trial
        kept = OmegaConf.to_container(conf.pop("overrides"), resolve=False) if OmegaConf.is_dict(conf) and \
            "overrides" in conf else None
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


def build(kind: Literal["sampler", "pruner"], spec: SamplerSpec | PrunerSpec) -> Any:
    """An Optuna sampler or pruner from `{type: ..., arg: value}`; a wrong argument lists the right ones."""
    cls = _optuna_class(kind, spec.type)
    kwargs = dict(spec.model_extra or {})
    if isinstance(spec, SamplerSpec):
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
    alone at both ends of its range and at each of its choices (a bad choice between two good ones
    is found too), then every key at its low end / first choice together, and at its high end /
    last choice together (values that clash only in one trial)."""
    probes = []
    for key, spec in sweep.space.items():
        if isinstance(spec, CategoricalParam):
            probes += [(f"space.{key}: choice {label!r}", {key: _choice(spec, label)}) for label in _labels(spec)]
        else:
            probes += [(f"space.{key}: low", {key: spec.low}), (f"space.{key}: high", {key: spec.high})]

    def at(spec: Any, end: int) -> Any:
        if isinstance(spec, CategoricalParam):
            return _choice(spec, _labels(spec)[end])
        return spec.low if end == 0 else spec.high
    probes.append(("space: every key at its low end or first choice", {k: at(s, 0) for k, s in sweep.space.items()}))
    probes.append(("space: every key at its high end or last choice", {k: at(s, -1) for k, s in sweep.space.items()}))
    return probes


# --- running --------------------------------------------------------------------------------------

Loader = Callable[[Union[str, Mapping[str, Any]], list[str]], ExperimentConfig]


@dataclass
class Sweep:
    """One study: `load(config, overrides)` validates a config, `make_experiment(cfg)` builds its kind."""

    spec: SweepConfig
    load: Loader
    make_experiment: Callable[[ExperimentConfig], Any]

    def __post_init__(self) -> None:
        if self.spec.study is not None:  # before the probes below, whose configs it names: they would take the blame
            check_study(self.spec.study)
        self.base = self.load(self.spec.config, self.spec.overrides)
        stop = self.base.train.early_stop
        self.metric = self.spec.metric or stop.metric
        # the early-stop mode says which way the early-stop metric is better, not which way another is
        if self.spec.direction is None and self.metric != stop.metric:
            raise RlgenError(f"direction: the sweep's metric {self.metric} is not the config's train.early_stop.metric "
                             f"({stop.metric}), whose mode says nothing of it: give direction: maximize or minimize")
        self.direction = self.spec.direction or ("maximize" if stop.mode == "max" else "minimize")
        self.folder = Path(self.base.logging.dir) / str(self.spec.study)
        for where, params in _probes(self.spec):  # a misspelt key or a bad value fails now, not at trial 7
            try:
                self.trial_config(params, 0, {})
            except ConfigError as e:
                raise ConfigError(where, e.problems) from None
            except RlgenError as e:
                raise RlgenError(f"{where}: {e}") from None

    def trial_config(self, params: dict[str, Any], number: int, drawn: Mapping[str, Any]) -> ExperimentConfig:
        """The base config with the trial's values; its runs go to <logging.dir>/<study>/, one W&B
        group, each W&B run named by its trial number and draws (`drawn`: Optuna's values, a
        categorical by its label), as `rlgen sweep --status` shows them. The sweep shows one progress
        bar for the whole study, so the trial's own is off."""
        tags = sorted({*self.base.logging.wandb.tags, "sweep"})
        name = clip(" ".join([f"{self.spec.study} t{number}", *describe(drawn)]), MAX_LEN)
        study = {"name": self.spec.study, "logging.wandb.group": clip(str(self.spec.study), MAX_LEN),
                 "logging.wandb.tags": tags, "logging.wandb.name": name, "train.progress": False}
        return self.best_config({**params, **study})

    def best_config(self, params: dict[str, Any]) -> ExperimentConfig:
        """The base config with `params` set. A mapping value replaces what was there (a new
        backbone drops the old one's keys) instead of merging into it as a `key=value` override would."""
        tree = OmegaConf.create(self.base.model_dump(mode="json"))
        for override in self.spec.overrides:  # resolved again against this trial's values
            if "${" in override:
                _override(tree, override, str(self.spec.config))
        for key, value in params.items():
            OmegaConf.update(tree, key, value, merge=False, force_add=True)
        return self.load(OmegaConf.to_container(tree, resolve=True), [])

    @property
    def storage(self) -> str:
        if self.spec.storage is not None:
            return self.spec.storage
        self.folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.folder / 'study.db').resolve()}"

    def open_study(self) -> Any:
        return open_study(str(self.spec.study), self.storage, direction=self.direction, heartbeat=self.spec.heartbeat,
                          sampler=sampler(self.spec.sampler), pruner=build("pruner", self.spec.pruner))

    def objective(self, trial: Any, index: int) -> float:
        """One trial: a full run of the runner (resumed when a dead worker left it a checkpoint)."""
        import optuna

        params = {k: suggest(trial, k, s) for k, s in self.spec.space.items()}
        cfg = self.trial_config(params, first_attempt(trial), trial.params)

        def report(step: int, metrics: dict[str, Any]) -> bool:
            value = metrics.get(self.metric)
            if not isinstance(value, (int, float)) or math.isnan(value):
                return False
            with warnings.catch_warnings():  # a resumed trial reports its checkpoint's step again
                warnings.filterwarnings("ignore", message=".*already reported")
                trial.report(float(value), step)
            return trial.should_prune()

        summary = train_trial(trial, cfg, self.make_experiment, on_eval=report)
        if summary["status"] == "pruned":
            raise optuna.TrialPruned(f"pruned at step {summary['global_step']:,}")
        return self.value(summary)

    def value(self, summary: dict[str, Any]) -> float:
        """The trial's objective: the best or the final value of the metric."""
        return run_value(summary, self.metric, self.direction, self.spec.objective)

    def run(self, n_trials: int | None = None) -> Path:
        """Take trials until the study holds `n_trials` finished ones (over every worker); write
        and return the best config. No trial completed: RlgenError (the metric, say, is one the
        runs do not log, which only a run can tell)."""
        total = self.spec.n_trials if n_trials is None else n_trials  # 0 is a mistake, not "the file's"
        whole_count(total, "n_trials")
        study = self.open_study()
        self._check_setup(study)
        console.print(f"[bold]sweep {self.spec.study}[/]: {self.metric} ({self.direction}), {total} trials, "
                      f"storage {shown_url(self.storage)} -> {self.folder}", soft_wrap=True)
        with StudyProgress(study, total, f"sweep {self.spec.study}") as progress:
            work(study, total, self.objective, progress=progress, announce=_announce,
                 max_retry=self.spec.heartbeat.max_retry)
        console.print(status_table(study, self.metric))
        return self.write_best(study)

    def _check_setup(self, study: Any, record: bool = True) -> None:
        """A study continued with another metric or objective holds values of another quantity:
        refuse (the direction, Optuna's own, is checked when the study opens). With another base
        config, overrides or space its runs are not comparable side by side: say so (workers of one
        sweep share one setup). `record`: write the setup into a study that has none yet."""
        setup = {"config": str(Path(self.spec.config).name), "overrides": list(self.spec.overrides),
                 "space": sorted(self.spec.space), "metric": self.metric, "objective": self.spec.objective}
        before = study.user_attrs.get("rlgen_setup")
        if before is None:
            if record:
                study.set_user_attr("rlgen_setup", setup)
            return
        before = {**setup, **before}  # a study begun before rlgen kept its metric: that cannot be checked
        valued = [k for k in ("metric", "objective") if before[k] != setup[k]]
        if valued:
            raise RlgenError(f"study {self.spec.study!r} holds trials valued by "
                             f"{' and '.join(f'{k} {before[k]!r}' for k in valued)}, not "
                             f"{' and '.join(repr(setup[k]) for k in valued)}: they cannot be ranked with this "
                             f"sweep's; set {', '.join(f'{k}: {before[k]}' for k in valued)} in the sweep file, "
                             "or start a new study with --study NEW_NAME")
        changed = [k for k in setup if before[k] != setup[k]]
        if changed:
            console.print(f"[yellow]warning:[/] study {self.spec.study!r} was started with other {', '.join(changed)} "
                          f"({before[changed[0]]} against {setup[changed[0]]}): its earlier trials are ranked with "
                          "these as if comparable; give this setup a study name of its own (study: NAME in the "
                          "sweep file) to keep them apart", soft_wrap=True)

    def status(self) -> Any:
        """The study's trials as a table (`rlgen sweep --status`), without running any."""
        if self.spec.storage is None and not (self.folder / "study.db").is_file():
            raise RlgenError(f"no study {self.spec.study!r} yet: {self.folder / 'study.db'} does not exist")
        study = open_study(str(self.spec.study), self.storage, direction=self.direction,
                           heartbeat=self.spec.heartbeat, create=False)
        self._check_setup(study, record=False)
        return status_table(study, self.metric)

    def write_best(self, study: Any) -> Path:
        from optuna.trial import TrialState

        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            raise RlgenError(_none_completed(study))
        best = study.best_trial
        params = {k: _choice(s, best.params[k]) if isinstance(s, CategoricalParam) else best.params[k]
                  for k, s in self.spec.space.items()}
        path = self.folder / "best.yaml"
        tmp = path.with_name(f".best.{os.getpid()}.yaml")  # workers sharing the folder each write it whole
        self.folder.mkdir(parents=True, exist_ok=True)
        save_config(self.best_config(params), tmp)
        header = [f"# Best trial of sweep {self.spec.study!r}: trial {best.number}, {self.metric} = {best.value:.6g}",
                  f"# ({self.spec.objective} value; run {best.user_attrs.get('run_dir', '?')})"]
        header += [f"#   {k} = {json.dumps(v)}" for k, v in params.items()]
        header.append(f"# Run it: {shell_line('rlgen', 'train', path)}")
        tmp.write_text("\n".join(header) + "\n" + tmp.read_text())
        os.replace(tmp, path)
        console.print(f"best: trial {best.number}, {self.metric} = {best.value:.6g}; config: {path}")
        console.print(f"  train it:   {escape(shell_line('rlgen', 'train', path, '--seeds', '0,1,2'))}")
        mode = "min" if self.direction == "minimize" else "max"
        console.print(f"  compare:    {escape(compare_command([self.folder], self.metric, mode))}")
        return path


def _none_completed(study: Any) -> str:
    """Why a study has no best trial, in one line: the trials' last error, or the pruner."""
    from optuna.trial import TrialState

    failed = study.get_trials(deepcopy=False, states=(TrialState.FAIL,))
    pruned = study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))
    said = f"no trial of study {study.study_name!r} completed"
    again = "run it again with --study NEW_NAME (this study's trials are used up)"  # failed and pruned count as finished
    errors = [t.user_attrs["error"] for t in failed if t.user_attrs.get("error")]
    if errors:
        return f"{said}: {len(failed)} failed; the last one: {errors[-1].splitlines()[0]}; fix that, then {again}"
    if pruned and not failed:
        return (f"{said}: {len(pruned)} pruned; loosen `pruner:` in the sweep file (n_warmup_steps, "
                f"n_startup_trials, or type: none), then {again}")
    return f"{said}: {len(failed)} failed, {len(pruned)} pruned (see the table above); {again}"


def _announce(study: Any, trial: Any) -> None:
    """One line per finished trial."""
    value = "" if trial.value is None else f" = {trial.value:.6g}"
    if trial.state.name == "PRUNED" and trial.value is not None:
        value = f", last eval {trial.value:.6g}"  # Optuna keeps a pruned trial's last reported value
    steps = f" at step {max(trial.intermediate_values):,}" if trial.intermediate_values else ""
    params = ", ".join(f"{k}={short(v)}" for k, v in trial.params.items())
    error = f": {trial.user_attrs['error']}" if "error" in trial.user_attrs else ""
    console.print(f"trial {trial.number} [bold]{trial.state.name.lower()}[/]{steps}{value}{error} ({params})",
                  highlight=False)

