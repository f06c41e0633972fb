"""What agents act in or learn from: gymnasium env construction and checks.

`make_env_fn` turns an env id, `gymnasium.make` kwargs and a list of wrappers (gymnasium class
names, registered names, or import paths) into a thunk that builds one env. `check_env_id` tells,
before anything heavy starts, whether an id exists, with a suggestion when it does not.

Env ids come from gymnasium's registry, after every `rlgen.envs` entry point has been imported
(rlgen's own `rlgen/...` ids arrive that way, and so do a plugin's). gymnasium's own form
`mypkg.envs:MyEnv-v0` imports `mypkg.envs` first, so a user's module registers its ids itself.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import inspect
import re
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym
import numpy as np

from rlgen.envs.pixels import RgbRender
from rlgen.errors import RlgenError
from rlgen.registry import WRAPPERS, check_import_allowed, import_failed, is_import_path, load_env_packages

WrapperSpec = str | Mapping[str, Mapping[str, Any]]
# observation spaces SB3's policies take as arrays (a Dict or Tuple needs FlattenObservation first)
FLAT_SPACES = (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)


def nonzero_start(space: gym.Space) -> gym.Space | None:
    """The first Discrete or MultiDiscrete in `space` (itself, or an entry of a Dict or Tuple at any
    depth) whose choices are not numbered from 0, or None. SB3 takes a choice as an index 0..n-1
    whatever the start (its env_checker only warns): PPO sends actions 0..n-1, DQN indexes past its
    Q-values, and one-hot observations fail."""
    if isinstance(space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete)):
        return space if np.any(np.asarray(space.start) != 0) else None
    if isinstance(space, (gym.spaces.Dict, gym.spaces.Tuple)):
        inner = space.spaces.values() if isinstance(space, gym.spaces.Dict) else space.spaces
        return next((found for s in inner if (found := nonzero_start(s)) is not None), None)
    return None


def shown_space(space: gym.Space) -> str:
    """`space` on one line: a MultiDiscrete prints its arrays with runs of spaces and line breaks."""
    return " ".join(str(space).split())


def ensure_registered(env_id: str) -> str:
    """Make `env_id` known to gymnasium: rlgen's env packages, ale_py for ALE/..., the module of a
    `module:EnvId` id. Returns the id as gymnasium's registry knows it."""
    load_env_packages()
    if env_id.startswith("ALE/"):
        try:
            gym.register_envs(importlib.import_module("ale_py"))
        except ImportError as e:
            raise RlgenError(f"env {env_id!r} needs the ale_py package ({e}); pip install 'rlgen[atari]'") from None
    elif ":" not in env_id and env_id not in gym.registry and importlib.util.find_spec("ale_py") is not None:
        gym.register_envs(importlib.import_module("ale_py"))  # its older ids too: PongNoFrameskip-v4 (rl-zoo3's)
    if env_id.startswith("MinAtar/") and importlib.util.find_spec("minatar") is None:
        raise RlgenError(f"env {env_id!r} needs the minatar package; pip install 'rlgen[minatar]'")
    module, sep, bare = env_id.partition(":")
    if sep:
        check_import_allowed(env_id)
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise RlgenError(f"env {env_id!r}: cannot import {module!r} ({e}); is the package installed?") from None
        except Exception as e:  # noqa: BLE001 - the module itself is broken
            raise import_failed(module, f"env {env_id!r}", e) from e
        env_id = bare
    _check_extra(env_id)
    return env_id


# gymnasium's env families whose packages come with an rlgen extra: the entry point's module
# prefix -> (the module they import, the extra); gymnasium's own message would name its extras
_EXTRAS = {"gymnasium.envs.box2d.": ("Box2D", "box2d"), "gymnasium.envs.mujoco.": ("mujoco", "mujoco")}


def _check_extra(env_id: str) -> None:
    """RlgenError naming rlgen's extra when `env_id` is one of gymnasium's box2d or mujoco envs
    and the package it needs is not installed."""
    spec = gym.registry.get(env_id)
    entry = spec.entry_point if spec is not None else None
    if not isinstance(entry, str):
        return
    for prefix, (package, extra) in _EXTRAS.items():
        if entry.startswith(prefix) and importlib.util.find_spec(package) is None:
            raise RlgenError(f"env {env_id!r} needs the {package} package, which is not installed; "
                             f"pip install 'rlgen[{extra}]'")


def check_env_id(env_id: str) -> str | None:
    """None when `env_id` is registered, otherwise a one-line problem with a suggestion."""
    try:
        env_id = ensure_registered(env_id)
    except RlgenError as e:
        return str(e)
    if env_id in gym.registry:
        return None
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return f"unknown gymnasium env id {env_id!r}{hint}; `rlgen list` shows the registered ids"


EPISODE_STEP_CAP = 27_000  # ALE's own cap (108k frames at frameskip 4), for envs with none


def step_capped(env_id: str, kwargs: Mapping[str, Any], wrappers: Sequence[WrapperSpec]) -> dict[str, Any]:
    """`kwargs`, plus `max_episode_steps: EPISODE_STEP_CAP` when the env has no step limit of its
    own and `wrappers` add none (CliffWalking's random walk can last forever): what evaluation and
    `rlgen record` play, so that they always end. `gymnasium.make` puts that TimeLimit on the env
    itself, inside Monitor, which then reports the cut episode."""
    names = map(wrapper_name, wrappers)
    own = kwargs.get("max_episode_steps") is not None  # null sets none (gymnasium.make adds no TimeLimit)
    if own or any(str(n).split(":")[-1].split(".")[-1] == "TimeLimit" for n in names):
        return dict(kwargs)
    try:
        limit = gym.spec(ensure_registered(env_id)).max_episode_steps
    except Exception:  # noqa: BLE001 - an id gymnasium cannot look up is reported where the env is made
        return dict(kwargs)
    return dict(kwargs) if limit is not None else {**kwargs, "max_episode_steps": EPISODE_STEP_CAP}


def wrapper_name(spec: WrapperSpec) -> str:
    """The name a wrapper entry gives: itself, or the key of {Name: {kwargs}}."""
    return spec if isinstance(spec, str) else next(iter(spec), "")


def resolve_wrapper(spec: WrapperSpec) -> tuple[Callable[..., gym.Env], dict[str, Any]]:
    """A wrapper by name (gymnasium's class names, registered names, import paths), alone or as
    {Name: {kwargs}}."""
    if isinstance(spec, str):
        name, kwargs = spec, {}
    else:
        if len(spec) != 1:
            raise RlgenError(f"a wrapper entry must be a name or {{Name: {{kwargs}}}}, got {dict(spec)!r}")
        (name, kwargs), = spec.items()
    try:
        cls = WRAPPERS.get(name)
    except RlgenError:
        if is_import_path(name) or name in WRAPPERS.names():
            raise  # what stood in the way (the --trust opt-in, a plugin that does not import), not "unknown"
        known = [*WRAPPERS.names(), *(n for n in dir(gym.wrappers) if isinstance(getattr(gym.wrappers, n), type)
                                      and issubclass(getattr(gym.wrappers, n), gym.Wrapper))]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RlgenError(f"unknown wrapper {name!r}{hint}; use a gymnasium.wrappers class name, a registered "
                         f"one ({', '.join(WRAPPERS.names())}) or an import path package.module:Class") from None
    if not callable(cls):
        raise RlgenError(f"wrapper {name!r} is a {type(cls).__name__}, not a wrapper class or function")
    return cls, dict(kwargs or {})


# what a wrapper argument's annotation says it takes in place of the list YAML gives: gymnasium's
# wrappers check `isinstance(shape, tuple)` (ResizeObservation, ReshapeObservation) or take numpy
# bounds (RescaleAction, RescaleObservation), and YAML has neither tuples nor arrays
_TAKES_LIST = re.compile(r"\b(list|List|Sequence|MutableSequence|Iterable|Collection|Any|ArrayLike)\b")
_TAKES_ARRAY = re.compile(r"\b(ndarray|NDArray)\b")
_TAKES_TUPLE = re.compile(r"\b(tuple|Tuple)\b")


def typed_wrapper_kwargs(wrapper: Callable[..., gym.Env], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`kwargs` with each list turned into what the wrapper's signature annotates: a tuple (nested
    lists too) where it takes a tuple, a numpy array (float32 for floats, SB3's and gymnasium's Box
    dtype) where it takes an array. Lists stay lists where the annotation takes a list or a sequence,
    or says nothing."""
    try:
        try:  # string annotations (`from __future__ import annotations`) evaluated: a type alias reads as its type
            params = inspect.signature(wrapper, eval_str=True).parameters
        except NameError:  # a hint naming what the wrapper's module does not import: read as written
            params = inspect.signature(wrapper).parameters
    except (TypeError, ValueError):  # a builtin or C callable: nothing to read
        return dict(kwargs)
    typed = {}
    for key, value in kwargs.items():
        param = params.get(key)
        annotation = param.annotation if param is not None else inspect.Parameter.empty
        if not isinstance(value, list) or annotation is inspect.Parameter.empty:
            typed[key] = value
            continue
        text = annotation if isinstance(annotation, str) else repr(annotation)  # "<class 'tuple'>", "tuple[int, int]"
        if _TAKES_LIST.search(text):
            typed[key] = value
        elif _TAKES_ARRAY.search(text):
            array = np.asarray(value)
            typed[key] = array.astype(np.float32) if array.dtype.kind == "f" else array
        elif _TAKES_TUPLE.search(text):
            typed[key] = _as_tuple(value)
        else:
            typed[key] = value
    return typed


def _as_tuple(value: Any) -> Any:
    return tuple(_as_tuple(v) for v in value) if isinstance(value, list) else value


def make_env_fn(
    env_id: str,
    kwargs: Mapping[str, Any] | None = None,
    wrappers: Sequence[WrapperSpec] = (),
    render_mode: str | None = None,
    monitor: Callable[[gym.Env], gym.Env] | None = None,
) -> Callable[[], gym.Env]:
    """A picklable-enough thunk building one env (SubprocVecEnv pickles it with cloudpickle).
    `monitor` (SB3's Monitor, say) wraps the env itself, inside `wrappers`, as SB3's and rl-zoo3's
    `make_vec_env(..., wrapper_class=...)` place it: it sees the env's own episodes and rewards.
    With `render_mode="rgb_array"` (filming an episode) RecordVideo films through `RgbRender`, right
    beneath it: uint8 RGB frames of a size a player shows (MinAtar renders 10x10 floats), while the
    wrappers beneath (one that observes the render, say) get the env's own frames."""
    # resolved here, in the parent, so that a bad name fails here and not in a worker; the config
    # keeps its YAML lists (rl-zoo's config.yml is written from it), the wrapper gets its types
    resolved = [(wrapper_name(spec), cls, typed_wrapper_kwargs(cls, kw))
                for spec, (cls, kw) in zip(wrappers, map(resolve_wrapper, wrappers))]
    make_kwargs = dict(kwargs or {})
    if render_mode is not None:
        make_kwargs["render_mode"] = render_mode

    def thunk() -> gym.Env:
        env = gym.make(ensure_registered(env_id), **make_kwargs)
        if monitor is not None:
            env = monitor(env)
        for name, cls, wkw in resolved:
            if render_mode == "rgb_array" and cls is gym.wrappers.RecordVideo:
                env = RgbRender(env)
            env = cls(env, **wkw)
            if not isinstance(env, gym.Env):  # else the next wrapper, or SB3, fails on it far from here
                raise RlgenError(f"wrapper {name!r} returned a {type(env).__name__}, not a gymnasium env: a "
                                 "wrapper takes the env and returns it wrapped (a gymnasium.Wrapper)")
        return env

    return thunk
