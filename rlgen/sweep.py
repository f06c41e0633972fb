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
group), report every evaluation to Optuna through the runner's `on_eval` hook so that poor trials
are pruned, and the best trial's config is written as a ready-to-run YAML file. The study lives in
SQLite next to the runs unless `storage` names another database URL, which lets many machines
work on one study. This module knows no kind: the caller passes `load` and `make_experiment`.
"""

from __future__ import annotations

import inspect
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Literal, Mapping, Union

from omegaconf import OmegaConf
from pydantic import ConfigDict, Field, ValidationError

from rlgen.config import ConfigError, ExperimentConfig, Section, _describe, save_config
from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.runner import Runner

# --- the sweep file -------------------------------------------------------------------------------


class FloatParam(Section):
    type: Literal["float"]
    low: float
    high: float
    log: bool = False
    step: float | None = None


class IntParam(Section):
    type: Literal["int"]
    low: int
    high: int
    log: bool = False
    step: int = 1


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
    study: str | None = Field(None, pattern=r"^[A-Za-z0-9_.\-]+$", description="default: the sweep file's name")
    storage: str | None = Field(None, description="an Optuna database URL; default SQLite in the study folder")
    n_trials: int = Field(20, gt=0, description="trials in the whole study (complete + pruned)")
    metric: str | None = Field(None, description="default: the base config's train.early_stop.metric")
    direction: Literal["maximize", "minimize"] | None = Field(None, description="default: from early_stop.mode")
    objective: Literal["best", "final"] = Field("best", description="a trial's value: its best or its last eval")
    sampler: SamplerSpec = SamplerSpec()
    pruner: PrunerSpec = PrunerSpec()
    space: dict[str, Param] = Field(min_length=1)


def read_sweep(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Validate a sweep file; a relative base-config path is taken relative to the sweep file."""
    path = Path(path)
    if not path.is_file():
        raise RlgenError(f"sweep file not found: {path}")
    try:
        raw = OmegaConf.to_container(OmegaConf.load(path), resolve=True)
    except Exception as e:  # noqa: BLE001 - YAML and OmegaConf errors alike: say where
        raise RlgenError(f"{path}: not valid YAML: {e}") from None
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
        kwargs["wrapped_pruner"] = build("pruner", PrunerSpec.model_validate(kwargs.pop("wrapped", {"type": "median"})))
    allowed = [p for p in inspect.signature(cls).parameters if p not in ("self", "args", "kwargs")]
    bad = [k for k in kwargs if k not in allowed]
    if bad:
        raise RlgenError(f"{kind}.{bad[0]}: not an argument of optuna's {cls.__name__}; allowed: {', '.join(allowed)}")
    return cls(**kwargs)


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


def _extremes(sweep: SweepConfig) -> list[dict[str, Any]]:
    """Every parameter at its low end / first choice, then at its high end / last choice."""
    def at(spec: Any, end: int) -> Any:
        if isinstance(spec, CategoricalParam):
            return _choice(spec, _labels(spec)[end])
        return spec.low if end == 0 else spec.high
    return [{k: at(s, end) for k, s in sweep.space.items()} for end in (0, -1)]


# --- running --------------------------------------------------------------------------------------

Loader = Callable[[Union[str, Mapping[str, Any]], list[str]], ExperimentConfig]


@dataclass
class Sweep:
    """One study: `load(config, overrides)` validates a config, `make_experiment(cfg)` builds its kind."""

    spec: SweepConfig
    load: Loader
    make_experiment: Callable[[ExperimentConfig], Any]

    def __post_init__(self) -> None:
        self.base = self.load(self.spec.config, self.spec.overrides)
        stop = self.base.train.early_stop
        self.metric = self.spec.metric or stop.metric
        self.direction = self.spec.direction or ("maximize" if stop.mode == "max" else "minimize")
        self.folder = Path(self.base.logging.dir) / str(self.spec.study)
        for params in _extremes(self.spec):  # a misspelt key or a bad value fails now, not at trial 7
            self.trial_config(params)

    def trial_config(self, params: dict[str, Any]) -> ExperimentConfig:
        """The base config with the trial's values; its runs go to <logging.dir>/<study>/, one W&B group."""
        tags = sorted({*self.base.logging.wandb.tags, "sweep"})
        study = {"name": self.spec.study, "logging.wandb.group": self.spec.study, "logging.wandb.tags": tags}
        return self.best_config({**params, **study})

    def best_config(self, params: dict[str, Any]) -> ExperimentConfig:
        """The base config with `params` set. A mapping value replaces what was there (a new
        backbone drops the old one's keys) instead of merging into it as a `key=value` override would."""
        tree = OmegaConf.create(self.base.model_dump(mode="json"))
        for key, value in params.items():
            OmegaConf.update(tree, key, value, merge=False, force_add=True)
        return self.load(OmegaConf.to_container(tree, resolve=True), [])

    def open_study(self) -> Any:
        import optuna

        storage = self.spec.storage
        if storage is None:
            self.folder.mkdir(parents=True, exist_ok=True)
            storage = f"sqlite:///{(self.folder / 'study.db').resolve()}"
        try:
            return optuna.create_study(study_name=self.spec.study, storage=storage, load_if_exists=True,
                                       direction=self.direction, sampler=build("sampler", self.spec.sampler),
                                       pruner=build("pruner", self.spec.pruner))
        except ValueError as e:  # e.g. an existing study with another direction
            raise RlgenError(f"study {self.spec.study!r} in {storage}: {e}") from None

    def objective(self, trial: Any) -> float:
        import optuna

        params = {k: suggest(trial, k, s) for k, s in self.spec.space.items()}
        cfg = self.trial_config(params)

        def report(step: int, metrics: dict[str, Any]) -> bool:
            value = metrics.get(self.metric)
            if not isinstance(value, (int, float)) or math.isnan(value):
                return False
            trial.report(float(value), step)
            return trial.should_prune()

        runner = Runner(cfg, self.make_experiment(cfg), on_eval=report)
        summary = runner.run()
        trial.set_user_attr("run_dir", str(runner.run_dir))
        trial.set_user_attr("status", summary["status"])
        if runner.exit_code:  # Ctrl-C: the trial is not a result; the study stops here
            raise KeyboardInterrupt
        if summary["status"] == "pruned":
            raise optuna.TrialPruned(f"pruned at step {summary['global_step']:,}")
        return self.value(summary)

    def value(self, summary: dict[str, Any]) -> float:
        """The trial's objective: the best or the final value of the metric."""
        if self.spec.objective == "final":
            value = summary["final"].get(self.metric)
        elif summary["best"].get("metric") == self.metric:
            value = summary["best"].get("value")
        else:  # early_stop tracks another metric; read the best from the log instead
            rows = (Path(summary["run_dir"]) / "metrics.jsonl").read_text().splitlines()
            values = [r[self.metric] for r in map(json.loads, rows) if isinstance(r.get(self.metric), (int, float))]
            value = (max if self.direction == "maximize" else min)(values) if values else None
        if not isinstance(value, (int, float)):
            raise RlgenError(f"the run logged no {self.metric!r}: set `metric:` in the sweep file to one it logs")
        return float(value)

    def run(self, n_trials: int | None = None) -> Path | None:
        """Run trials until the study holds `n_trials` finished ones (over every worker); write
        and return the best config, or None when no trial has completed."""
        import optuna
        from optuna.trial import TrialState

        optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, ours
        study = self.open_study()
        total = n_trials or self.spec.n_trials
        finished = (TrialState.COMPLETE, TrialState.PRUNED)
        left = total - len(study.get_trials(deepcopy=False, states=finished))
        console.print(f"[bold]sweep {self.spec.study}[/]: {self.metric} ({self.direction}), "
                      f"{max(left, 0)} of {total} trials to run -> {self.folder}")
        if left > 0:
            study.optimize(self.objective, n_trials=left, catch=(RlgenError,),
                           callbacks=[optuna.study.MaxTrialsCallback(total, states=finished), _announce])
        console.print(trials_table(study))
        return self.write_best(study)

    def write_best(self, study: Any) -> Path | None:
        from optuna.trial import TrialState

        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            console.print("[yellow]no trial completed[/]: no best config to write")
            return None
        best = study.best_trial
        params = {k: _choice(s, best.params[k]) if isinstance(s, CategoricalParam) else best.params[k]
                  for k, s in self.spec.space.items()}
        path = self.folder / "best.yaml"
        self.folder.mkdir(parents=True, exist_ok=True)
        save_config(self.best_config(params), path)
        header = [f"# Best trial of sweep {self.spec.study!r}: trial {best.number}, {self.metric} = {best.value:.6g}",
                  f"# ({self.spec.objective} value; run {best.user_attrs.get('run_dir', '?')})"]
        header += [f"#   {k} = {json.dumps(v)}" for k, v in params.items()]
        header.append(f"# Run it: rlgen train {path}")
        path.write_text("\n".join(header) + "\n" + path.read_text())
        console.print(f"best: trial {best.number}, {self.metric} = {best.value:.6g}; config: {path}")
        console.print(f"  train it:   rlgen train {path} --seeds 0,1,2")
        console.print(f"  compare:    rlgen compare {self.folder}")
        return path


def _announce(study: Any, trial: Any) -> None:
    """One line per finished trial."""
    value = "" if trial.value is None else f" = {trial.value:.6g}"
    if trial.state.name == "PRUNED" and trial.value is not None:
        value = f", last eval {trial.value:.6g}"  # Optuna keeps a pruned trial's last reported value
    steps = f" at step {max(trial.intermediate_values):,}" if trial.intermediate_values else ""
    params = ", ".join(f"{k}={_short(v)}" for k, v in trial.params.items())
    console.print(f"trial {trial.number} [bold]{trial.state.name.lower()}[/]{steps}{value} ({params})", highlight=False)


def trials_table(study: Any) -> Any:
    from rich.table import Table

    table = Table(title=f"study {study.study_name} ({study.direction.name.lower()})", title_justify="left")
    keys = sorted({k for t in study.trials for k in t.params})
    for col in ["trial", "state", "value", "last step", *keys]:
        table.add_column(col, justify="left" if col in ("state", *keys) else "right")
    for t in study.trials:
        last = f"{max(t.intermediate_values):,}" if t.intermediate_values else "—"
        value = "—" if t.value is None else f"{t.value:.6g}"
        table.add_row(str(t.number), t.state.name.lower(), value, last, *(_short(t.params.get(k, "—")) for k in keys))
    return table


def _short(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)
