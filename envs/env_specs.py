"""Env specs kept with demonstrations (`EnvSpec.to_json()` text in a Minari dataset's or an npz's
metadata), read as plain JSON: whether they can be read (`env_spec_shape_problem`), and whether
`gymnasium.make` could build one without running code the file names (`env_spec_problem`)."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
from gymnasium.envs.registration import EnvSpec

from rlgen.errors import RlgenError, first_line
from rlgen.registry import WRAPPERS, is_import_path, resolve

# Where the classes an env spec's `additional_wrappers` may name live: gymnasium.make imports and
# calls each with the env and the spec's kwargs. Others must be in rlgen's wrapper registry.
_WRAPPER_MODULES = ("gymnasium.", "stable_baselines3.")


def env_spec_problem(text: Any) -> str | None:
    """What makes an EnvSpec JSON (`EnvSpec.to_json()`) unsafe for `gymnasium.make`, which imports
    and calls the entry points it names, or unreadable (`env_spec_shape_problem`); None when safe.
    Safe: the id is a registered gymnasium id whose registered entry point (and vector entry point)
    is the one in the spec, or the spec names none; every additional wrapper is a gymnasium or SB3
    wrapper class or one in rlgen's wrapper registry (`rlgen.registry.WRAPPERS`: rlgen's and
    installed plugins')."""
    if problem := env_spec_shape_problem(text):
        return problem
    spec = json.loads(text)
    env_id = spec["id"]
    for key in ("entry_point", "vector_entry_point"):
        named = spec.get(key)
        if named is None:
            continue
        registered = _registered_spec(env_id)
        if registered is None:
            return (f"{key} {named!r} for {env_id!r}, which is not a registered gymnasium id (install or import "
                    "the package that registers it)")
        ours = getattr(registered, key)
        if named != ours:
            ours = ours if ours is None or isinstance(ours, str) else f"<{type(ours).__name__}>"
            return f"{key} {named!r} for {env_id!r}, but its registered {key} is {ours!r}"
    for wrapper in spec.get("additional_wrappers") or []:
        if problem := _wrapper_problem(named := wrapper.get("entry_point")):
            return f"additional wrapper {named!r}: {problem}"
    return None


def env_spec_shape_problem(text: Any) -> str | None:
    """What keeps `text` from being an EnvSpec JSON whose id, kwargs, wrappers and time limit can be
    read (`rlgen.agents.imitation.data` compares them with a run's env); None when it is one. An npz's
    env_spec is checked only so (nothing builds an env from it); a Minari dataset's is also checked
    for what it would run (`env_spec_problem`)."""
    try:
        spec = json.loads(text, object_pairs_hook=_unique_keys) if isinstance(text, str) else None
    except ValueError as e:
        return f"not JSON without repeated keys ({first_line(e)})"
    if not isinstance(spec, dict):
        return "not an EnvSpec JSON object"
    if not isinstance(spec.get("id"), str):
        return f"its id {spec.get('id')!r} is not a string"
    if not isinstance(spec.get("kwargs") or {}, dict):
        return f"its kwargs {spec['kwargs']!r} are not an object"
    steps = spec.get("max_episode_steps")
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int)):
        return f"its max_episode_steps {steps!r} is not a whole number"
    wrappers = spec.get("additional_wrappers") or []
    if not isinstance(wrappers, list):
        return "additional_wrappers is not a list"
    for i, wrapper in enumerate(wrappers):
        if not (isinstance(wrapper, dict) and isinstance(wrapper.get("name"), str)
                and isinstance(wrapper.get("kwargs") or {}, dict)):
            return f"additional_wrappers[{i}] {wrapper!r} is not a wrapper spec (an object with a name and kwargs)"
    return None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are each given once: with a key twice, what one reader of the text
    sees (the last) may not be what another does."""
    keys = [k for k, _ in pairs]
    if twice := sorted({k for k in keys if keys.count(k) > 1}):
        raise ValueError(f"key {twice[0]!r} appears twice")
    return dict(pairs)


def _registered_spec(env_id: str) -> EnvSpec | None:
    """gymnasium's registered spec of `env_id` (after rlgen's env packages register theirs); None
    when unknown. An id naming a module (`mod:Env-v0`) is never imported."""
    if ":" in env_id:
        return None
    from rlgen.envs import ensure_registered

    try:
        env_id = ensure_registered(env_id)  # no module is named: only env packages and ale_py are imported
    except RlgenError:
        return None
    return gym.registry.get(env_id)


def _wrapper_problem(entry_point: Any) -> str | None:
    """None when `entry_point` (`module:Class`) is a gymnasium or SB3 wrapper class, or a wrapper
    in rlgen's wrapper registry; else what it is."""
    if not isinstance(entry_point, str) or not is_import_path(entry_point):
        return "not an import path module:Class"
    if entry_point.startswith(_WRAPPER_MODULES):
        try:
            obj = resolve(entry_point)  # gymnasium's or SB3's own module: importing it runs nothing of the file's
        except RlgenError as e:
            return first_line(e)
        return None if isinstance(obj, type) and issubclass(obj, gym.Wrapper) else "not a gymnasium wrapper class"
    for entry in WRAPPERS.entries():  # names that rlgen and installed plugins register
        if entry.target == entry_point:
            return None
        try:
            obj = entry.load()
        except RlgenError:
            continue
        if isinstance(obj, type) and f"{obj.__module__}:{obj.__qualname__}" == entry_point:
            return None
    return "neither a gymnasium nor a stable_baselines3 wrapper, nor one in rlgen's wrapper registry (`rlgen list`)"
