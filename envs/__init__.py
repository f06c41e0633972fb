"""What agents act in or learn from: gymnasium env construction and checks.

`make_env_fn` turns an env id, `gymnasium.make` kwargs and a list of wrappers named by their
gymnasium class names into a thunk that builds one env. `check_env_id` tells, before anything heavy
starts, whether an id exists, with a suggestion when it does not.
"""

from __future__ import annotations

import difflib
import importlib
from typing import Any, Callable, Mapping, Sequence

import gymnasium as gym

from rlgen.errors import RlgenError

WrapperSpec = str | Mapping[str, Mapping[str, Any]]

# Env id prefixes whose registration lives in a package that must be imported first.
_NAMESPACES = {"ALE/": "ale_py", "rlgen/": "rlgen.envs.registration"}


def ensure_registered(env_id: str) -> None:
    """Import the package that registers `env_id`'s namespace (ale_py for ALE/..., ours for rlgen/...)."""
    for prefix, module in _NAMESPACES.items():
        if env_id.startswith(prefix):
            try:
                mod = importlib.import_module(module)
            except ImportError as e:
                extra = "pip install 'rlgen[atari]'" if module == "ale_py" else "reinstall rlgen"
                raise RlgenError(f"env {env_id!r} needs the {module} package ({e}); {extra}") from None
            if module == "ale_py":
                gym.register_envs(mod)


def check_env_id(env_id: str) -> str | None:
    """None when `env_id` is registered, otherwise a one-line problem with a suggestion."""
    try:
        ensure_registered(env_id)
    except RlgenError as e:
        return str(e)
    if env_id in gym.registry:
        return None
    close = difflib.get_close_matches(env_id, list(gym.registry), n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return f"unknown gymnasium env id {env_id!r}{hint}; `rlgen list` shows the registered ids"


def resolve_wrapper(spec: WrapperSpec) -> tuple[type[gym.Wrapper], dict[str, Any]]:
    """A wrapper named by its gymnasium class name, alone or as {Name: {kwargs}}."""
    if isinstance(spec, str):
        name, kwargs = spec, {}
    else:
        if len(spec) != 1:
            raise RlgenError(f"a wrapper entry must be a name or {{Name: {{kwargs}}}}, got {dict(spec)!r}")
        (name, kwargs), = spec.items()
    cls = _own_wrappers().get(name) or getattr(gym.wrappers, name, None)
    if not (isinstance(cls, type) and issubclass(cls, gym.Wrapper)):
        known = [*_own_wrappers(), *(n for n in dir(gym.wrappers) if isinstance(getattr(gym.wrappers, n), type)
                                     and issubclass(getattr(gym.wrappers, n), gym.Wrapper))]
        close = difflib.get_close_matches(name, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RlgenError(f"unknown wrapper {name!r}{hint}; use a gymnasium.wrappers class name or one of rlgen's: "
                         f"{', '.join(_own_wrappers())}")
    return cls, dict(kwargs or {})


def _own_wrappers() -> dict[str, type[gym.Wrapper]]:
    """rlgen's wrappers, usable by name in env.wrappers like gymnasium's."""
    from rlgen.envs.pomdp import HideEntries

    return {"HideEntries": HideEntries}


def make_env_fn(
    env_id: str,
    kwargs: Mapping[str, Any] | None = None,
    wrappers: Sequence[WrapperSpec] = (),
    render_mode: str | None = None,
) -> Callable[[], gym.Env]:
    """A picklable-enough thunk building one env (SubprocVecEnv pickles it with cloudpickle)."""
    resolved = [resolve_wrapper(w) for w in wrappers]  # fail here, in the parent, not in a worker
    make_kwargs = dict(kwargs or {})
    if render_mode is not None:
        make_kwargs["render_mode"] = render_mode

    def thunk() -> gym.Env:
        ensure_registered(env_id)
        env = gym.make(env_id, **make_kwargs)
        for cls, wkw in resolved:
            env = cls(env, **wkw)
        return env

    return thunk
