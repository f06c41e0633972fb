"""Every table of names in rlgen: experiment kinds, data sources, games, backbones, wrappers, demo formats,
env packages.

A registry maps a name to a target: an object, or a `module:attr` import path resolved when first
used. It fills itself from three places, in this order of precedence:

1. `register(name, target)` in code (a script or a test);
2. entry points of installed packages, in the registry's group (`rlgen.kinds`, `rlgen.sources`, ...):
   rlgen's own built-ins arrive this way too, from its pyproject.toml, exactly as a plugin's do.
   When two distributions register one name, rlgen's own entry wins; between two plugins, the one
   whose distribution name sorts first. The other is ignored with a one-line warning naming both,
   whatever the order in which the installed packages are found (importlib.metadata follows the
   order of the files in site-packages). A plugin's name that a table takes from a package of its
   own (gymnasium's wrappers by class name, pettingzoo.classic's games) stays that package's, the
   same way;
3. an import path used directly as the name (`kind: mypkg.kinds:MyKind` in a config).

    from rlgen.registry import SOURCES
    SOURCES.register("spiral", "mypkg.shapes:Spiral")
    source_cls = SOURCES.get("spiral")            # or SOURCES.get("mypkg.shapes:Spiral")

An unknown name raises `RlgenError` listing the known names, with a "did you mean". A plugin whose
entry point fails to import never stops rlgen: it is loaded only when used, `rlgen list` shows it
with the reason it cannot be loaded, and using it raises that reason as a readable error. Each
table checks the shape of what a name resolves to (a kind is a class with the protocol's methods
and an ExperimentConfig model, a demo format has matches, read and write, ...): a registered int
fails when its name is resolved, in config validation, with one line saying what the table needs.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
import types
import warnings
from importlib import metadata
from typing import Any, Callable, Iterator

from rlgen.errors import RlgenError, RlgenWarning, first_line
from rlgen.registry_entry import Entry, check_import_allowed, import_failed, is_import_path, resolve
from rlgen.registry_entry import describe, registered_names_only  # noqa: F401 (re-exported for users)


def _canonical(dist_name: str) -> str:
    """A distribution's name as packaging compares them (`My_Plugin` == `my-plugin`)."""
    return re.sub(r"[-_.]+", "-", dist_name).lower()


def _precedence(origin: str) -> tuple[bool, str]:
    """Which of two distributions' entries for one name wins (the smaller): rlgen's own, then by name."""
    return _canonical(origin) != "rlgen", _canonical(origin)


class Registry:
    """A table of names -> targets for one kind of thing (see the module docstring). `check(obj)`:
    what is wrong with a resolved object for this table, as a predicate ("is a int, not a wrapper
    class or function"), or None; applied to entries and import paths, not to the fallback."""

    def __init__(self, what: str, group: str, *, fallback: Callable[[str], Any] | None = None,
                 fallback_note: str = "", fallback_origin: str = "", check: Callable[[Any], str | None] | None = None):
        self.what = what  # "data source", used in messages
        self.group = group  # the entry-point group plugins declare
        self._entries: dict[str, Entry] = {}
        self._discovered = False
        # names a registry accepts beyond its entries (gymnasium's wrappers by class name): -> obj or None
        self._fallback = fallback
        self._fallback_note = fallback_note
        self._fallback_origin = fallback_origin  # the package whose names the fallback gives, for messages
        self._check = check

    # --- filling ---

    def register(self, name: str, target: Any = None, *, replace: bool = False) -> Any:
        """Add `name`; usable as a decorator (`@REG.register("name")`). An existing name raises
        unless `replace=True`, so two plugins never silently shadow each other."""
        if target is None:
            return lambda obj: self.register(name, obj, replace=replace) or obj
        self._discover()
        if name in self._entries and not replace:
            raise RlgenError(f"{self.what} {name!r} is already registered (from {self._entries[name].origin}); "
                             "pass replace=True to override it")
        self._entries[name] = Entry(name, target, "code", check=self._check)
        return target

    def unregister(self, name: str) -> None:
        self._entries.pop(name, None)

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        found = []
        for ep in metadata.entry_points(group=self.group):
            dist = getattr(ep, "dist", None)
            name = getattr(dist, "name", None) if dist is not None else None
            found.append((name if isinstance(name, str) and name else "an entry point", ep))
        # importlib.metadata yields distributions in the order of the files in site-packages, which
        # no one chooses: a clash is settled by who registers, never by that order. rlgen's own
        # first, then by distribution name (the sort is stable: one distribution keeps its order)
        found.sort(key=lambda item: _precedence(item[0]))
        for origin, ep in found:
            kept = self._entries.get(ep.name)
            if kept is not None and kept.origin == origin and kept.target == ep.value:
                continue  # one distribution found twice on the path: the same entry
            if kept is not None:
                kept_by = kept.origin
            elif _canonical(origin) != "rlgen" and self._fallback_takes(ep.name):
                kept_by = self._fallback_origin  # gymnasium's ClipReward stays gymnasium's, as its env ids do
            else:
                self._entries[ep.name] = Entry(ep.name, ep.value, origin, check=self._check)
                continue
            warnings.warn(f"{self.what} {ep.name!r} from {origin} ignored: {kept_by} registers the same name",
                          RlgenWarning, stacklevel=2)

    def _fallback_takes(self, name: str) -> bool:
        """Whether the fallback gives `name` (or would, were the package it needs installed). Only a
        plain name is asked: a dotted one would be imported as a module path."""
        if self._fallback is None or not name.isidentifier():
            return False
        try:
            found = self._fallback(name)
        except RlgenError:  # its name, not loadable here (a game whose package is missing)
            return True
        except Exception:  # noqa: BLE001 - a lazily imported gymnasium wrapper whose dependency is missing
            return False
        # a name the fallback finds but could not use (pettingzoo.classic's `tictactoe` package, not a game) is free
        return found is not None and (self._check is None or self._check(found) is None)

    # --- reading ---

    def names(self) -> list[str]:
        self._discover()
        return list(self._entries)

    def entries(self) -> Iterator[Entry]:
        self._discover()
        return iter(list(self._entries.values()))

    def entry(self, name: str) -> Entry | None:
        """The entry registered as `name` (None for an import path, a fallback or an unknown name)."""
        self._discover()
        return self._entries.get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.problem(name) is None

    def problem(self, name: str) -> str | None:
        """None when `name` resolves, else one line saying what is wrong and what is known."""
        try:
            self.get(name)
        except RlgenError as e:
            return str(e)
        return None

    def get(self, name: str) -> Any:
        """The object registered as `name`, or at the import path `name`."""
        self._discover()
        if not isinstance(name, str):
            raise RlgenError(f"a {self.what} is named by a string, got {name!r}")
        # an entry's own target (`pettingzoo.classic.tictactoe_v3`) is that entry: an installed package
        # registers it, so it needs no --trust, as its name does not
        entry = self._entries.get(name) or self._entry_with_target(name)
        if entry is not None:
            try:
                obj = entry.load()
            except RlgenError as e:
                raise RlgenError(f"{self.what} {name!r} (from {entry.origin}) cannot be loaded: {e}") from None
            return self._checked(obj, f"{self.what} {name!r} {entry.source}")
        if is_import_path(name):
            check_import_allowed(name)
            return self._checked(resolve(name), f"{self.what} {name!r}")
        if self._fallback is not None and (found := self._fallback(name)) is not None:
            return found
        raise RlgenError(self._unknown(name))

    def _entry_with_target(self, target: str) -> Entry | None:
        return next((e for e in self._entries.values() if isinstance(e.target, str) and e.target == target), None)

    def _checked(self, obj: Any, named: str) -> Any:
        problem = self._check(obj) if self._check is not None else None
        if problem is not None:
            raise RlgenError(f"{named} {problem}")
        return obj

    def _unknown(self, name: str) -> str:
        known = self.names()
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        extra = f", {self._fallback_note}" if self._fallback_note else ""
        return (f"unknown {self.what} {name!r}{hint}; known: {', '.join(known) or '(none)'}{extra}, "
                "or an import path package.module:attribute")


# --- the tables ---------------------------------------------------------------------------------

def _is_a(obj: Any) -> str:
    return f"is a {type(obj).__name__}"


def _kind_problem(obj: Any) -> str | None:
    from rlgen.experiment import protocol_problem

    return protocol_problem(obj)


def _source_problem(obj: Any) -> str | None:
    if callable(obj):
        return None
    return (f"{_is_a(obj)}, not a data source class or function (called with data.kwargs, it returns an object "
            "with shape, modality, n_classes and sample(batch, rng))")


def _backbone_problem(obj: Any) -> str | None:
    needs = ("a backbone is an nn.Module class (or a function returning one) that takes in_shape, the input's "
             "shape, and its keyword arguments, and sets self.out_dim")
    if not callable(obj):
        return f"{_is_a(obj)}, not a backbone class or function: {needs}"
    try:
        params = inspect.signature(obj).parameters
    except (TypeError, ValueError):  # a builtin without a signature: the build itself will tell
        return None
    takes = "in_shape" in params and params["in_shape"].kind is not inspect.Parameter.POSITIONAL_ONLY
    if not takes and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return f"takes no in_shape argument: {needs}"
    return None


def _wrapper_problem(obj: Any) -> str | None:
    return None if callable(obj) else f"{_is_a(obj)}, not a wrapper class or function"


DEMO_METHODS = ("matches", "read", "write")


def _demo_problem(obj: Any) -> str | None:
    needs = "a demo format is a class or object with matches(path), read(path) and write(demos, path, ...)"
    missing = [m for m in DEMO_METHODS if not callable(getattr(obj, m, None))]
    if len(missing) == len(DEMO_METHODS):
        return f"{_is_a(obj)}, not a demo format: {needs}"
    if missing:
        return f"has no {', '.join(m + '()' for m in missing)}: {needs}"
    return None


GAME_CONSTRUCTORS = ("env", "raw_env", "parallel_env")  # selfplay builds the first two, teams the last


def _game_problem(obj: Any) -> str | None:
    # any one constructor will do here: each kind refuses, in one line, a game without the one it builds
    if isinstance(obj, types.ModuleType):
        if any(hasattr(obj, name) for name in GAME_CONSTRUCTORS):
            return None
        return f"is the module {obj.__name__}, which has no env(), raw_env() or parallel_env()"
    if callable(obj):
        return None
    return (f"{_is_a(obj)}, not a game module (with env() or parallel_env()) or a function returning a "
            "PettingZoo AECEnv or ParallelEnv")


def _env_package_problem(obj: Any) -> str | None:
    if isinstance(obj, types.ModuleType) or callable(obj):
        return None
    return f"{_is_a(obj)}, not a module that registers gymnasium ids when imported or a function that does when called"


KINDS = Registry("experiment kind", "rlgen.kinds", check=_kind_problem)
SOURCES = Registry("data source", "rlgen.sources", check=_source_problem)
BACKBONES = Registry("backbone type", "rlgen.backbones", check=_backbone_problem)
ENV_PACKAGES = Registry("env package", "rlgen.envs", check=_env_package_problem)
DEMOS = Registry("demo format", "rlgen.demos", check=_demo_problem)


def _gymnasium_wrapper(name: str) -> Any:
    import gymnasium as gym

    cls = getattr(gym.wrappers, name, None)
    return cls if isinstance(cls, type) and issubclass(cls, gym.Wrapper) else None


def _pettingzoo_game(name: str) -> Any:
    """A pettingzoo.classic game by module name, or any game module by dotted path (`mpe2.simple_tag_v3`)."""
    for module in (f"pettingzoo.classic.{name}", *([name] if "." in name else [])):
        if module == name:
            check_import_allowed(name)
        try:
            return importlib.import_module(module)
        except ModuleNotFoundError as e:
            if e.name is not None and module.startswith(e.name):
                continue  # no such game module
            raise RlgenError(f"game {name!r} needs the package {e.name!r}, which is not installed "
                             f"(pip install {e.name.split('.')[0]}{_pettingzoo_extra(module)})") from None
        except ImportError as e:
            raise RlgenError(f"game {name!r} cannot be imported: {first_line(e)}") from None
        except Exception as e:  # noqa: BLE001 - the game module itself is broken
            raise import_failed(module, f"game {name!r}", e) from e
    return None


def _pettingzoo_extra(module: str) -> str:
    """The PettingZoo extra that installs a game module's packages, as a hint: the family in its path
    (`pettingzoo.butterfly.pistonball_v6` -> butterfly: pymunk, not classic's rlcard), where PettingZoo
    has an extra of that name; "" for any other module."""
    parts = module.split(".")
    if len(parts) < 3 or parts[0] != "pettingzoo":
        return ""
    try:
        extras = metadata.metadata("pettingzoo").get_all("Provides-Extra") or []
    except metadata.PackageNotFoundError:
        return ""
    return f"; PettingZoo's own: pip install 'pettingzoo[{parts[1]}]'" if parts[1] in extras else ""


WRAPPERS = Registry("wrapper", "rlgen.wrappers", fallback=_gymnasium_wrapper, fallback_origin="gymnasium",
                    fallback_note="any gymnasium.wrappers class by name", check=_wrapper_problem)
GAMES = Registry("game", "rlgen.games", fallback=_pettingzoo_game, fallback_origin="pettingzoo",
                 fallback_note="any pettingzoo.classic game by module name", check=_game_problem)

TABLES: dict[str, Registry] = {
    "kinds": KINDS, "sources": SOURCES, "games": GAMES, "backbones": BACKBONES, "wrappers": WRAPPERS,
    "demo formats": DEMOS, "env packages": ENV_PACKAGES,
}


def load_env_packages() -> None:
    """Import every `rlgen.envs` entry point: each registers its gymnasium ids when imported (a
    module) or when called (a function). Done once, before an env id is looked up or listed.

    An id is a name like any other: the package loaded first keeps it (rlgen's own, then by
    distribution name: the order of `ENV_PACKAGES.entries()`), as does an id in gymnasium's registry
    before any package loaded; a later package's spec for it is put back with one RlgenWarning."""
    global _envs_loaded
    if _envs_loaded:
        return
    _envs_loaded = True
    import gymnasium as gym

    for entry in ENV_PACKAGES.entries():
        before = dict(gym.registry)  # id -> EnvSpec: gymnasium.register replaces a spec in place
        with warnings.catch_warnings():
            # gymnasium's own clash warning, coloured whatever NO_COLOR says: the one below replaces it
            warnings.filterwarnings("ignore", message=r".*Overriding environment ")
            _load_env_package(entry)
        for env_id, spec in before.items():
            owner = _env_id_packages.get(env_id)
            # unchanged or registered again as it was (a spec equal to it), or its own id again (from any
            # entry point of the same distribution)
            if gym.registry.get(env_id, spec) == spec or (owner is not None and owner.origin == entry.origin):
                continue
            gym.registry[env_id] = spec
            kept = f"{owner.origin} registers the same name" if owner is not None else "it is already registered"
            warnings.warn(f"env id {env_id!r} from {entry.origin} ignored: {kept}", RlgenWarning, stacklevel=2)
        for env_id in gym.registry.keys() - before.keys():
            _env_id_packages.setdefault(env_id, entry)


def _load_env_package(entry: Entry) -> None:
    """Import (and call, for a function) one env package; a broken one is reported and left out."""
    try:
        problem = entry.shape_problem()
        if problem is not None:
            raise RlgenError(f"it {problem}")
        obj = entry.load()
        if callable(obj) and not isinstance(obj, type):
            obj()
    except Exception as e:  # a broken plugin never stops rlgen
        reason = str(e) if isinstance(e, RlgenError) else f"{type(e).__name__}: {e}"
        warnings.warn(f"env package {entry.name!r} from {entry.origin} not loaded: {reason}", RlgenWarning,
                      stacklevel=3)


def env_package_of(env_id: str) -> Entry | None:
    """The `rlgen.envs` entry whose loading registered `env_id` (None: gymnasium's own, or
    registered some other way); after `load_env_packages()`."""
    return _env_id_packages.get(env_id)


_envs_loaded = False
_env_id_packages: dict[str, Entry] = {}  # env id -> the env package that registered it
