"""`Run`: one run on disk as the API hands it out (`rlgen.train`, `rlgen.load_run`), with its
experiment loaded from a checkpoint on first use, and `CheckedAgent`, the agent `Run.agent()` gives,
which checks each observation against the env's space before the policy sees it.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from pydantic import ValidationError
from rich.markup import escape

from rlgen import checkpoint
from rlgen.api_args import _bool_arg, _count_arg, _path_arg, _real_arg, _shown, _writable_dir
from rlgen.api_configs import make_experiment, untrusted_unless
from rlgen.config import ExperimentConfig
from rlgen.errors import RlgenError, RlgenWarning, first_line
from rlgen.experiment import RunContext
from rlgen.identity import show
from rlgen.transfer import restoring

# What may change when a run resumes: its budget, evaluation, checkpointing and logging, the
# device, and how its envs are stepped. Everything else built the state in the checkpoint, so a
# run resumes, and opens, only with a config that agrees with its checkpoint's outside these.
RESUMABLE = ("train", "logging", "device", "env.vectorize")
SHOWN_RESUMABLE = ", ".join(k if "." in k or k == "device" else f"{k}.*" for k in RESUMABLE)


def fixed_changes(run_dir: Path, cfg: ExperimentConfig, saved: Mapping[str, Any] | None, *,
                  trust: bool = False) -> dict[str, tuple[Any, Any]]:
    """The dotted keys outside `RESUMABLE` in which `cfg` differs from `saved`, the config a
    checkpoint of `run_dir` was built with, each with its (saved, cfg's) values; none where the
    checkpoint saved no config."""
    if not saved:
        return {}
    # through today's schema: a field added since the checkpoint takes its default, and a relative
    # path found from here reads absolute, as the run's config.yaml now does; a name by import path
    # in the checkpoint is not imported unless `trust` (it is then compared as saved)
    try:
        with untrusted_unless(trust, run_dir / "checkpoints"):
            saved = type(cfg).model_validate(saved).model_dump(mode="json")
    except (ValidationError, RlgenError):
        pass  # a schema today's refuses: compared as saved
    return {k: v for k, v in _differing(saved, cfg.model_dump(mode="json")).items() if not _resumable(k)}


def _resumable(key: str) -> bool:
    return any(key == r or key.startswith(f"{r}.") for r in RESUMABLE)


def _differing(a: Any, b: Any, path: str = "") -> dict[str, tuple[Any, Any]]:
    """The dotted keys where two plain config trees differ, with their two values."""
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return {k: v for key in dict.fromkeys([*a, *b])
                for k, v in _differing(a.get(key), b.get(key), f"{path}.{key}" if path else str(key)).items()}
    return {} if a == b else {path or "<config>": (a, b)}


class Run:
    """One run on disk: its config, directory and summary, and (loaded on first use) the trained
    experiment, its agent and its torch modules. Close it, or use it as a context manager."""

    def __init__(self, cfg: ExperimentConfig, run_dir: Path, *, summary: dict[str, Any] | None = None,
                 exit_code: int = 0, checkpoint_dir: Path | None = None, checkpoint_label: str = "latest",
                 device: str = "cpu", trust: bool = False, fallback: bool = False):
        self.config = cfg
        # absolute: a run opened lazily still finds its files after the caller's os.chdir
        self.run_dir = Path(run_dir).absolute()
        self.summary = summary
        self.exit_code = exit_code
        self._checkpoint_dir = Path(checkpoint_dir).absolute() if checkpoint_dir else self.run_dir
        self.checkpoint = checkpoint_label  # which checkpoint: "best", "latest" or "step_N"
        self._fallback = fallback  # a damaged checkpoint_dir falls back to the run's newest intact one
        self._device = device
        self._trust = trust
        self._experiment: Any = None
        self._threads = 1  # torch's thread count for the run's own work (its setup and evaluations)
        self._evaluation_rng: dict[str, Any] | None = None  # the global RNGs as the run's setup left them
        self._first_evaluation: tuple[Any, Any] | None = None  # (global RNGs, the kind's evaluation_state())
        self.global_step: int | None = None

    def __repr__(self) -> str:
        return f"Run({self.config.name!r}, kind={self.config.kind!r}, run_dir='{self.run_dir}')"

    @property
    def experiment(self) -> Any:
        """The experiment, set up on this run's device with the checkpoint's state loaded. It is set
        up as training set it up (the global RNGs seeded with the run's seed, the run's torch thread
        count), and the caller's global RNGs and thread count are as they were after: opening a run
        changes nothing in the process that opens it."""
        if self._experiment is None:
            from rlgen.process import choose_device, default_threads, process_state_kept, rng_state

            if not self.run_dir.is_dir():
                raise RlgenError(f"{self.run_dir} no longer exists (moved or deleted?): load the run from where it "
                                 "is now")
            state = self._checkpoint_state()
            exp = make_experiment(self.config)
            device = choose_device(self._device, False)
            self._threads = self.config.train.threads or default_threads(device, exp)
            with process_state_kept():
                self._set_up(exp, device, state)
                self._evaluation_rng = rng_state()  # where every evaluation of it starts (`evaluate`)
            # a loaded run acts and is evaluated, as SB3's load and rlgen's exports do: a caller's forward
            # pass through `modules()` updates no batch-norm statistics, and dropout is off
            for module in dict(getattr(exp, "modules", dict)()).values():
                if isinstance(module, torch.nn.Module):
                    module.eval()
            self._experiment, self.global_step, self._first_evaluation = exp, int(state["global_step"]), None
        return self._experiment

    def _checkpoint_state(self) -> dict[str, Any]:
        """The checkpoint this run opens at, checked to hold an experiment of the run's kind."""
        try:
            with checkpoint.to_use():  # a fallback to an older step is warned of as such
                state = checkpoint.load(self._checkpoint_dir, trust=self._trust)
        except checkpoint.UnsafeCheckpointError:
            raise
        except RlgenError as e:
            if not self._fallback and self._checkpoint_dir != self.run_dir and not self._checkpoint_dir.exists():
                # the step a Run was opened at (`rlgen.train` pins the one its run ended with), pruned since
                raise RlgenError(f"cannot open {self.checkpoint} of {self.run_dir}: it is gone (a later "
                                 "resume of the run keeps only train.keep_checkpoints); open another with "
                                 f"rlgen.load_run({str(self.run_dir)!r}, checkpoint='best' or 'latest')") from None
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
            where, ckpts = self._checkpoint_dir, self.run_dir / "checkpoints"
            raise checkpoint.CheckpointChoiceError(
                lambda o: f"{where}: its checkpoint holds no experiment state (damaged, or not written by rlgen); "
                          f"pick another with {o.given('step_N')} (see {ckpts})")
        if kind != self.config.kind:
            raise RlgenError(f"{self._checkpoint_dir} holds a checkpoint of kind {kind!r}, not of this "
                             f"{self.config.kind!r} run ({self.run_dir})")
        self._check_config(state)
        return state

    def _check_config(self, state: dict[str, Any]) -> None:
        """Refuse a checkpoint built with another config than the run's, as `--resume` does: its
        state loaded into what config.yaml builds is another agent (say, VecNormalize statistics
        that normalize nothing) or a state_dict error."""
        changed = fixed_changes(self.run_dir, self.config, state.get("config"), trust=self._trust)
        if changed:
            shown = ", ".join(f"{k}: {show(saved)} there, {show(now)} in config.yaml"
                              for k, (saved, now) in list(changed.items())[:3])
            shown += f" and {len(changed) - 3} more" if len(changed) > 3 else ""
            raise RlgenError(f"{self._checkpoint_dir}: its checkpoint was built with another config than "
                             f"{self.run_dir / 'config.yaml'} ({shown}); put the checkpoint's values back in "
                             f"config.yaml, or open it with the run it came from (only {SHOWN_RESUMABLE} may differ)")

    def _set_up(self, exp: Any, device: torch.device, state: dict[str, Any]) -> None:
        """`exp` set up as the runner sets up a run (its threads, then the RNGs seeded, then setup),
        with the checkpoint's state loaded; closed again if the checkpoint does not fit it."""
        from rlgen.logging import Logger
        from rlgen.process import seed_everything

        torch.set_num_threads(self._threads)
        seed_everything(self.config.seed)
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
        folder: Path | None = None
        if video_dir is not None:
            wanted = _path_arg("Run.evaluate", "video_dir", video_dir, "a directory to write into")
            made = [p for p in (wanted, *wanted.parents) if not p.exists()]
            folder = _writable_dir("Run.evaluate", "video_dir", video_dir)
        try:
            exp = self.experiment  # a run that cannot be opened leaves no video folder either
            if episodes is not None and not getattr(exp, "episodic", True):
                warnings.warn(f"kind {self.config.kind!r} plays no episodes (its evaluation scores what its config's "
                              f"eval settings say): the {episodes} episodes asked for are not played", RlgenWarning,
                              stacklevel=2)
            there = {p.resolve() for p in folder.iterdir()} if folder is not None else set()
            with warnings.catch_warnings():
                # gymnasium's RecordVideo warns of "overwriting existing videos" for any folder that exists (this
                # one was just made, or may be empty), coloured whatever NO_COLOR says: the warning below replaces it
                warnings.filterwarnings("ignore", message=r".*Overwriting existing videos at ")
                metrics = self._evaluated(exp, episodes, folder)
            from rlgen.logging import Video

            videos = [Path(v.path) for v in metrics.values() if isinstance(v, Video)]
            if not videos:
                _remove_empty(made)  # a kind that films nothing (selfplay, teams) leaves no folder of its own
            for video in videos:
                if video.resolve() in there:
                    warnings.warn(f"Run.evaluate: overwrote the video {video} that was there (give another video_dir "
                                  "to keep both)", RlgenWarning, stacklevel=2)
            return metrics
        except BaseException:
            _remove_empty(made)  # a refused or failed video leaves no folder of its own behind (in a run: none)
            raise

    def _evaluated(self, exp: Any, episodes: int | None, video_dir: Path | None) -> dict[str, Any]:
        """The kind's evaluation, in the run's own process state: its thread count, and the global
        RNGs, eval envs and opponents as at its first evaluation, which starts from the RNGs its setup
        left (seeded with the run's seed), so that every evaluation of the loaded run plays the same
        episodes, whatever the caller drew in between. The caller's RNGs and threads are theirs again after."""
        from rlgen.experiment import back_to_evaluation_start, eval_mode, evaluation_start
        from rlgen.process import process_state_kept, set_rng_state

        with process_state_kept():
            torch.set_num_threads(self._threads)
            if self._first_evaluation is None:
                set_rng_state(self._evaluation_rng)
                self._first_evaluation = evaluation_start(exp)
            else:
                back_to_evaluation_start(exp, self._first_evaluation)
            with eval_mode(exp):  # whatever mode a caller left `modules()` in
                return dict(exp.evaluate(episodes=episodes, video_dir=video_dir))

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


class CheckedAgent:
    """A kind's agent whose `predict` first checks the observation against the env's observation
    space: one observation of the right shape, numbers (integers for discrete spaces, within
    range), finite. A wrong one is one RlgenError line instead of a numpy broadcast error deep in
    SB3, or a NaN reaching the policy (torch's Categorical then refuses its logits). Everything
    else (reset, model, takes_action_masks, ...) is the agent's own."""

    def __init__(self, agent: Any, observation_space: Any):
        self.agent = agent
        self.observation_space = observation_space
        self._signature = inspect.signature(agent.predict)  # read once: predict runs at every step

    def predict(self, obs: Any, *args: Any, **kwargs: Any) -> Any:
        """The agent's action for one observation of the env (as `env.step` takes it). Its other
        arguments are checked however they are passed, by name or by position (`predict(obs, 0.0,
        "false")`): `deterministic` is True or False, `reward` a finite number."""
        if (problem := observation_problem(self.observation_space, obs)) is not None:
            raise RlgenError(f"predict: {problem}")
        signature = self._signature
        try:
            given = signature.bind(obs, *args, **kwargs)
        except TypeError as e:
            bare = signature.replace(parameters=[p.replace(annotation=p.empty) for p in signature.parameters.values()],
                                     return_annotation=signature.empty)
            raise RlgenError(f"predict: {e}; it takes predict{bare}") from None
        if "deterministic" in given.arguments:
            given.arguments["deterministic"] = _bool_arg("predict", "deterministic", given.arguments["deterministic"])
        if "reward" in given.arguments:
            given.arguments["reward"] = _real_arg("predict", "reward", given.arguments["reward"])
        return self.agent.predict(*given.args, **given.kwargs)

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
