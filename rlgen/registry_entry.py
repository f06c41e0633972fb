"""One name in a registry and the import paths a target may be given as: an `Entry` (what a name
points to, where it came from, its one-line description), `resolve` for `package.module:attribute`
with readable errors, and the guard that refuses import paths while an untrusted config is read
(`registered_names_only`). `rlgen.registry` builds its tables on these and re-exports them."""

from __future__ import annotations

import contextvars
import importlib
import re
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from rlgen.errors import RlgenError, first_line

# While a run's config is read (a file that may come from anyone), the name of that file: names it
# gives by import path are refused, since importing a module runs it, and a kind, source or
# backbone found that way is then called with the config's arguments (`subprocess:getoutput`).
_untrusted_source: contextvars.ContextVar[str | None] = contextvars.ContextVar("rlgen_untrusted", default=None)


@contextmanager
def registered_names_only(source: str) -> Iterator[None]:
    """Within it, only registered names resolve (rlgen's and installed plugins' entry points);
    an import path raises an RlgenError naming `source` and the opt-in (`--trust`)."""
    token = _untrusted_source.set(source)
    try:
        yield
    finally:
        _untrusted_source.reset(token)


def check_import_allowed(name: str) -> None:
    """Raise when `name` (an import path or a module) would be imported while reading an untrusted file."""
    source = _untrusted_source.get()
    if source is not None:
        raise RlgenError(f"{name!r} is an import path, and opening this run would import and call that code: "
                         "pass --trust (trust=True) if you trust the run (names that installed packages register "
                         "as entry points need no trust)")


@dataclass
class Entry:
    """One name in a registry: what it points to and where it came from."""

    name: str
    target: Any  # an object, or a "module:attr" string resolved on first `load()`
    origin: str  # "rlgen", a distribution's name, or "code"
    _loaded: Any = field(default=None, repr=False)
    # the registry's shape check: what is wrong with the loaded object ("is a int, not ..."), or None
    check: Callable[[Any], str | None] | None = field(default=None, repr=False, compare=False)

    def load(self) -> Any:
        if self._loaded is None:
            self._loaded = resolve(self.target, allow_module=True) if isinstance(self.target, str) else self.target
        return self._loaded

    def shape_problem(self) -> str | None:
        """What is wrong with the loaded object for its table (None: nothing); loads it."""
        return self.check(self.load()) if self.check is not None else None

    @property
    def source(self) -> str:
        """Where the name comes from, for messages: `from rlgen`, `from my-plugin`, `registered in code`."""
        return "registered in code" if self.origin == "code" else f"from {self.origin}"

    @property
    def description(self) -> str:
        """The first line of the target's docstring (or `description` attribute); for a target that
        cannot be loaded or is of the wrong shape for its table, that problem instead."""
        try:
            obj = self.load()
        except RlgenError as e:
            return f"(cannot be loaded: {e})"
        problem = self.check(obj) if self.check is not None else None
        if problem is not None:  # what is wrong, without what the table needs (using the name says that)
            return f"(cannot be used: it {problem.split(': ', 1)[0]})"
        return describe(obj)


def describe(obj: Any) -> str:
    """One line about `obj`: its `description` attribute, else its docstring's first sentence."""
    bound = getattr(obj, "keywords", None) if hasattr(obj, "func") else None
    if bound:  # a functools.partial: the function it binds, and what it binds
        args = ", ".join(f"{k}={v!r}" for k, v in bound.items())
        return f"{describe(obj.func)} ({args})"
    text = getattr(obj, "description", None)
    if not isinstance(text, str):
        text = getattr(obj, "__doc__", None) or ""
    text = " ".join(text.strip().split("\n\n")[0].split())  # the first paragraph, on one line
    if not text and isinstance(obj, types.ModuleType):
        return f"module {obj.__name__}"
    # a sentence starts with a capital, a bracket or a figure ("... >= 475). 16 envs"); "et al. 2017" is no end
    text = re.split(r"(?<!\bal)(?<!e\.g)(?<!i\.e)\. (?=[A-Z(0-9])", text)[0].rstrip(".")
    return text if len(text) <= 100 else text[:100].rsplit(" ", 1)[0].rstrip(",;:") + " …"  # whole words


def is_import_path(name: str) -> bool:
    """`pkg.module:attr` (the form used by entry points and `gymnasium.make`)."""
    module, sep, attr = name.partition(":")
    return bool(sep and module and attr) and all(p.isidentifier() for p in (*module.split("."), *attr.split(".")))


def resolve(path: str, allow_module: bool = False) -> Any:
    """The object at `module:attr` (attr may be dotted), with a readable error when it is missing.
    `allow_module`: a bare `module` names the module itself (entry points may do that)."""
    if not is_import_path(path) and not (allow_module and all(p.isidentifier() for p in path.split("."))):
        raise RlgenError(f"{path!r} is not an import path; write it as package.module:attribute")
    module_name, _, attr = path.partition(":")
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as e:
        raise RlgenError(f"cannot import {module_name!r} for {path!r}: {e} (is the package installed?)") from None
    except Exception as e:  # the module itself is broken: still one RlgenError, so a bad plugin never stops rlgen
        raise import_failed(module_name, repr(path), e) from e
    for part in attr.split(".") if attr else ():
        if not hasattr(obj, part):
            raise RlgenError(f"module {module_name!r} has no attribute {attr!r} (from {path!r})")
        obj = getattr(obj, part)
    return obj


def import_failed(module: str, needed_by: str, e: Exception) -> RlgenError:
    """The one line for a module that raises (anything but ImportError) while imported for
    `needed_by` (`'pkg.mod:attr'`, `env 'pkg.mod:Id-v0'`): the module itself is broken, and its
    error is what to fix."""
    return RlgenError(f"importing {module!r} for {needed_by} failed: {type(e).__name__}: {first_line(e)}")
