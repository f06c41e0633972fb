"""Checkpoints that hold pickled Python objects: refused unless the user trusts the file, and even
then read with only the few classes rlgen's first checkpoint format held (numpy arrays and RNG
states, torch devices, gymnasium spaces, SB3 replay buffers), so a crafted file is refused by name
instead of being executed. `rlgen.checkpoint.read` sends such a file here."""

from __future__ import annotations

import contextvars
import io
import pickle
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from rich.markup import escape

from rlgen.errors import RlgenError, first_line
from rlgen.logging import console

TRUST_HINT = "pass --trust (rlgen.load_run(..., trust=True), rlgen.train(resume=..., trust=True)) only if you trust its source"

_trusted: contextvars.ContextVar[bool] = contextvars.ContextVar("rlgen_trusted_checkpoint", default=False)


class UnsafeCheckpointError(RlgenError):
    """A checkpoint that could run code when loaded; loading it needs `trust=True`."""


# What an old-format (pickled) checkpoint may name, and nothing else, even under --trust: numpy
# arrays, scalars and RNG states, torch devices, gymnasium spaces and SB3's replay buffers, so a
# crafted file is refused by name instead of being executed.
_SPACES = frozenset(f"gymnasium.spaces.{m}.{c}" for m, c in (
    ("box", "Box"), ("discrete", "Discrete"), ("dict", "Dict"), ("multi_discrete", "MultiDiscrete"),
    ("multi_binary", "MultiBinary"), ("tuple", "Tuple")))
_BUFFERS = frozenset(f"stable_baselines3.common.buffers.{c}" for c in ("ReplayBuffer", "DictReplayBuffer"))
# Of those, the classes a pickle makes without calling them: NEWOBJ (`cls.__new__(cls)`, what
# `__reduce_ex__(2)` writes for an ordinary object), then BUILD sets its attributes. Only the
# pickled replay buffer of an old checkpoint holds them (`unpickle`), and a call of one (REDUCE) is
# refused: it would run __init__ with the file's arguments (`ReplayBuffer(10**12, ...)` allocates
# terabytes). The other classes are called harmlessly (`numpy.dtype("f8")`, `torch.device("cpu")`).
NEW_ONLY = _SPACES | _BUFFERS
OLD_FORMAT_GLOBALS = frozenset({
    "builtins.set", "builtins.frozenset", "builtins.slice", "collections.OrderedDict", "collections.deque",
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.random._pickle.__generator_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pcg64.PCG64", "numpy.random._mt19937.MT19937",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence", "numpy.random.bit_generator.SeedSequence",
    "torch.device", *NEW_ONLY,
})


class _OldFormatUnpickler(pickle._Unpickler):  # the Python implementation: each opcode can be checked
    """Reads only `OLD_FORMAT_GLOBALS`, and makes a `NEW_ONLY` class's objects only by NEWOBJ."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: Any):
        super().__init__(file)
        self._new_only: list[type] = []

    def find_class(self, module: str, name: str) -> Any:
        dotted = f"{module}.{name}"
        if dotted not in OLD_FORMAT_GLOBALS and not module.startswith("numpy.dtypes"):
            raise UnsafeCheckpointError(f"refused {dotted}: an old-format checkpoint may hold numpy "
                                        "arrays, RNG states, gymnasium spaces and SB3 replay buffers, not this")
        found = super().find_class(module, name)
        if dotted in NEW_ONLY:
            self._new_only.append(found)
        return found

    def _refuse_call(self, func: Any) -> None:
        if any(func is cls for cls in self._new_only):
            raise UnsafeCheckpointError(f"refused a call of {func.__module__}.{func.__qualname__}: an old-format "
                                        "checkpoint holds gymnasium spaces and SB3 replay buffers with their "
                                        "attributes set, never made by calling the class (which runs its __init__)")

    def load_reduce(self) -> None:
        self._refuse_call(self.stack[-2])  # the callable, under its arguments
        super().load_reduce()

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ (protocols 0 and 1)
        self._refuse_call(klass)
        super()._instantiate(klass, args)

    dispatch[pickle.REDUCE[0]] = load_reduce


def _old_format_objects() -> list[Any]:
    """`OLD_FORMAT_GLOBALS` as objects, for torch's own allowlist (`torch.serialization.safe_globals`),
    less `NEW_ONLY`: torch's unpickler calls an allowed class that a REDUCE names, and an old
    checkpoint held spaces and buffers only inside its pickled replay buffer (`unpickle`)."""
    import importlib

    import numpy as np

    found = [type(np.dtype(t)) for t in np.sctypeDict.values()]  # numpy.dtypes.Float32DType, ...: dtype classes
    for dotted in OLD_FORMAT_GLOBALS - NEW_ONLY:
        module, name = dotted.rsplit(".", 1)
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue  # another numpy or gymnasium version names it otherwise
    return found


def load_trusted(file: Path, data: bytes, map_location: str | torch.device) -> dict[str, Any]:
    """An old-format checkpoint under --trust: read by torch's weights-only unpickler with the
    old format's few classes allowed; anything else it names is refused, not run."""
    console.print(f"[yellow]warning:[/] {escape(str(file))} is an old-format checkpoint; reading its numpy, "
                  "gymnasium and SB3 objects (--trust)")
    try:
        with torch.serialization.safe_globals(_old_format_objects()):
            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError:
        raise UnsafeCheckpointError(f"refused to open {file}: it holds Python objects an old-format checkpoint "
                                    f"never held ({globals_in(data, OLD_FORMAT_GLOBALS - NEW_ONLY)})") from None
    except Exception as e:  # noqa: BLE001
        raise RlgenError(f"checkpoint {file} is unreadable ({type(e).__name__}: {first_line(e)})") from None


def globals_in(data: bytes, allowed: frozenset[str] = frozenset()) -> str:
    """What a refused checkpoint would import to load (`os.system`, `numpy...scalar`), a few names
    (less those `allowed`)."""
    try:
        names = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) if n not in allowed]
    except Exception:  # noqa: BLE001 - only for the message
        return "classes or functions"
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "") or "classes or functions"


@contextmanager
def trusted(trust: bool = True) -> Iterator[None]:
    """Within it, `unpickle` may read pickled blobs of an old-format checkpoint the user trusts."""
    token = _trusted.set(trust)
    try:
        yield
    finally:
        _trusted.reset(token)


def unpickle(blob: bytes, what: str) -> Any:
    """A pickled blob inside an old-format checkpoint (an old replay buffer): only under `trusted()`,
    and only with the classes an old checkpoint held (`OLD_FORMAT_GLOBALS`)."""
    if not _trusted.get():
        raise UnsafeCheckpointError(f"refused to unpickle the {what} stored in this checkpoint (a pickle can run "
                                    f"code); {TRUST_HINT}")
    return _OldFormatUnpickler(io.BytesIO(blob)).load()
