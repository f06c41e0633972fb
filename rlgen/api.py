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

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from rlgen import checkpoint, summary_file
from rlgen import checkpoint as checkpoint_lib  # load_run's `checkpoint` argument hides the module there
# the API's argument checks, its configs and its Run handle live in modules of their own; every name
# of theirs stays importable from here (rlgen/__init__.py re-exports the public ones from here)
from rlgen.api_args import _bool_arg, _config_arg, _count_arg, _path_arg, _shown
from rlgen.api_configs import (ConfigSource, bundled_configs, config_path, kind_of, load_config,  # noqa: F401
                               make_experiment, named_config, run_config, untrusted_unless, zoo_config)
from rlgen.api_run import (RESUMABLE, SHOWN_RESUMABLE, CheckedAgent, Run, _resumable, fixed_changes,  # noqa: F401
                           observation_problem)
from rlgen.config import ExperimentConfig, check_overrides, device_problem
from rlgen.errors import ConfigError, RlgenError
from rlgen.transfer import trusting as transfer_trusting


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
        try:
            found = resume.exists()
        except OSError as e:  # a name too long to look up, say
            raise RlgenError(f"cannot resume: {resume} cannot be opened ({e.strerror}); give the run directory to "
                             "continue (runs/<name>/<run_id>)") from None
        if not found:
            raise RlgenError(f"cannot resume: {resume} does not exist; give the run directory to continue "
                             "(runs/<name>/<run_id>)")
        if not (resume / "config.yaml").is_file():
            raise RlgenError(f"cannot resume: {resume} has no config.yaml (is it a run directory?)")
        try:
            cfg = run_config(resume, overrides, trust=trust)
        except ConfigError:  # a key that may not change at resume (kind=gan: another schema) is that, not a bad file
            if fixed := [k for k in _override_keys(overrides) if not _resumable(k)]:
                raise RlgenError(_unresumable(resume, fixed)) from None
            raise
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
    # the Run opens the run as it was trained: at the checkpoint it ended with (not whatever a later resume
    # of its directory writes), with the config it was trained with (load_config made it, not the caller's
    # object); a new run's config names code training imported already, a resumed run's is trusted only with `trust`
    ended = checkpoint.latest(Path(runner.run_dir) / "checkpoints")
    return Run(cfg, runner.run_dir, summary=summary, exit_code=runner.exit_code, trust=trust or resume is None,
               checkpoint_dir=ended, checkpoint_label=ended.name if ended is not None else "latest")


# --- resuming and opening runs ------------------------------------------------------------------

def _check_resume(run_dir: Path, cfg: ExperimentConfig, saved: Mapping[str, Any] | None, *, trust: bool = False) -> None:
    """Refuse, before anything is written, a resume whose config differs from the checkpoint's in
    anything outside `RESUMABLE`."""
    if changed := fixed_changes(run_dir, cfg, saved, trust=trust):
        raise RlgenError(_unresumable(run_dir, list(changed)))


def _override_keys(overrides: Sequence[str]) -> list[str]:
    return [o.partition("=")[0].strip().lstrip("+~") for o in overrides]


def _unresumable(run_dir: Path, changed: Sequence[str]) -> str:
    return (f"cannot resume {run_dir} with {', '.join(changed[:4])}{' ...' if len(changed) > 4 else ''} "
            f"changed: its checkpoint was built with the saved value; at resume only {SHOWN_RESUMABLE} may change")


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
    # as saved, W&B mode included: rlgen.train(run.config, ...) trains as the run did; opening the run
    # starts no W&B whatever it says (`Run` sets up its experiment with a logger of no sinks)
    cfg = run_config(run_dir, trust=trust)
    summary = None
    if (run_dir / "summary.json").is_file():
        try:
            summary = summary_file.from_text((run_dir / "summary.json").read_text(encoding="utf-8"))
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
    from rlgen.envs.demos import check_demos_target, write_demos
    from rlgen.envs.recording import random_return, record_episodes

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
    check_demos_target(out, fmt)  # before any episode is played
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

