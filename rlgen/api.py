"""The public Python API: what the CLI, the tests and the benchmarks use themselves.

    import rlgen

    run = rlgen.train("ppo_cartpole", overrides=["train.total_steps=20000"])   # -> Run
    run.summary["final"]["eval/return_mean"]

    run = rlgen.load_run("runs/ppo_cartpole/20261130-101500-s0-ab12")
    agent = run.agent()                       # acts on a plain gymnasium env
    obs, _ = env.reset(seed=0)
    action = agent.predict(obs)               # memory windows, normalization: applied for you
    run.evaluate(episodes=20)                 # the run's own evaluation, with its metrics
    run.modules()["policy"]                   # the torch modules, e.g. for transfer
    rlgen.record(run, episodes=10, out="demos/cartpole")   # its demonstrations, a Minari dataset
"""

from __future__ import annotations

import difflib
import os
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from pydantic import ValidationError
from rich.markup import escape

from rlgen import checkpoint
from rlgen import checkpoint as checkpoint_lib  # load_run's `checkpoint` argument hides the module there
from rlgen.config import ExperimentConfig, check_overrides, device_problem
from rlgen.config import load_config as _load_config
from rlgen.errors import ConfigError, RlgenError, first_line
from rlgen.experiment import RunContext, check_of
from rlgen.registry import KINDS, registered_names_only
from rlgen.transfer import restoring
from rlgen.transfer import trusting as transfer_trusting

ConfigSource = str | Path | Mapping[str, Any]


# --- arguments ----------------------------------------------------------------------------------
# The API's own arguments are checked before anything is read, built or written: a wrong one is
# an RlgenError that names the function, the argument and what it takes, never a TypeError from
# deep inside pathlib, numpy or torch.


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes)


def _path_arg(func: str, name: str, value: Any, what: str) -> Path:
    if not _is_path(value) or not str(value):
        raise RlgenError(f"{func}: {name} must be a str or pathlib.Path ({what}), not {_shown(value)}")
    return Path(value)


def _config_arg(func: str, config: Any) -> None:
    if not (isinstance(config, (ExperimentConfig, Mapping)) or (_is_path(config) and str(config))):
        raise RlgenError(f"{func}: config is a YAML path, a bundled config name (`rlgen list`), 'zoo:ALGO/ENV', a "
                         f"mapping or a loaded config, not {_shown(config)}")


def _count_arg(func: str, name: str, value: Any, low: int = 1) -> int:
    """A whole number >= low: bool, float and text are refused (3.0 is no count of episodes)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise RlgenError(f"{func}: {name} must be a whole number >= {low}, not {_shown(value)}")
    return int(value)


def _bool_arg(func: str, name: str, value: Any) -> bool:
    """True or False itself: "false", "no", 0 or None are refused, since by truthiness `trust="false"`
    would trust a run and `deterministic="false"` would act deterministically."""
    if not isinstance(value, (bool, np.bool_)):
        raise RlgenError(f"{func}: {name} must be True or False, not {_shown(value)}")
    return bool(value)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


# --- configs ------------------------------------------------------------------------------------


def bundled_configs(folder: str = "") -> dict[str, Path]:
    """The configs shipped inside the package, by name (`ppo_cartpole` -> its YAML file); those of
    a folder of them by `folder/name` (`bundled_configs("sweeps")`: `sweeps/ppo_cartpole`)."""
    root = resources.files("rlgen.configs").joinpath(*filter(None, [folder]))
    prefix = f"{folder}/" if folder else ""
    return {prefix + p.name.removesuffix(".yaml"): Path(str(p)) for p in sorted(root.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".yaml")}


def config_path(config: str | Path) -> Path:
    """A YAML path as given, or the file of a bundled config name; a near-miss gets a "did you mean"."""
    path = Path(config)
    if path.is_file():
        return path
    bundled = bundled_configs()
    name = str(config).removesuffix(".yaml")
    if name in bundled:  # also when a folder of that name is here (runs written with logging.dir=.)
        return bundled[name]
    if path.is_dir():
        raise RlgenError(f"config {config} is a directory, not a YAML file; give a YAML path or a bundled config "
                         f"name (`rlgen list` shows them)")
    close = difflib.get_close_matches(Path(name).name, list(bundled), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise RlgenError(f"config file not found: {config}{hint}; give a YAML path or a bundled config "
                     f"name (`rlgen list` shows them)")


def named_config(name: str) -> Path | Mapping[str, Any] | None:
    """The config a run name comes from: a bundled config's file, or the rl-zoo3 entry a
    `zoo_ALGO_ENV` name was converted from (as a mapping); None for any other name."""
    bundled = bundled_configs()
    if name in bundled:
        return bundled[name]
    if name.startswith("zoo_"):
        # rl-zoo3's hyperparameters are a config source of the rl kind (rlgen/agents/rl/zoo.py)
        from rlgen.agents.rl import zoo

        ref = zoo.ref_of_name(name)
        return zoo.convert(*zoo.parse_ref(ref)).config if ref else None
    return None


def load_config(config: ConfigSource | ExperimentConfig, overrides: Sequence[str] = (), *,
                interpolation: bool = True) -> ExperimentConfig:
    """Read, validate and check a config (a path, a bundled name, `zoo:ALGO/ENV` for rl-zoo3's
    tuned hyperparameters, or a mapping such as a sweep trial's): every problem at once, before
    anything heavy starts. ConfigError lists them. `interpolation=False`: a `${...}` in the file
    is refused (a run's config.yaml, see rlgen.config)."""
    _config_arg("rlgen.load_config", config)
    interpolation = _bool_arg("rlgen.load_config", "interpolation", interpolation)
    check_overrides(overrides)
    if isinstance(config, ExperimentConfig):
        if not overrides:
            return config
        config = config.model_dump(mode="json")
    if isinstance(config, str) and config.startswith("zoo:"):
        config = zoo_config(config)
    source: str | Path | Mapping[str, Any] = config if isinstance(config, Mapping) else config_path(config)
    try:
        cfg = _load_config(source, overrides, interpolation=interpolation)
    except ConfigError as e:  # the kind's own checks too, on the config with the failing keys set back
        if e.salvaged is None:
            raise
        more = [p for p in check_of(kind_of(e.salvaged), e.salvaged)
                if not any(p.startswith(f"{path}:") or p.startswith(f"{path}.") for path in e.paths)]
        raise ConfigError(e.source, [*e.problems, *more]) from None
    problems = check_of(kind_of(cfg), cfg)
    if problems:
        raise ConfigError(str(source) if not isinstance(source, Mapping) else "<config>", problems)
    return cfg


def zoo_config(ref: str) -> dict[str, Any]:
    """`zoo:ALGO/ENV` as a config mapping; what did not convert is printed, one line each."""
    from rlgen.agents.rl import zoo
    from rlgen.logging import console

    conversion = zoo.convert(*zoo.parse_ref(ref))
    if conversion.fallback:
        console.print(f"[yellow]warning:[/] {escape(conversion.fallback)}")
    for item in conversion.unsupported:
        console.print(f"[yellow]warning:[/] {ref}: not converted: {escape(item)}")
    return conversion.config


def kind_of(cfg: ExperimentConfig) -> type:
    """The experiment class of a config's `kind`."""
    return KINDS.get(cfg.kind)


def make_experiment(cfg: ExperimentConfig) -> Any:
    """A fresh, not yet set up, experiment of the config's kind."""
    if not isinstance(cfg, ExperimentConfig):
        raise RlgenError(f"rlgen.make_experiment takes a loaded config (rlgen.load_config(...)), not {_shown(cfg)}")
    return kind_of(cfg)(cfg)


# --- training -----------------------------------------------------------------------------------


def train(config: ConfigSource | ExperimentConfig | None = None, overrides: Sequence[str] = (), *,
          resume: str | Path | None = None,
          on_eval: Callable[[int, dict[str, Any]], bool] | None = None,
          run_dir: str | Path | None = None, trust: bool = False) -> Run:
    """Train one run to the end (or until early stopping or a signal) and return it.

    `config`: a YAML path, a bundled config name, a mapping or a loaded config. `resume`: a run
    directory to continue from its newest intact checkpoint, with the config saved there;
    `overrides` may change only what a checkpoint does not fix (`RESUMABLE`), and anything else
    is refused before a file of the run is touched. `run_dir`: where a new run goes (default: a
    new directory under logging.dir/name). `trust`: open an old-format (pickled) checkpoint
    (its numpy, gymnasium and SB3 objects only) and configs that name code by import path. `on_eval(step, metrics) -> stop?` is called after every evaluation.
    """
    from rlgen.runner import Runner

    # every argument is checked before a config is read or a directory made
    check_overrides(overrides)
    trust = _bool_arg("rlgen.train", "trust", trust)
    if on_eval is not None and not callable(on_eval):
        raise RlgenError(f"rlgen.train: on_eval is a function on_eval(step, metrics) -> stop?, not {_shown(on_eval)}")
    if run_dir is not None:
        _path_arg("rlgen.train", "run_dir", run_dir, "the directory for the new run")
    if resume is not None:
        _path_arg("rlgen.train", "resume", resume, "the run directory to continue")
    if config is not None:
        _config_arg("rlgen.train", config)
    state = None
    if resume is not None:
        if config is not None:
            raise RlgenError("rlgen.train(resume=RUN_DIR) continues with the config saved in the run; give overrides only")
        if run_dir is not None:
            raise RlgenError("a resumed run stays in its own directory: give resume=RUN_DIR or run_dir=, not both")
        resume = Path(resume)
        if not (resume / "config.yaml").is_file():
            raise RlgenError(f"cannot resume: {resume} has no config.yaml (is it a run directory?)")
        cfg = run_config(resume, overrides, trust=trust)
        state = checkpoint.load(resume, trust=trust)
        _check_resume(resume, cfg, state.get("config"), trust=trust)
        budget = ((state.get("config") or {}).get("train") or {}).get("total_steps")
        if cfg.train.total_steps < int(state.get("global_step") or 0) and cfg.train.total_steps != budget:
            # a lower budget than the run's own; its own (a last unit past it) resumes to nothing to do
            raise RlgenError(f"cannot resume {resume} with train.total_steps={cfg.train.total_steps:,}: it is at step "
                             f"{int(state['global_step']):,} already; give a larger budget")
    elif config is None:
        raise RlgenError("rlgen.train needs a config (a YAML path, a bundled name, a mapping) or resume=RUN_DIR")
    else:
        cfg = load_config(config, overrides)
    runner = Runner(cfg, make_experiment(cfg), resume_dir=resume, on_eval=on_eval, run_dir=run_dir,
                    resume_state=state, trust=trust,
                    untrusted_config=resume / "config.yaml" if resume is not None and not trust else None)
    with transfer_trusting(trust):  # --trust also opens the runs a backbone's init names
        summary = runner.run()
    # the Run opens the run as it was trained: a new run's config is the caller's own (training imported what
    # it names already); a resumed run's is read from its directory, trusted only with `trust`
    return Run(cfg, runner.run_dir, summary=summary, exit_code=runner.exit_code, trust=trust or resume is None)


def run_config(run_dir: Path, overrides: Sequence[str] = (), *, trust: bool = False) -> ExperimentConfig:
    """A run's own config.yaml, read as a file from anyone: no `${...}` resolvers (they can read
    the environment) and no names by import path (importing runs code), unless `trust`."""
    trust = _bool_arg("rlgen.run_config", "trust", trust)
    path = Path(run_dir) / "config.yaml"
    with untrusted_unless(trust, path):
        return load_config(path, overrides, interpolation=trust)


def untrusted_unless(trust: bool, source: Path) -> AbstractContextManager[None]:
    """Only registered names resolve within it (see `registry.registered_names_only`), unless `trust`."""
    return nullcontext() if _bool_arg("untrusted_unless", "trust", trust) else registered_names_only(str(source))


# What may change when a run resumes: its budget, evaluation, checkpointing and logging, the
# device, and how its envs are stepped. Everything else built the state in the checkpoint.
RESUMABLE = ("train", "logging", "device", "env.vectorize")


def _check_resume(run_dir: Path, cfg: ExperimentConfig, saved: Mapping[str, Any] | None, *, trust: bool = False) -> None:
    """Refuse, before anything is written, a resume whose config differs from the checkpoint's in
    anything outside `RESUMABLE`."""
    if not saved:
        return
    # through today's schema: a field added since the checkpoint takes its default, and a relative
    # path found from here reads absolute, as the run's config.yaml now does; a name by import path
    # in the checkpoint is not imported unless `trust` (it is then compared as saved)
    try:
        with untrusted_unless(trust, run_dir / "checkpoints"):
            saved = type(cfg).model_validate(saved).model_dump(mode="json")
    except (ValidationError, RlgenError):
        pass  # a schema today's refuses: compared as saved
    changed = [k for k in _differing(saved, cfg.model_dump(mode="json"))
               if not any(k == r or k.startswith(f"{r}.") for r in RESUMABLE)]
    if changed:
        raise RlgenError(f"cannot resume {run_dir} with {', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''} "
                         f"changed: its checkpoint was built with the saved value; at resume only "
                         f"{', '.join(k if '.' in k or k == 'device' else k + '.*' for k in RESUMABLE)} may change")


def _differing(a: Any, b: Any, path: str = "") -> list[str]:
    """Dotted keys where two plain config trees differ."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return [k for key in dict.fromkeys([*a, *b])
                for k in _differing(a.get(key), b.get(key), f"{path}.{key}" if path else str(key))]
    return [] if a == b else [path or "<config>"]


def load_run(path: str | Path, *, checkpoint: str | None = None, device: str = "cpu", trust: bool = False) -> Run:
    """A finished or interrupted run, from its directory or from one of its checkpoint directories
    (`checkpoints/step_N`, `checkpoints/best`). `checkpoint` picks one: `"best"` (by the run's
    `train.early_stop.metric`), `"latest"` or `"step_N"`; by default a finished run opens at its
    best checkpoint and an interrupted one at its newest intact checkpoint (`Run.checkpoint` says
    which). Its experiment is built and loaded on first use. Nothing in the directory runs: the
    config is read without resolvers, the checkpoint as tensors and plain data; `trust=True`
    opens an old-format (pickled) checkpoint, reading only the numpy, gymnasium and SB3 objects
    such files held (`rlgen.checkpoint.OLD_FORMAT_GLOBALS`), and configs that name code by import path.
    `device`: auto, cpu, mps, cuda or cuda:N."""
    path = _path_arg("rlgen.load_run", "path", path, "a run directory or one of its checkpoint directories")
    trust = _bool_arg("rlgen.load_run", "trust", trust)
    if (problem := device_problem(device)) is not None:
        raise RlgenError(f"rlgen.load_run: {problem}")
    run_dir, target, label = checkpoint_lib.select(Path(path), checkpoint)
    if not (run_dir / "config.yaml").is_file():
        raise RlgenError(f"{path} is not a run directory (no config.yaml); runs live under runs/<name>/<id>")
    cfg = run_config(run_dir, ["logging.wandb.mode=disabled"], trust=trust)
    summary = None
    if (run_dir / "summary.json").is_file():
        import json

        try:
            summary = json.loads((run_dir / "summary.json").read_text())
        except (ValueError, OSError):
            summary = None  # a damaged summary does not keep the weights from being used
    chosen = checkpoint is None and label == "best" and target != Path(path)  # best by default, not asked for
    return Run(cfg, run_dir, summary=summary, checkpoint_dir=target, checkpoint_label=label, device=device,
               trust=trust, fallback=chosen)


def record(run: str | Path | Run, episodes: int, out: str | Path, *, seed: int = 0, deterministic: bool = True,
           fmt: str = "auto", checkpoint: str | None = None, trust: bool = False) -> Path:
    """Play a run's agent in its env for `episodes` episodes (seeded seed, seed + 1, ...) and write
    them as demonstrations to `out`: a Minari dataset directory, or a `.npz` file. The metadata
    holds the expert's mean return and a uniformly random policy's (Minari's ref_max_score and
    ref_min_score). `checkpoint`, `trust`: which of a run directory's checkpoints acts, and whether
    the run may name code by import path (see `load_run`). Returns the path written."""
    from rlgen.config import EnvConfig
    from rlgen.envs import make_env_fn, step_capped
    from rlgen.envs.demos import random_return, record_episodes, write_demos

    owned = not isinstance(run, Run)
    if owned:
        _path_arg("record", "run", run, "a run directory (or a loaded Run)")
    episodes = _count_arg("record", "episodes", episodes)
    seed = _count_arg("record", "seed", seed, low=0)
    _path_arg("record", "out", out, "where the demonstrations go: a Minari dataset directory or a .npz file")
    deterministic = _bool_arg("record", "deterministic", deterministic)
    trust = _bool_arg("record", "trust", trust)
    if not owned and (checkpoint is not None or trust):
        raise RlgenError(f"record: this Run is open at its {run.checkpoint} checkpoint already; give "
                         f"{'checkpoint=' if checkpoint is not None else 'trust='} to load_run, or give record the run directory")
    opened = load_run(run, checkpoint=checkpoint, trust=trust) if owned else run
    try:
        env_cfg = getattr(opened.config, "env", None)
        if not isinstance(env_cfg, EnvConfig):
            raise RlgenError(f"kind {opened.config.kind!r} has no single gymnasium env to record demonstrations in")
        make = make_env_fn(env_cfg.id, step_capped(env_cfg.id, env_cfg.kwargs, env_cfg.wrappers), env_cfg.wrappers)
        demos = record_episodes(opened.agent(), make, episodes, seed, deterministic)
        algo = getattr(getattr(opened.config, "agent", None), "algo", "")
        demos = demos.with_metadata(env_id=env_cfg.id, random_return=random_return(make, max(episodes, 10), seed),
                                    algorithm=f"rlgen {opened.config.kind} {algo}".strip(),
                                    description=f"{episodes} episodes of {opened.run_dir} (rlgen record)")
        env = make()
        spaces = env.observation_space, env.action_space
        env.close()
        return write_demos(demos, out, fmt, env_id=env_cfg.id, observation_space=spaces[0], action_space=spaces[1])
    finally:
        if owned:
            opened.close()


class Run:
    """One run on disk: its config, directory and summary, and (loaded on first use) the trained
    experiment, its agent and its torch modules. Close it, or use it as a context manager."""

    def __init__(self, cfg: ExperimentConfig, run_dir: Path, *, summary: dict[str, Any] | None = None,
                 exit_code: int = 0, checkpoint_dir: Path | None = None, checkpoint_label: str = "latest",
                 device: str = "cpu", trust: bool = False, fallback: bool = False):
        self.config = cfg
        self.run_dir = Path(run_dir)
        self.summary = summary
        self.exit_code = exit_code
        self._checkpoint_dir = checkpoint_dir or self.run_dir
        self.checkpoint = checkpoint_label  # which checkpoint: "best", "latest" or "step_N"
        self._fallback = fallback  # a damaged checkpoint_dir falls back to the run's newest intact one
        self._device = device
        self._trust = trust
        self._experiment: Any = None
        self._first_evaluation: tuple[Any, Any] | None = None  # (global RNGs, the kind's evaluation_state())
        self.global_step: int | None = None

    def __repr__(self) -> str:
        return f"Run({self.config.name!r}, kind={self.config.kind!r}, run_dir='{self.run_dir}')"

    @property
    def experiment(self) -> Any:
        """The experiment, set up on this run's device with the checkpoint's state loaded."""
        if self._experiment is None:
            from rlgen.logging import Logger
            from rlgen.process import choose_device

            try:
                with checkpoint.to_use():  # a fallback to an older step is warned of as such
                    state = checkpoint.load(self._checkpoint_dir, trust=self._trust)
            except checkpoint.UnsafeCheckpointError:
                raise
            except RlgenError as e:
                if not self._fallback:
                    raise
                from rlgen.logging import console

                # the best checkpoint was this run's default, not asked for: its newest intact one will do
                with checkpoint.to_use():
                    state = checkpoint.load(self.run_dir, trust=self._trust)
                console.print(f"[yellow]warning:[/] {escape(str(e))}; opened the run's newest intact checkpoint")
                self.checkpoint, self._checkpoint_dir = "latest", self.run_dir
            kind = (state.get("config") or {}).get("kind", self.config.kind)
            if "experiment" not in state:
                raise RlgenError(f"{self._checkpoint_dir}: its checkpoint holds no experiment state (damaged, or "
                                 f"not written by rlgen); pick another with --checkpoint (see {self.run_dir / 'checkpoints'})")
            if kind != self.config.kind:
                raise RlgenError(f"{self._checkpoint_dir} holds a checkpoint of kind {kind!r}, not of this "
                                 f"{self.config.kind!r} run ({self.run_dir})")
            exp = make_experiment(self.config)
            torch.set_num_threads(self.config.train.threads or 1)
            device = choose_device(self._device, False)
            # the checkpoint holds any transferred backbone's weights; names the config passes on to
            # what setup builds (a data source's env_id) are the untrusted file's too
            with restoring(), untrusted_unless(self._trust, self.run_dir / "config.yaml"):
                exp.setup(RunContext(self.config, self.run_dir, device, Logger([]), self.config.seed, training=False))
            try:
                with checkpoint.trusted(self._trust), checkpoint.to_use():
                    exp.load_state_dict(state["experiment"])
            except RlgenError:
                exp.close()
                raise
            except Exception as e:  # noqa: BLE001 - a checkpoint that does not fit: one line
                exp.close()
                raise RlgenError(f"{self._checkpoint_dir}: its checkpoint does not fit this run's config "
                                 f"({type(e).__name__}: {first_line(e)})") from None
            # a loaded run acts and is evaluated, as SB3's load and rlgen's exports do: a caller's forward
            # pass through `modules()` updates no batch-norm statistics, and dropout is off
            for module in dict(getattr(exp, "modules", dict)()).values():
                if isinstance(module, torch.nn.Module):
                    module.eval()
            self._experiment, self.global_step = exp, int(state["global_step"])
        return self._experiment

    def agent(self) -> Any:
        """A policy that acts on plain observations of the run's env: `agent.predict(obs)`."""
        make = getattr(self.experiment, "agent", None)
        if make is None:
            raise RlgenError(f"kind {self.config.kind!r} has no agent to act with; its torch modules are in "
                             f"run.modules(): {', '.join(self.modules()) or 'none'}")
        agent = make()
        # the env's own observation space (what `env.reset()` / `env.step()` return), below any window
        space = getattr(agent, "observation_space", None)
        return agent if space is None else CheckedAgent(agent, space)

    def predict(self, obs: Any, deterministic: bool = True) -> Any:
        """One action for one observation from a fresh episode's agent (see `agent()` to act over
        whole episodes, which memory policies need)."""
        deterministic = _bool_arg("Run.predict", "deterministic", deterministic)
        return self.agent().predict(obs, deterministic=deterministic)

    def evaluate(self, episodes: int | None = None, video_dir: str | Path | None = None) -> dict[str, Any]:
        """The run's own evaluation of the loaded weights (its metrics, `eval/...`): over `episodes`
        episodes (default: the config's train.eval_episodes), filming one into `video_dir` if given
        (kinds that can film one: rl). Writes nothing else."""
        if episodes is not None:
            episodes = _count_arg("Run.evaluate", "episodes", episodes)
        made: list[Path] = []  # the folders it makes for the video, innermost first
        if video_dir is not None:
            wanted = _path_arg("Run.evaluate", "video_dir", video_dir, "a directory to write into")
            made = [p for p in (wanted, *wanted.parents) if not p.exists()]
            video_dir = _writable_dir("Run.evaluate", "video_dir", video_dir)
        from rlgen.process import rng_state, set_rng_state
        from rlgen.runner import eval_mode

        try:
            exp = self.experiment  # a run that cannot be opened leaves no video folder either
            # every evaluation of the loaded run plays the first one's episodes: what they draw from
            # (the global RNGs, the kind's eval envs and opponents) is put back as it was then
            if self._first_evaluation is None:
                self._first_evaluation = (rng_state(), getattr(exp, "evaluation_state", lambda: None)())
            else:
                set_rng_state(self._first_evaluation[0])
                if (load := getattr(exp, "load_evaluation_state", None)) is not None:
                    load(self._first_evaluation[1])
            with eval_mode(exp):  # whatever mode a caller left `modules()` in
                metrics = dict(exp.evaluate(episodes=episodes, video_dir=video_dir))
            from rlgen.logging import Video

            if not any(isinstance(v, Video) for v in metrics.values()):
                _remove_empty(made)  # a kind that films nothing (selfplay, teams) leaves no folder of its own
            return metrics
        except BaseException:
            _remove_empty(made)  # a refused or failed video leaves no folder of its own behind (in a run: none)
            raise

    def modules(self) -> dict[str, torch.nn.Module]:
        """The trained torch modules by role (`policy`, `generator`, `discriminator`, ...), in eval
        mode: call `.train()` on one to fine-tune it (the run's `evaluate` uses eval mode still)."""
        return dict(getattr(self.experiment, "modules", dict)())

    def close(self) -> None:
        if self._experiment is not None:
            self._experiment.close()
            self._experiment = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _remove_empty(folders: list[Path]) -> None:
    """Remove each of `folders` (innermost first) that is still empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            pass  # not empty (a file was written there after all), or gone: keep what is there


def _writable_dir(func: str, name: str, value: Any) -> Path:
    """A directory that exists (made, with its parents, if not) and can be written to; else one line
    naming it (a run copied read-only, a shared or downloaded one, keeps its files)."""
    path = _path_arg(func, name, value, "a directory to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
        writable = os.access(path, os.W_OK | os.X_OK)
        reason = "read-only"
    except OSError as e:
        writable, reason = False, e.strerror or type(e).__name__
    if not writable:
        raise RlgenError(f"{func}: cannot write into {name} {path} ({reason}: a shared or downloaded run?); "
                         f"give a {name} you can write to, or copy the run")
    return path


class CheckedAgent:
    """A kind's agent whose `predict` first checks the observation against the env's observation
    space: one observation of the right shape, numbers (integers for discrete spaces, within
    range), finite. A wrong one is one RlgenError line instead of a numpy broadcast error deep in
    SB3, or a NaN reaching the policy (torch's Categorical then refuses its logits). Everything
    else (reset, model, takes_action_masks, ...) is the agent's own."""

    def __init__(self, agent: Any, observation_space: Any):
        self.agent = agent
        self.observation_space = observation_space

    def predict(self, obs: Any, *args: Any, **kwargs: Any) -> Any:
        """The agent's action for one observation of the env (as `env.step` takes it)."""
        if (problem := observation_problem(self.observation_space, obs)) is not None:
            raise RlgenError(f"predict: {problem}")
        if "deterministic" in kwargs:
            kwargs["deterministic"] = _bool_arg("predict", "deterministic", kwargs["deterministic"])
        return self.agent.predict(obs, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:  # only what is not found on CheckedAgent itself
        if name == "agent":
            raise AttributeError(name)
        return getattr(self.agent, name)

    def __repr__(self) -> str:
        return f"CheckedAgent({self.agent!r})"


def observation_problem(space: Any, obs: Any) -> str | None:
    """What keeps `obs` from being one observation of `space` (a gymnasium space), or None. Checked:
    shape, the kind of its numbers, finiteness, and a discrete value's range; not a Box's bounds
    (an env may step outside its declared ones). Dict and Tuple spaces are left to the agent."""
    from gymnasium import spaces

    if not isinstance(space, (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)):
        return None
    shown = f"Box {space.shape} {space.dtype}" if isinstance(space, spaces.Box) else str(space)
    expected = f"one observation of the env ({shown}), as env.reset() and env.step() return it"
    if obs is None:
        return f"the observation is None; give {expected}"
    try:
        arr = np.asarray(obs)
    except (TypeError, ValueError) as e:  # ragged nested lists
        return f"the observation is no array of numbers ({first_line(e)}); give {expected}"
    if arr.dtype.kind not in "biuf":
        return f"the observation holds {arr.dtype} values, not numbers ({_shown(obs)}); give {expected}"
    if arr.shape != space.shape:
        batch = " (one observation at a time, not a batch)" if arr.shape[1:] == space.shape and arr.ndim else ""
        return f"the observation has shape {arr.shape}, not the env's {space.shape}{batch}; give {expected}"
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(arr))[0])
        where = f" at index {bad[0] if len(bad) == 1 else bad}" if bad else ""
        return f"the observation holds {arr[bad] if bad else arr.item()}{where}; an observation is finite numbers"
    if isinstance(space, spaces.Box):
        return None
    if arr.dtype.kind == "f" and not np.all(arr == np.round(arr)):
        return f"the observation {_shown(obs)} is not whole numbers; {type(space).__name__} observations are integers"
    if not space.contains(arr.astype(space.dtype)):
        return f"the observation {_shown(obs)} is outside the env's {space}; give {expected}"
    return None
