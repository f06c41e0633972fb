"""Checkpoint state as plain data: what `torch.load(weights_only=True)` can read without running code.

A checkpoint may hold tensors, numbers, strings, bytes, None, and lists, tuples, sets and dicts of
them (torch's weights-only unpickler rebuilds exactly these). Numpy arrays, numpy scalars and
deques are common in experiment state (RNG states, replay buffers, episode statistics), so
`encode` turns each into a small dict holding its bytes as a uint8 tensor, and `decode` turns it
back, refusing any dtype that could hold Python objects. Anything else (a class instance, a
function) is refused at save time with its dotted path, so an experiment that saves an object
learns it when it saves, not when someone opens the checkpoint.

    state = {"w": torch.zeros(3), "rng": np.random.default_rng(0).bit_generator.state,
             "key": np.arange(4, dtype=np.uint32)}
    torch.save(encode(state), f)
    decode(torch.load(f, weights_only=True)) -> the same tree, arrays as writable copies
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from typing import Any

import numpy as np
import torch

from rlgen.errors import RlgenError

ARRAY, SCALAR, DEQUE = "__rlgen_ndarray__", "__rlgen_npscalar__", "__rlgen_deque__"
# numpy dtype kinds that are bytes and nothing else: bool, ints, floats, complex, strings, dates
PLAIN_KINDS = "biufcSUmM"
_ATOMS = (type(None), bool, int, float, complex, str, bytes, bytearray)


class UnsafeStateError(RlgenError):
    """State holds something that is not plain data; `path` is its dotted path."""

    def __init__(self, path: str, what: str, type_name: str = ""):
        self.path, self.type_name = path, type_name
        super().__init__(f"{path or '<state>'} is {what}: checkpoint state must be tensors, numpy arrays, "
                         "numbers, strings and lists/tuples/dicts of them")


def encode(tree: Any, path: str = "") -> Any:
    """`tree` with numpy arrays/scalars and deques as plain dicts; UnsafeStateError for anything else."""
    if isinstance(tree, np.generic):  # before the atoms: np.float64 is a float too
        return {SCALAR: True, **_encode_array(np.asarray(tree), path)}
    if isinstance(tree, _ATOMS) or isinstance(tree, torch.Tensor):
        return tree
    if isinstance(tree, np.ndarray):
        return _encode_array(tree, path)
    if isinstance(tree, deque):
        return {DEQUE: [encode(v, f"{path}.{i}") for i, v in enumerate(tree)], "maxlen": tree.maxlen}
    if isinstance(tree, dict):  # OrderedDict (module state dicts) stays an OrderedDict
        out = OrderedDict() if isinstance(tree, OrderedDict) else {}
        for k, v in tree.items():
            if not isinstance(k, (str, int, float, bool, tuple, type(None))):
                raise UnsafeStateError(f"{path}.{k!r}" if path else repr(k), f"a key of type {type(k).__name__}")
            out[k] = encode(v, f"{path}.{k}" if path else str(k))
        return out
    if type(tree) in (list, tuple, set, frozenset):
        items = [encode(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(tree)]
        return set(items) if type(tree) in (set, frozenset) else type(tree)(items)
    if isinstance(tree, tuple):  # a namedtuple: its values, as a plain tuple
        return tuple(encode(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(tree))
    raise UnsafeStateError(path, f"a {type(tree).__module__}.{type(tree).__qualname__} object", type(tree).__name__)


def decode(tree: Any, path: str = "") -> Any:
    """The inverse of `encode`: arrays back from their bytes (plain dtypes only)."""
    if isinstance(tree, dict):
        if ARRAY in tree:
            array = _decode_array(tree, path)
            return array[()] if tree.get(SCALAR) else array
        if DEQUE in tree:
            return deque((decode(v, path) for v in tree[DEQUE]), maxlen=tree.get("maxlen"))
        out = OrderedDict() if isinstance(tree, OrderedDict) else {}
        for k, v in tree.items():
            out[k] = decode(v, f"{path}.{k}" if path else str(k))
        return out
    if type(tree) in (list, tuple):
        return type(tree)(decode(v, f"{path}.{i}" if path else str(i)) for i, v in enumerate(tree))
    return tree


def _encode_array(a: np.ndarray, path: str) -> dict[str, Any]:
    if a.dtype.kind not in PLAIN_KINDS or a.dtype.fields is not None:
        raise UnsafeStateError(path, f"a numpy array of dtype {a.dtype} (it can hold Python objects)")
    data = np.ascontiguousarray(a).reshape(-1).view(np.uint8)
    return {ARRAY: a.dtype.str, "shape": list(a.shape), "data": torch.from_numpy(data.copy())}


def _decode_array(node: dict[str, Any], path: str) -> np.ndarray:
    where = path or "<state>"
    try:
        dtype = np.dtype(node[ARRAY])
        shape = _shape(node["shape"])
        data = node["data"]
        if not isinstance(data, torch.Tensor) or data.dtype != torch.uint8:
            raise ValueError("its data is not a uint8 tensor")
    except (TypeError, ValueError, KeyError) as e:
        raise RlgenError(f"{where}: not a valid array in the checkpoint ({e})") from None
    if dtype.kind not in PLAIN_KINDS or dtype.fields is not None:
        raise RlgenError(f"{where}: refused a numpy array of dtype {dtype} (it could hold Python objects)")
    raw = data.numpy().tobytes()
    if len(raw) != dtype.itemsize * math.prod(shape):  # math.prod: np.prod wraps around to 0 at 2**64
        raise RlgenError(f"{where}: array data of {len(raw)} bytes does not fit {shape} {dtype}")
    try:  # what numpy still refuses: a zero-size dtype (S0), more than 64 dimensions
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    except ValueError as e:
        raise RlgenError(f"{where}: not a valid array in the checkpoint ({e})") from None


def _shape(dims: Any) -> tuple[int, ...]:
    """An array's shape as saved: a list of non-negative ints (a -1 would let reshape guess a dimension)."""
    if not isinstance(dims, (list, tuple)):
        raise ValueError(f"its shape is {type(dims).__name__}, not a list")
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in dims):
        raise ValueError(f"its shape {str(list(dims))[:60]} is not a list of non-negative ints")
    return tuple(dims)


def non_finite(tree: Any, path: str = "") -> tuple[str, int, int] | None:
    """The first floating-point tensor holding NaN or inf: (dotted path, bad elements, elements)."""
    if isinstance(tree, torch.Tensor):
        if tree.is_floating_point() or tree.is_complex():
            bad = int((~torch.isfinite(tree.detach())).sum())
            if bad:
                return path or "<state>", bad, tree.numel()
        return None
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) if isinstance(tree, (list, tuple)) else ()
    for k, v in items:
        found = non_finite(v, f"{path}.{k}" if path else str(k))
        if found is not None:
            return found
    return None
