"""`Run`: one run on disk as the API hands it out (`rlgen.train`, `rlgen.load_run`), with its
experiment loaded from a checkpoint on first use, and `CheckedAgent`, the agent `Run.agent()` gives,
which checks each observation against the env's space before the policy sees it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.markup import escape

from rlgen import checkpoint
from rlgen.api_args import _bool_arg, _count_arg, _path_arg, _shown, _writable_dir
from rlgen.api_configs import make_experiment, untrusted_unless
from rlgen.config import ExperimentConfig
from rlgen.errors import RlgenError, RlgenWarning, first_line
from rlgen.experiment import RunContext
from rlgen.transfer import restoring


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
                where, ckpts = self._checkpoint_dir, self.run_dir / "checkpoints"
                raise checkpoint.CheckpointChoiceError(
                    lambda o: f"{where}: its checkpoint holds no experiment state (damaged, or not written by rlgen); "
                              f"pick another with {o.given('step_N')} (see {ckpts})")
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
        from rlgen.experiment import back_to_evaluation_start, eval_mode, evaluation_start

        try:
            exp = self.experiment  # a run that cannot be opened leaves no video folder either
            # every evaluation of the loaded run plays the first one's episodes: what they draw from
            # (the global RNGs, the kind's eval envs and opponents) is put back as it was then
            if self._first_evaluation is None:
                self._first_evaluation = evaluation_start(exp)
            else:
                back_to_evaluation_start(exp, self._first_evaluation)
            if episodes is not None and not getattr(exp, "episodic", True):
                warnings.warn(f"kind {self.config.kind!r} plays no episodes (its evaluation scores what its config's "
                              f"eval settings say): the {episodes} episodes asked for are not played", RlgenWarning,
                              stacklevel=2)
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
