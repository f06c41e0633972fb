"""The live state of an object graph (an SB3 model, its vector env and every env inside) as plain
data, and back into a freshly built graph of the same config: what makes SB3 runs resume exactly.

Gymnasium envs, SB3 vector envs and PettingZoo games are not serializable in general, but nearly
all of them keep their state in plain Python attributes: CartPole's `state` array, TimeLimit's
`_elapsed_steps`, Monitor's episode accumulators, the env's `np_random` generator, the action
space's generator (DQN's epsilon-greedy draws from it), VecNormalize's running statistics,
rlgen's history window, a board game's squares. `capture` walks the graph's `__dict__`s and keeps
exactly that plain data (numbers, strings, arrays, tensors, numpy generators as their state,
lists/tuples/dicts of them); `restore` writes it back into the live objects of a new graph built
from the same config, in place, so references between objects (an optimizer's tensor, a list two
objects share) stay as they were.

What the walk leaves out, on purpose: behaviour and configuration (functions, methods, classes,
callable objects unless their class sets `live_state = True`, as a random player with its dice
does; torch modules and optimizers, which the kinds save as state dicts; devices, dtypes, env specs,
loggers; attributes named in `SKIP`), and wall-clock values (`VOLATILE`), which differ between
any two runs. What it cannot keep is reported: an object with no `__dict__` (a Box2D world, an
emulator, a worker process's pipe), and dice it leaves out with a function or a callable object (a
generator in the closure or the attributes of a game's scripted player: `_left_dice`). The caller
then does not restore that graph and warns that the resume is not exact (see `uncaptured`).

    saved = capture(model.env)                  # plain data; uncaptured(saved) lists what was not kept
    ...
    problems = restore(fresh.env, saved)        # [] when every object found its counterpart
"""

from __future__ import annotations

import enum
import functools
import random
import sys
import types
from collections import deque
from typing import Any, Callable

import numpy as np
import torch

OBJECT, GENERATOR, RANDOM_STATE, PY_RANDOM, ENUM, SHARED, SKIPPED, UNCAPTURED, NAMEDTUPLE = (
    "__object__", "__generator__", "__random_state__", "__py_random__", "__enum__", "__shared__", "__skipped__",
    "__uncaptured__", "__namedtuple__")
# Configuration and bookkeeping that training does not change, or that the kinds save themselves.
SKIP = frozenset({
    "spec", "_cached_spec", "_saved_kwargs", "metadata", "_metadata", "class_attributes",
    "policy_kwargs", "rollout_buffer_kwargs", "replay_buffer_kwargs", "_logger", "results_writer",
    "rollout_buffer",  # refilled from scratch by every rollout
    "replay_buffer", "ep_info_buffer", "ep_success_buffer",  # saved by sb3_bridge in their own form
    "batch_norm_stats", "batch_norm_stats_target",  # views of module buffers, saved with the weights
    "buf_infos",  # the last step's infos (Monitor's wall-clock "t"), rewritten by the next step
    # SB3's logging setup, which rlgen makes itself (set_logger): from a file, a tensorboard_log with
    # _custom_logger False would have the next learn() write a tensorboard log where the file says
    "_custom_logger", "tensorboard_log", "verbose",
})
# Wall-clock time: different in every run, read by nothing that trains.
VOLATILE = frozenset({"t_start", "episode_times", "start_time", "episode_start_time", "time_queue"})
# Drawing surfaces and fonts (MPE games make them even when nothing renders): not training state.
RENDERING = frozenset({"pygame", "pyglet"})
# Handles on the world outside the process (worker processes and their pipes, threads, files):
# no copy of them means anything in a new process, so a graph holding one is not captured.
OUTSIDE = frozenset({"multiprocessing", "subprocess", "socket", "threading", "_thread", "io", "_io"})
_CONFIG_TYPES = (torch.device, torch.dtype, np.dtype, torch.optim.Optimizer, types.ModuleType)
_KEYS = (str, int, float, bool, type(None), tuple)
_DICE = (np.random.Generator, np.random.RandomState, random.Random)
_BIT_GENERATORS = {name: getattr(np.random, name) for name in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")}
_MAX_DEPTH = 64
UNSAVED = "not in the checkpoint (code changed since it was saved?); kept as this code makes it"


def capture(obj: Any, skip: frozenset[str] | set[str] = frozenset()) -> dict[str, Any]:
    """The plain-data state of `obj` and everything it holds (module docstring): {"tree": ...,
    "uncaptured": [paths of objects whose state could not be kept]}. `skip`: more attribute names
    to leave out, at any depth."""
    walker = _Capture(frozenset(skip))
    tree = walker.value(obj, "")
    return {"tree": tree, "uncaptured": walker.uncaptured, "skip": sorted(skip)}


def uncaptured(captured: dict[str, Any] | None) -> list[str]:
    """What a `capture` could not keep ("path (type)"); restoring it would not be exact."""
    return list((captured or {}).get("uncaptured", []))


def restore(obj: Any, captured: dict[str, Any]) -> list[str]:
    """Write a `capture` of a graph like `obj`'s back into `obj`; the problems, one line each
    (an object that has no counterpart in `obj`, a type that differs, an attribute the capture
    lacks, which stays: `_Restore.unsaved`). Restoring a graph that had
    uncaptured parts is the caller's decision: check `uncaptured()` first."""
    problems: list[str] = []
    new = _Restore(frozenset(captured.get("skip", ())), problems).value(obj, captured["tree"], "")
    if new is not obj:
        problems.append(f"<root>: a {type(obj).__name__} cannot be replaced by a plain value")
    return problems


class _Capture:
    def __init__(self, skip: frozenset[str]) -> None:
        self.skip = skip
        self.seen: dict[int, str] = {}  # id of a mutable object -> the path it was captured at
        self.uncaptured: list[str] = []

    def value(self, v: Any, path: str, depth: int = 0) -> Any:
        if v is None or isinstance(v, (bool, int, float, complex, str, bytes)):
            return v
        if isinstance(v, np.generic) and v.dtype != object:
            return v
        if isinstance(v, enum.Enum):
            return {ENUM: _type_name(v), "value": self.value(v.value, path, depth + 1)}
        if isinstance(v, (set, frozenset)) and all(isinstance(x, _KEYS) for x in v):
            return set(v)
        if isinstance(v, tuple) and not hasattr(v, "_fields"):
            return tuple(self.value(x, _join(path, i), depth + 1) for i, x in enumerate(v))
        # one object met twice (a list two envs share, an info dict also in a game's state) is
        # captured once; the second place refers to the first, and restore makes it one object again
        if id(v) in self.seen:
            return {SHARED: self.seen[id(v)]}
        if depth > _MAX_DEPTH:
            self.uncaptured.append(f"{path} (nested deeper than {_MAX_DEPTH})")
            return {UNCAPTURED: "too deep"}
        self.seen[id(v)] = path or "<root>"
        if isinstance(v, torch.Tensor):
            return v.detach()
        if isinstance(v, np.ndarray):
            return self.value(v.tolist(), path, depth) if v.dtype == object else v
        if isinstance(v, np.random.Generator):
            return {GENERATOR: v.bit_generator.state}
        if isinstance(v, np.random.RandomState):
            return {RANDOM_STATE: v.get_state(legacy=False)}
        if isinstance(v, random.Random):
            return {PY_RANDOM: v.getstate()}
        if isinstance(v, dict) and all(isinstance(k, _KEYS) for k in v):
            return {k: self.value(x, _join(path, k), depth + 1) for k, x in v.items()
                    if not self.skipped(k, x, _join(path, k))}
        if isinstance(v, tuple):  # a namedtuple (plain ones returned above): go's Group, kept with its type
            return {NAMEDTUPLE: _type_name(v), "items": tuple(self.item(x, _join(path, i), depth + 1)
                                                             for i, x in enumerate(v))}
        if isinstance(v, (list, tuple, deque)):
            items = [self.item(x, _join(path, i), depth + 1) for i, x in enumerate(v)]
            return items if isinstance(v, list) else deque(items, v.maxlen) if isinstance(v, deque) else tuple(items)
        attrs = None if isinstance(v, (dict, set, frozenset)) or _package(v) in OUTSIDE else _attributes(v)
        if attrs is None:
            self.uncaptured.append(f"{path or '<root>'} ({_type_name(v)})")
            return {UNCAPTURED: _type_name(v)}
        return {OBJECT: _type_name(v), "attrs": {k: self.value(x, _join(path, k), depth + 1)
                                                  for k, x in attrs.items() if not self.skipped(k, x, _join(path, k))}}

    def item(self, v: Any, path: str, depth: int) -> Any:
        """An entry of a sequence: a skipped one keeps its place, so indices still match."""
        return {SKIPPED: True} if self.skipped(None, v, path) else self.value(v, path, depth)

    def skipped(self, name: Any, v: Any, path: str) -> bool:
        if not (_skipped(name, v) or (isinstance(name, str) and name in self.skip)):
            return False
        if (where := _left_dice(v, lambda owner: id(owner) in self.seen)) is not None:  # left out with the callable: a resume cannot replay them
            self.uncaptured.append(f"{path} (a random generator {where}; keep it on an object whose class sets "
                                   "live_state = True)")
        return True


def _left_dice(fn: Any, kept: Callable[[Any], bool]) -> str | None:
    """Where a callable left out of a capture holds a random generator: in the closure, defaults or
    partial arguments of a function (a bound method's, a functools.partial's), in the attributes of
    a callable object, or as the generator a method is bound to (`rng.integers`); else None. rlgen's
    own are not asked: their dice are saved by their owner (selfplay's references draw from the
    experiment's opponent_rng). Nor are numpy's and Python's global generators (`np.random.normal`,
    `random.random`), which every checkpoint saves, or a method's object the capture keeps (`kept`:
    an env's `self.reward_fn = self._dense`, its env captured where it lives)."""
    held: list[Any] = []
    if isinstance(fn, functools.partial):
        held, fn = [*fn.args, *fn.keywords.values()], fn.func
    owner = getattr(fn, "__self__", fn)  # a bound method's object, or the callable object itself
    if not isinstance(owner, (types.FunctionType, type, types.ModuleType)) and not _rlgen(type(owner)) \
            and not kept(owner):
        dice = [owner] if isinstance(owner, _DICE) else list((_attributes(owner) or {}).values())
        if any(isinstance(x, _DICE) and not _global_dice(x) for x in dice):  # rng.integers: rng itself
            return f"held by {_type_name(owner)}"
    fn = getattr(fn, "__func__", fn)
    if not isinstance(fn, types.FunctionType) or _rlgen(fn):
        return None
    held += [*(fn.__defaults__ or ()), *(fn.__kwdefaults__ or {}).values()]
    for cell in fn.__closure__ or ():
        try:
            held.append(cell.cell_contents)
        except ValueError:  # a cell not filled yet (a name the enclosing function assigns later)
            pass
    if any(isinstance(x, _DICE) for x in held):
        return f"in the closure of {fn.__module__}.{fn.__qualname__}"
    return None


def _global_dice(rng: Any) -> bool:
    """numpy's or Python's global generator, which every checkpoint saves (rlgen.process.rng_state)."""
    return rng is np.random.mtrand._rand or rng is random._inst


def _rlgen(code: Any) -> bool:
    return (getattr(code, "__module__", None) or "").split(".")[0] == "rlgen"


def _skipped(name: Any, v: Any) -> bool:
    if isinstance(name, str) and (name in SKIP or name in VOLATILE):
        return True
    if isinstance(v, _DICE) or getattr(type(v), "live_state", False):
        return False  # a callable whose class says `live_state = True` holds state (a player's dice)
    return (callable(v) or isinstance(v, _CONFIG_TYPES) or type(v).__name__ == "EnvSpec"
            or _package(v) in RENDERING)


def _attributes(v: Any) -> dict[str, Any] | None:
    """An object's attributes from its `__dict__` and `__slots__`; None when it has neither (its
    state lives in C: a Box2D world, an emulator, a pipe)."""
    out = dict(vars(v)) if hasattr(v, "__dict__") else {}
    slots = [s for cls in type(v).__mro__ for s in getattr(cls, "__slots__", ()) if s not in ("__dict__", "__weakref__")]
    for s in slots:
        if hasattr(v, s):
            out[s] = getattr(v, s)
    return out if (hasattr(v, "__dict__") or slots) else None


class _Restore:
    """Writes a captured tree into live objects; collects what does not fit in `problems`."""

    def __init__(self, skip: frozenset[str], problems: list[str]):
        self.skip, self.problems = skip, problems
        self.at: dict[str, Any] = {}  # path -> the live object restored there, for SHARED references
        self.done: set[int] = set()  # live objects already written in place: never a second time

    def skipped(self, name: Any, v: Any) -> bool:
        return _skipped(name, v) or (isinstance(name, str) and name in self.skip)

    def value(self, live: Any, node: Any, path: str) -> Any:
        """The value `live` should hold after restoring `node` into it: `live` itself when it was
        updated in place, else the new value for the caller to assign."""
        marker = next(iter(node), None) if isinstance(node, dict) and len(node) in (1, 2) else None
        if marker == SKIPPED:
            return live  # left as it is, and never a target of a shared reference
        if live is not None and _not_state(live):
            # `capture` never walks into a function, class, module or the like, so a file that
            # does is crafted: writing into one is how plain data could reach code (a function's
            # globals, a module's names). Nothing is written, and the object stays as it is.
            self.problems.append(f"{path or '<root>'}: the file writes into a {_type_name(live)}, which holds no "
                                 "state; refused")
            return live
        if isinstance(node, tuple):
            return self.sequence(live, node, path)  # immutable: never captured as a shared reference
        if id(live) in self.done and not (isinstance(node, dict) and SHARED in node):
            live = None  # written at another place already, so a different object when saved: make a new one
        if isinstance(node, dict) and len(node) in (1, 2) and next(iter(node)) in _MARKERS:
            new = getattr(self, _MARKERS[next(iter(node))])(live, node, path)
        elif isinstance(node, (dict, list, deque)):
            new = self.mapping(live, node, path) if isinstance(node, dict) else self.sequence(live, node, path)
        else:
            new = self.atom(live, node)
        if new is not None and not isinstance(new, (bool, int, float, complex, str, bytes)):
            self.done.add(id(new))
        if not _not_state(new):  # a shared reference can only name state restored here
            self.at[path or "<root>"] = new
        return new

    def atom(self, live: Any, node: Any) -> Any:
        if isinstance(node, torch.Tensor):
            if isinstance(live, torch.Tensor) and live.shape == node.shape and live.dtype == node.dtype:
                with torch.no_grad():
                    live.copy_(node)  # in place: an optimizer may hold this very tensor (SAC's log_ent_coef)
                return live
            return node.clone()
        if isinstance(node, np.ndarray):
            if isinstance(live, np.ndarray) and live.shape == node.shape and live.dtype == node.dtype \
                    and live.flags.writeable and live.base is None:
                live[...] = node  # in place: a view or a dict elsewhere may hold this very array
                return live
            return node.copy()
        return node

    def mapping(self, live: Any, node: dict[Any, Any], path: str) -> Any:
        if not isinstance(live, dict):
            return {k: self.value(None, sub, _join(path, k)) for k, sub in node.items()}
        for k in [k for k in live if k not in node and not self.skipped(k, live[k])]:
            del live[k]
        for k, sub in node.items():
            new = self.value(live.get(k), sub, _join(path, k))
            if k not in live or new is not live[k]:
                live[k] = new
        return live

    def sequence(self, live: Any, node: list | tuple | deque, path: str) -> Any:
        fits = isinstance(live, (list, tuple, deque)) and len(live) == len(node)
        olds = list(live) if fits else [None] * len(node)
        items = []
        for i, (old, sub) in enumerate(zip(olds, node)):
            if old is not None and id(old) in self.done and not (isinstance(sub, dict) and SHARED in sub):
                # this element was restored at another place already (it is what an attribute met
                # first refers to: mpe2's agent.goal_a, another landmark in the saved run): an
                # element of this list that nothing took yet stands in
                old = next((o for o in olds if type(o) is type(old) and id(o) not in self.done), old)
            items.append(self.value(old, sub, _join(path, i)))
        if isinstance(node, list) and isinstance(live, list):
            live[:] = items
            return live
        if isinstance(node, deque) and isinstance(live, deque):
            live.clear()
            live.extend(items)
            return live
        if isinstance(node, tuple) and isinstance(live, tuple) and hasattr(live, "_fields"):
            return type(live)(*items)  # a namedtuple (RecurrentPPO's RNNStates) keeps its type
        return deque(items, node.maxlen) if isinstance(node, deque) else type(node)(items)

    def object(self, live: Any, node: dict[str, Any], path: str) -> Any:
        # a class may take the state of the class it replaced (`restores_from`): runs saved before it
        replaced = getattr(type(live), "restores_from", ())
        if live is None or (_type_name(live) != node[OBJECT] and node[OBJECT] not in replaced):
            found = _type_name(live) if live is not None else "nothing"
            self.problems.append(f"{path or '<root>'}: saved a {node[OBJECT]}, found {found}")
            return live
        attrs = node["attrs"]
        if not isinstance(attrs, dict):
            self.problems.append(f"{path or '<root>'}: saved attributes that are not a mapping")
            return live
        live_attrs = _attributes(live) or {}
        for name in [n for n, v in live_attrs.items() if n not in attrs and not self.skipped(n, v)]:
            self.unsaved(live, name, live_attrs[name], _join(path, name))
        for name, sub in attrs.items():
            if not isinstance(name, str) or not name.isidentifier() or name.startswith("__"):
                # what `capture` keeps: instance attributes, never a dunder
                self.problems.append(f"{_join(path, name)}: not an attribute rlgen saves; refused")
                continue
            if name in self.skip or name in SKIP or name in VOLATILE:
                continue  # configuration, set up by the fresh graph (a checkpoint from before the name was skipped)
            old = live_attrs.get(name)  # the instance's own, as captured: never the class's
            new = self.value(old, sub, _join(path, name))
            # a saved None is set too where the fresh object has no such attribute yet: PettingZoo's
            # AECEnv makes `_skip_agent_selection` only once an agent is done, and the saved one had it
            if new is not old or (sub is None and name not in live_attrs):
                try:
                    setattr(live, name, new)
                except AttributeError as e:  # a read-only property
                    self.problems.append(f"{_join(path, name)}: {e}")
        return live

    def unsaved(self, live: Any, name: str, value: Any, path: str) -> None:
        """An attribute `live` has and the checkpoint lacks. Where its class gives a default, the
        saved object read that one (gymnasium's `_np_random` before a first reset, which the reset
        before restoring made; a class that replaced another, `restores_from`): the attribute goes,
        and this object reads the default too. Otherwise the saved object had no such attribute, so
        this code made it (an env changed since the save): it stays, as deleting it breaks the code
        that reads it, and a value other than None is reported: the object is not as saved."""
        if _class_default(live, name):
            try:
                delattr(live, name)
            except AttributeError:  # a class that refuses it: the value made now stays
                pass
        elif value is not None:  # None reads as getattr(obj, name, None) read its absence
            self.problems.append(f"{path}: {UNSAVED}")

    def generator(self, live: Any, node: dict[str, Any], path: str) -> Any:
        state = node[GENERATOR]
        name = state.get("bit_generator") if isinstance(state, dict) else None
        if name not in _BIT_GENERATORS:
            self.problems.append(f"{path}: unknown bit generator {name!r}")
            return live
        if not (isinstance(live, np.random.Generator) and type(live.bit_generator).__name__ == name):
            live = np.random.Generator(_BIT_GENERATORS[name]())  # only numpy's own bit generators, by name
        live.bit_generator.state = state
        return live

    def random_state(self, live: Any, node: dict[str, Any], path: str) -> Any:
        if not isinstance(live, np.random.RandomState):
            live = np.random.RandomState()
        live.set_state(node[RANDOM_STATE])
        return live

    def py_random(self, live: Any, node: dict[str, Any], path: str) -> Any:
        if not isinstance(live, random.Random):
            live = random.Random()
        version, internal, gauss = node[PY_RANDOM]
        live.setstate((version, tuple(internal), gauss))
        return live

    def enum(self, live: Any, node: dict[str, Any], path: str) -> Any:
        if not isinstance(live, enum.Enum) or _type_name(live) != node[ENUM]:
            self.problems.append(f"{path}: saved a {node[ENUM]}, found {_type_name(live)}")
            return live
        return type(live)(self.value(None, node["value"], path))  # the live value's class, never one by name

    def namedtuple(self, live: Any, node: dict[str, Any], path: str) -> Any:
        """A namedtuple of the live graph's type, or of one a module already imported defines (a
        dict entry the fresh env has not made yet: go's groups). No module is imported, and
        `tuple.__new__` runs no code of the class."""
        same = isinstance(live, tuple) and _type_name(live) == node[NAMEDTUPLE]
        items = tuple(self.sequence(live if same else None, node["items"], path))
        cls = type(live) if same else _loaded_class(node[NAMEDTUPLE])
        if not (isinstance(cls, type) and issubclass(cls, tuple) and hasattr(cls, "_fields")):
            self.problems.append(f"{path}: saved a {node[NAMEDTUPLE]}, which no loaded module defines")
            return items
        return tuple.__new__(cls, items)

    def shared(self, live: Any, node: dict[str, Any], path: str) -> Any:
        """The object restored where it was first met: two references to one object stay one object."""
        target = node[SHARED]
        if not isinstance(target, str) or target not in self.at:
            self.problems.append(f"{path}: refers to {target!r}, which was not restored before it")
            return live
        return self.at[target]

    def keep(self, live: Any, node: dict[str, Any], path: str) -> Any:
        return live  # a skipped entry of a list

    def not_captured(self, live: Any, node: dict[str, Any], path: str) -> Any:
        self.problems.append(f"{path}: {node[UNCAPTURED]} was not captured")
        return live


_MARKERS = {OBJECT: "object", GENERATOR: "generator", RANDOM_STATE: "random_state", PY_RANDOM: "py_random",
            ENUM: "enum", SHARED: "shared", SKIPPED: "keep", UNCAPTURED: "not_captured", NAMEDTUPLE: "namedtuple"}


def _loaded_class(name: str) -> Any:
    """The class `module.Qual.Name` names, from a module already in sys.modules; None otherwise.
    Looked up in the namespaces' dicts, not by getattr: a module's `__getattr__` (which may import
    a submodule) and a class's descriptors never run."""
    if not isinstance(name, str):
        return None
    parts = name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module = sys.modules.get(".".join(parts[:i]))
        if module is not None:
            obj: Any = module
            for attr in parts[i:]:
                namespace = getattr(obj, "__dict__", None)  # a module's or a class's own __dict__
                obj = namespace.get(attr) if isinstance(namespace, (dict, types.MappingProxyType)) else None
            return obj
    return None


def _class_default(obj: Any, name: str) -> bool:
    """Whether `obj`'s class gives `name` a value an instance without its own reads (a slot gives none)."""
    owner = next((vars(cls) for cls in type(obj).__mro__ if name in vars(cls)), None)
    return owner is not None and not isinstance(owner[name], types.MemberDescriptorType)


def _not_state(v: Any) -> bool:
    """What `capture` never walks into (a function, method, class, module, config object, a handle
    on the outside world): restore never writes into one, nor refers to one."""
    return v is not None and (_skipped(None, v) or isinstance(v, type) or _package(v) in OUTSIDE)


def _package(v: Any) -> str:
    """The top-level package of `v`'s class: "multiprocessing" for a multiprocessing.connection.Connection."""
    return (getattr(type(v), "__module__", None) or "").split(".")[0]


def _type_name(v: Any) -> str:
    cls = type(v)
    return f"{getattr(cls, '__module__', '?')}.{getattr(cls, '__qualname__', cls.__name__)}"


def _join(path: str, key: Any) -> str:
    return f"{path}.{key}" if path else str(key)
