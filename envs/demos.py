"""Expert demonstrations: what behaviour cloning and adversarial imitation learn from.

`Demos` holds whole episodes of transitions, flattened in order: row t is (s_t, a_t, r_t, s_t+1)
with the flags saying whether the episode ended there by termination or by truncation. It is read
from and written to disk by a demo format (`rlgen.registry.DEMOS`: `minari` and `npz` are rlgen's
own, a plugin adds its own through the `rlgen.demos` entry-point group), and recorded from any
policy that acts on plain observations (`rlgen.envs.recording`; `rlgen record RUN_DIR`, `rlgen.record`):

    demos = record_episodes(run.agent(), make_env_fn("CartPole-v1"), episodes=10, seed=0)
    write_demos(demos, "demos/cartpole")          # a Minari dataset directory
    demos = read_demos("demos/cartpole").first(4)  # four episodes of it

Numpy only; nothing downloads (a Minari dataset id is looked up in the local datasets folder).
"""

from __future__ import annotations

import dataclasses
import json
import math
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec, WrapperSpec

from rlgen.envs import EPISODE_STEP_CAP
from rlgen.errors import RlgenError, RlgenWarning, first_line
from rlgen.registry import DEMOS


@dataclass
class Demos:
    """Episodes of transitions, flattened: N rows over E episodes of `lengths` (E,) rows each.

    observations (N, *obs) s_t; actions (N, *act); next_observations (N, *obs) s_t+1, the episode's
    final observation on its last row; rewards (N,); terminations / truncations (N,) bool, true only
    on an episode's last row. `metadata` keeps plain values: env_id, env_spec (gymnasium's EnvSpec
    JSON of the env as recorded: its kwargs and wrappers), expert_return (the recording policy's mean
    return), random_return (a uniformly random policy's), and whatever the source had.
    """

    observations: np.ndarray
    actions: np.ndarray
    next_observations: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    lengths: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.observations)
        sizes = {k: len(getattr(self, k)) for k in ("actions", "next_observations", "rewards", "terminations",
                                                     "truncations")}
        if any(s != n for s in sizes.values()) or int(np.sum(self.lengths)) != n:
            raise RlgenError(f"demos: {n} observations but {sizes} and episode lengths summing to "
                             f"{int(np.sum(self.lengths))}; every array needs one row per transition")
        if n == 0:
            raise RlgenError("demos: no transitions")

    @property
    def n_episodes(self) -> int:
        return len(self.lengths)

    @property
    def offsets(self) -> np.ndarray:
        """(E + 1,) row where each episode starts, then N."""
        return np.concatenate([[0], np.cumsum(self.lengths)]).astype(np.int64)

    @property
    def episode_returns(self) -> np.ndarray:
        """(E,) undiscounted return of each episode."""
        return np.add.reduceat(self.rewards.astype(np.float64), self.offsets[:-1])

    def select(self, episodes: np.ndarray | list[int]) -> Demos:
        """The given episodes, in the given order."""
        off = self.offsets
        rows = np.concatenate([np.arange(off[i], off[i + 1]) for i in episodes]).astype(np.int64)
        arrays = {k: getattr(self, k)[rows] for k in ("observations", "actions", "next_observations", "rewards",
                                                      "terminations", "truncations")}
        return Demos(**arrays, lengths=self.lengths[list(episodes)], metadata=dict(self.metadata))

    def first(self, n: int | None) -> Demos:
        """The first `n` episodes (all of them for None)."""
        if n is None or n == self.n_episodes:
            return self
        if n > self.n_episodes:
            raise RlgenError(f"demos: {n} episodes asked for, but the demos hold only {self.n_episodes}; "
                             f"record more with `rlgen record RUN_DIR --episodes {n} --out DIR`")
        return self.select(list(range(n)))

    @property
    def references(self) -> dict[str, float | None]:
        """The returns an expert ratio is measured between: the expert's (its episodes' mean when
        the metadata has none) and a random policy's (None when unknown)."""
        expert = self.metadata.get("expert_return")
        expert = float(self.episode_returns.mean()) if expert is None else float(expert)
        low = self.metadata.get("random_return")
        return {"expert_return": expert, "random_return": None if low is None else float(low)}

    def score(self, returns: float) -> float:
        """The expert ratio of a mean return (`expert_ratio`)."""
        return expert_ratio(returns, **self.references)

    def with_metadata(self, **values: Any) -> Demos:
        return replace(self, metadata={**self.metadata, **values})


# The metadata an expert ratio is measured between (`Demos.references`)
REFERENCES = {"expert_return": "the expert's mean return", "random_return": "a random policy's mean return"}


def reference_problem(value: Any) -> str | None:
    """Why `value` (a reference return of the demos' metadata, `REFERENCES`, or Minari's ref_max_score /
    ref_min_score) is not one finite number; None when it is. NaN and infinity are refused, as in the
    config's demos.expert_return: every expert ratio measured against them is nan, 0 or inf."""
    if isinstance(value, (np.ndarray, np.generic)):  # a numpy scalar or an array of one value is one number
        if value.size != 1:
            return f"is an array of shape {value.shape}, not one number"
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"is {value!r} ({type(value).__name__}), not a number"
    if not math.isfinite(value):
        return f"is {value}, not a finite number"
    return None


def expert_ratio(returns: float, expert_return: float, random_return: float | None = None) -> float:
    """(R - random) / (expert - random), D4RL's and Minari's normalized score, when the random
    policy's return is known; else R / expert for a positive expert return. NaN where neither is
    defined: an expert no better than random has no scale to measure by, and R / expert turns
    over for negative returns (-100 against an expert's -200 would score 0.5)."""
    if random_return is None:
        return float(returns) / float(expert_return) if expert_return > 0 else float("nan")
    if expert_return == random_return:
        return float("nan")
    return (float(returns) - float(random_return)) / (float(expert_return) - float(random_return))


# --- reading and writing: the formats of rlgen.registry.DEMOS -------------------------------------


def demo_format(name: str) -> Any:
    """The format registered as `name` (an object with `matches`, `read` and `write`)."""
    fmt = DEMOS.get(name)
    return fmt() if isinstance(fmt, type) else fmt


def format_of(path: str | Path) -> str:
    """The name of the first registered format that recognises `path`. A format that cannot be
    loaded, or whose `matches` raises (a plugin's that opens a path that is not there), is skipped
    with a one-line warning (once per format): a broken plugin format never stops the others."""
    for name in DEMOS.names():
        try:
            if demo_format(name).matches(Path(path)):
                return name
        except Exception as e:  # noqa: BLE001 - whatever a plugin's matches() raises
            _skipped(name, path, e)
    if not Path(path).exists():
        raise RlgenError(f"demos not found: {path} (no file, directory or local Minari dataset of that name); "
                         "record them with `rlgen record RUN_DIR --episodes N --out DIR`")
    raise RlgenError(f"demos {path}: no demo format recognises it; known formats: {', '.join(DEMOS.names())} "
                     "(a Minari dataset directory or a .npz file)")


_warned_formats: set[str] = set()


def _skipped(name: str, path: str | Path, error: Exception) -> None:
    """Warn, once per format, that `name` was left out while finding the format of `path`."""
    if name in _warned_formats:
        return
    _warned_formats.add(name)
    if isinstance(error, RlgenError):  # it cannot be loaded, or is of the wrong shape: the message names it
        reason = str(error)
    else:
        entry = DEMOS.entry(name)
        where = f" {entry.source}" if entry is not None else ""
        reason = (f"demo format {name!r}{where}: its matches({str(path)!r}) raised "
                  f"{type(error).__name__}: {first_line(error)}")
    warnings.warn(f"{reason}; skipped when finding a demos path's format", RlgenWarning, stacklevel=3)


def read_demos(path: str | Path, fmt: str = "auto") -> Demos:
    """Demos from a local file or directory (or a local Minari dataset id); `fmt` names the format."""
    name = format_of(path) if fmt == "auto" else fmt
    try:
        demos = demo_format(name).read(Path(path))
    except RlgenError as e:  # a plugin format's reader (or `Demos`' own check) may not say which demos
        if str(path) in str(e):
            raise
        raise RlgenError(f"demos {path}: {str(e).removeprefix('demos: ')}") from None
    except Exception as e:  # noqa: BLE001 - whatever a plugin format's reader raises on a file it cannot read
        raise RlgenError(f"demos {path}: format {name!r} could not read it: {type(e).__name__}: "
                         f"{first_line(e)}") from e
    if problem := _metadata_problem(demos.metadata):
        raise RlgenError(f"demos {path}: metadata {problem}: fix or remove it")
    return demos.with_metadata(source=str(path), format=name)


def _metadata_problem(metadata: dict[str, Any]) -> str | None:
    """What in a format's metadata the expert ratio and the comparison with a run's env cannot use: a
    reference return that is not one finite number, an env_spec that is no readable EnvSpec JSON.
    rlgen's own formats refuse these while reading, naming their key; this catches a plugin's."""
    from rlgen.envs.env_specs import env_spec_shape_problem

    for key, what in REFERENCES.items():
        if (value := metadata.get(key)) is not None and (problem := reference_problem(value)):
            return f"{key} {problem}; it holds {what}"
    if (spec := metadata.get("env_spec")) is not None and (problem := env_spec_shape_problem(spec)):
        return f"env_spec is not a readable EnvSpec JSON: {problem}"
    return None


def written_format(path: str | Path, fmt: str = "auto") -> str:
    """The format `write_demos(demos, path, fmt)` writes: `auto` is npz for a `.npz` path, else minari."""
    return ("npz" if Path(path).suffix == ".npz" else "minari") if fmt == "auto" else fmt


def write_demos(demos: Demos, path: str | Path, fmt: str = "auto", *, env_id: str | None = None,
                observation_space: gym.Space | None = None, action_space: gym.Space | None = None) -> Path:
    """Write `demos` to `path`: `auto` is npz for a `.npz` path and minari otherwise."""
    path = Path(path)
    name = check_demos_target(path, fmt)
    demo_format(name).write(demos, path, env_id=env_id, observation_space=observation_space,
                            action_space=action_space)
    return path


def check_demos_target(path: str | Path, fmt: str = "auto") -> str:
    """What `write_demos(..., path, fmt)` would refuse, checked before anything is recorded: a path
    that exists already, a Minari dataset folder that makes no Minari id. Returns the format."""
    path = Path(path)
    name = written_format(path, fmt)
    if path.exists() and (path.is_file() or any(path.iterdir())):
        raise RlgenError(f"{path} exists already; demos are never overwritten: choose another --out or delete it")
    if name == "minari":
        from rlgen.envs.demo_formats import minari_dataset_id

        minari_dataset_id(path)
    return name


# --- recording ------------------------------------------------------------------------------------


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


def env_spec_metadata(env: gym.Env) -> dict[str, Any]:
    """The env as made, for demos' metadata: `env_spec`, gymnasium's EnvSpec JSON (id, kwargs and
    the `additional_wrappers` gymnasium tracks), from which `gymnasium.make(EnvSpec.from_json(...))`
    (Minari's `recover_environment`) builds the same env. What cannot be kept, wrappers that do not
    record their arguments (gymnasium's `RecordConstructorArgs`) or arguments that are not JSON, is
    left out and named in `env_spec_lacks` (an entry point's own wrappers only when others follow:
    alone, they come back with the id); {} when gymnasium knows no spec of the env."""
    spec = env.spec
    if spec is None:
        return {}
    # the entry point's own wrappers come back from the id alone; gymnasium compares them with the spec's
    # first wrappers when wrappers of the env's config follow, so only then must they be kept
    judged = spec.additional_wrappers if len(spec.additional_wrappers) > len(_entry_point_wrappers(spec)) else ()
    lacks = [f"wrapper {w.name}" for w in judged if w.kwargs is None or not _jsonable(w.kwargs)]
    lacks += [f"kwarg {k}={v!r}" for k, v in spec.kwargs.items() if not _jsonable(v)]
    kept = dataclasses.replace(
        without_step_cap(spec), kwargs={k: v for k, v in spec.kwargs.items() if _jsonable(v)},
        additional_wrappers=tuple(w for w in spec.additional_wrappers if w.kwargs is not None and _jsonable(w.kwargs)))
    try:
        text = kept.to_json()
    except (TypeError, ValueError):  # a callable entry point (gym.register(..., entry_point=SomeClass))
        return {"env_spec_lacks": f"{spec.id} itself (registered with a class, not an import string, as its entry point)"}
    return {"env_spec": text, **({"env_spec_lacks": ", ".join(lacks)} if lacks else {})}


def _entry_point_wrappers(spec: EnvSpec) -> tuple[WrapperSpec, ...]:
    """The wrappers the env's entry point applies itself (rlgen/CartPoleNoVel-v1's HideEntries):
    the first of `spec.additional_wrappers`, those `gymnasium.make` of the spec without them yields."""
    if not spec.additional_wrappers:
        return ()  # none to tell apart: no env is made
    bare = gym.make(dataclasses.replace(spec, additional_wrappers=()), disable_env_checker=True)
    try:
        return bare.spec.additional_wrappers if bare.spec is not None else ()
    finally:
        bare.close()


def without_step_cap(spec: EnvSpec) -> EnvSpec:
    """`spec` with the env's own step limit: the EPISODE_STEP_CAP that `step_capped` gives an env
    registered without a limit (so that evaluation and `rlgen record` end) is rlgen's, not the
    env's, and Minari's `recover_environment()` would wrap the env in a TimeLimit of it."""
    registered = gym.registry.get(spec.id)
    if spec.max_episode_steps != EPISODE_STEP_CAP or registered is None or registered.max_episode_steps is not None:
        return spec
    return dataclasses.replace(spec, max_episode_steps=None)


# recording moved to rlgen.envs.recording, which reads this module's Demos: its names are still found here
_RECORDING = ("Policy", "record_episodes", "random_return", "gym_mask")


def __getattr__(name: str) -> Any:
    if name in _RECORDING:
        from rlgen.envs import recording

        return getattr(recording, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
