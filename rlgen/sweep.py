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

import json
import math
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Union

from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from rich.markup import escape

from rlgen.compare import compare_command
from rlgen.config import (MAX_COUNT, STUDY_NAME, ConfigError, ExperimentConfig, Section, _override,  # noqa: F401
                          config_tree, is_study_name, save_config, whole_count)
from rlgen.config_load import _interpolations, _list_problem, _omegaconf_problem
from rlgen.distributed import refuse_several_processes
from rlgen.errors import RlgenError, shell_line
from rlgen.identity import MAX_LEN, clip, describe
from rlgen.logging import console, report_console
from rlgen.seeds_queue import changed_keys, queue_config, shown_changes
from rlgen.study_queue import HeartbeatConfig, described, open_or_make_study, open_study, shown_url, work  # noqa: F401
from rlgen.study_trial import first_attempt, run_value, train_trial
from rlgen.study_view import StudyProgress, short, status_table
# the sweep file, its schema and the Optuna objects it describes live in rlgen.sweep_spec; every name
# callers took from here before (tests/test_module_names.py) stays importable from here
from rlgen.sweep_spec import (CategoricalParam, FloatParam, IntParam, Param, PrunerSpec,  # noqa: F401
                              SamplerSpec, SweepConfig, _choice, _probes, build, bundled_sweeps, check_space,
                              check_study, read_sweep, sampler, suggest, sweep_path)


Loader = Callable[[Union[str, Mapping[str, Any]], list[str]], ExperimentConfig]


@dataclass
class Sweep:
    """One study: `load(config, overrides)` validates a config, `make_experiment(cfg)` builds its kind.
    `trust`: as `rlgen train --trust`, for every trial (the runs a backbone's init names, an
    old-format checkpoint a retry resumes)."""

    spec: SweepConfig
    load: Loader
    make_experiment: Callable[[ExperimentConfig], Any]
    trust: bool = False

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
        self.references = _written_references(self.spec.config)
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
        # the trial number tells trials apart: a draw shows 4 digits (lr=3.162e-4), not Optuna's 17
        shown = {k: float(f"{v:.4g}") if isinstance(v, float) else v for k, v in drawn.items()}
        name = clip(" ".join([f"{self.spec.study} t{number}", *describe(shown)]), MAX_LEN)
        study = {"name": self.spec.study, "logging.wandb.group": clip(str(self.spec.study), MAX_LEN),
                 "logging.wandb.tags": tags, "logging.wandb.name": name, "train.progress": False}
        return self.best_config({**params, **study})

    def best_config(self, params: dict[str, Any]) -> ExperimentConfig:
        """The base config with `params` set. A mapping value replaces what was there (a new
        backbone drops the old one's keys) instead of merging into it as a `key=value` override would.
        The `${...}` of the base file and of the overrides are resolved after the draws, as `rlgen
        train FILE KEY=VALUE` resolves them: `eval_every: ${train.total_steps}` follows a drawn budget."""
        tree = OmegaConf.create(config_tree(self.base))  # escaped `\${` text stays text
        for key, text in self.references:  # self.base holds their values, resolved before any draw
            OmegaConf.update(tree, key, text, merge=False)
        for override in self.spec.overrides:  # after the file's references, as `rlgen train` applies them
            _override(tree, override, str(self.spec.config))
        for key, value in params.items():
            _set(tree, key, value)
        return self.load(OmegaConf.to_container(tree), [])  # resolved there, escaped text once

    @property
    def storage(self) -> str:
        if self.spec.storage is not None:
            return self.spec.storage
        self.folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{(self.folder / 'study.db').resolve()}"

    def open_study(self) -> Any:
        return self.open_or_make_study()[0]

    def open_or_make_study(self) -> tuple[Any, bool]:
        """The sweep's study, and whether this call made it (`open_or_make_study`)."""
        return open_or_make_study(str(self.spec.study), self.storage, direction=self.direction,
                                  heartbeat=self.spec.heartbeat, sampler=sampler(self.spec.sampler),
                                  pruner=build("pruner", self.spec.pruner))

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

        summary = train_trial(trial, cfg, self.make_experiment, on_eval=report, trust=self.trust)
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
        refuse_several_processes("rlgen sweep", "one trial after another, each a run of one process",
                                 "to take trials side by side, start more workers on one --storage URL")
        total = self.spec.n_trials if n_trials is None else n_trials  # 0 is a mistake, not "the file's"
        whole_count(total, "n_trials")
        study, made = self.open_or_make_study()
        check_space(study, self.spec.space)  # before _check_setup, which may record a setup
        self._check_setup(study, made=made)
        console.print(f"[bold]sweep {self.spec.study}[/]: {escape(self.metric)} ({self.direction}), {total} trials, "
                      f"storage {escape(shown_url(self.storage))} -> {escape(str(self.folder))}", soft_wrap=True)
        with StudyProgress(study, total, f"sweep {self.spec.study}") as progress:
            work(study, total, self.objective, progress=progress, announce=_announce,
                 max_retry=self.spec.heartbeat.max_retry)
        report_console(stderr=True).print(status_table(study, self.metric))  # whole off a terminal
        return self.write_best(study)

    def _check_setup(self, study: Any, running: bool = True, made: bool = True) -> None:
        """A study continued with another metric or objective holds values of another quantity:
        refuse (the direction, Optuna's own, is checked when the study opens). With another base
        config (its name, or its values: the file edited since), overrides or space its runs are not
        comparable side by side: say so (workers of one sweep share one setup). A seed queue's study is refused: its seed runs would count as this
        sweep's trials. `running`: a run of the sweep, which writes the setup into a study that has none
        yet and is told of another setup; False for `--status`, which ranks nothing and writes nothing."""
        attrs = described(study, made)  # a study another worker has just made: its setup, once written
        seeds = attrs.get("seeds")
        if seeds is not None:  # rlgen train --seeds refuses a sweep's study the same way (rlgen/seeds_queue.py)
            raise RlgenError(f"study {self.spec.study!r} is a queue of {len(seeds)} seeds (rlgen train --seeds), not "
                             "a sweep: its seed runs would be ranked as this sweep's trials; give the sweep a study "
                             "of its own (study: NAME in the sweep file, or --study NEW_NAME)")
        swept = tuple(self.spec.space)
        values = {k: v for k, v in queue_config(self.base).items()  # the base config's own values, not the swept
                  if not any(k == s or k.startswith(f"{s}.") for s in swept)}
        setup = {"config": str(Path(self.spec.config).name), "overrides": list(self.spec.overrides),
                 "space": sorted(self.spec.space), "metric": self.metric, "objective": self.spec.objective,
                 "values": values}
        before = attrs.get("rlgen_setup")
        if before is None:
            if running:
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
        if not running:  # the table shows the study's trials as they are, whatever this command's overrides
            return
        changed = [k for k in setup if k != "values" and before[k] != setup[k]]
        if changed:
            what = f"{', '.join(changed)} ({before[changed[0]]} against {setup[changed[0]]})"
        elif edited := changed_keys(before["values"], values):  # the same file and overrides, the file edited since
            what = f"values in {setup['config']} ({shown_changes(before['values'], values, edited, 'then', 'now')})"
        else:
            return
        console.print(f"[yellow]warning:[/] study {self.spec.study!r} was started with other {escape(what)}: its "
                      "earlier trials are ranked with these as if comparable; give this setup a study name of its own "
                      "(study: NAME in the sweep file) to keep them apart", soft_wrap=True)

    def status(self) -> Any:
        """The study's trials as a table (`rlgen sweep --status`), without running any."""
        if self.spec.storage is None and not (self.folder / "study.db").is_file():
            raise RlgenError(f"no study {self.spec.study!r} yet: {self.folder / 'study.db'} does not exist; if the "
                             "sweep ran with logging.dir=DIR, give it again")
        study = open_study(str(self.spec.study), self.storage, direction=self.direction,
                           heartbeat=self.spec.heartbeat, create=False)
        self._check_setup(study, running=False)
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
        tmp.write_text("\n".join(header) + "\n" + tmp.read_text(encoding="utf-8"), encoding="utf-8")
        os.replace(tmp, path)
        console.print(f"best: trial {best.number}, {escape(self.metric)} = {best.value:.6g}; "
                      f"config: {escape(str(path))}")
        console.print(f"  train it:   {escape(shell_line('rlgen', 'train', path, '--seeds', '0,1,2'))}")
        mode = "min" if self.direction == "minimize" else "max"
        console.print(f"  compare:    {escape(compare_command([self.folder], self.metric, mode))}")
        return path


def _written_references(config: str) -> list[tuple[str, str]]:
    """Every `${...}` the base config file writes, unresolved, as (dotted key, text). A base that is
    no file (`zoo:ALGO/ENV`) writes none."""
    from rlgen.api_configs import config_path

    try:
        path = config_path(config)
    except RlgenError:
        return []
    return _interpolations(OmegaConf.load(path))


def _set(tree: Any, key: str, value: Any) -> None:
    """One of a trial's values set in its config tree; a key that indexes a list past its end or
    by a word is the line `rlgen train` gives for it."""
    try:
        OmegaConf.update(tree, key, value, merge=False, force_add=True)
    except (OmegaConfBaseException, ValueError) as e:  # ConfigIndexError, or int('x')
        raise RlgenError(_list_problem(tree, key) or _omegaconf_problem(e)) from None


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
    console.print(f"trial {trial.number} [bold]{trial.state.name.lower()}[/]{steps}{value}{escape(error)} "
                  f"({escape(params)})",
                  highlight=False)

