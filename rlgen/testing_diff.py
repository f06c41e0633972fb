"""How two runs differ, in the lines `rlgen.testing.check_experiment` reports: two states compared
entry by entry (bitwise for tensors and arrays, or by structure only), two units' or evaluations'
figures compared key by key, and the cap on how many differing entries a message lists."""

from __future__ import annotations

import math
import numbers
import pickle
import reprlib
from collections import deque
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from rlgen.logging import Image, Table

MAX_LINES = 8  # differing entries listed in a message; the rest are counted per state section


# --- comparing two runs ---------------------------------------------------------------------------


def _number_differences(a: Mapping[str, Any], b: Mapping[str, Any], lines: tuple[str, str], when_b: str,
                        when_a: str) -> list[str]:
    """The figures of two units or evaluations that differ (b's `when_b`, a's `when_a`), worded by
    `lines` (a value that differs, a key one side lacks); wall-clock figures (time/..., a
    *wall_time_s the runner adds), Tables and Images are not compared."""
    differs, only = lines
    out = []
    for key in sorted(set(a) | set(b)):
        if key.startswith("time/") or key.endswith("wall_time_s") or isinstance(a.get(key), (Table, Image)):
            continue
        if key not in a or key not in b:
            out.append(only.format(key=key, when=when_b if key in b else when_a))
        elif not _same_number(a[key], b[key]):
            out.append(differs.format(key=key, b=repr(b[key]), when_b=when_b, a=repr(a[key]), when_a=when_a))
    return out


def _differences(a: Any, b: Any, exact: bool, labels: tuple[str, str], path: str = "",
                 depth: int = 0) -> list[tuple[str, str]]:
    """(dotted path, what differs) for every entry of two states that disagree. `exact`: values
    too, bitwise for tensors and arrays; else only keys, types, shapes and dtypes (and sequence
    lengths are not compared: episode buffers legitimately differ between inexact runs)."""
    where = path or "<state>"
    if depth > 64:
        return []
    if type(a) is not type(b):
        return [(where, f"{type(a).__name__} when {labels[0]}, {type(b).__name__} when {labels[1]}")]
    if isinstance(a, torch.Tensor):
        return _tensor_difference(where, a, b, exact)
    if isinstance(a, np.ndarray):
        if a.dtype == object:
            return _differences(a.tolist(), b.tolist(), exact, labels, path, depth + 1)
        return _array_difference(where, a, b, exact)
    if isinstance(a, Mapping):
        out = [(f"{path}.{k}" if path else str(k), f"in the {labels[0] if k in a else labels[1]} state only")
               for k in [*a, *(k for k in b if k not in a)] if (k in a) != (k in b)]
        for k in (k for k in a if k in b):
            out += _differences(a[k], b[k], exact, labels, f"{path}.{k}" if path else str(k), depth + 1)
        return out
    if isinstance(a, (list, tuple, deque)):
        out = [(where, f"length {len(a)} when {labels[0]}, {len(b)} when {labels[1]}")] \
            if exact and len(a) != len(b) else []
        for i, (x, y) in enumerate(zip(a, b)):
            out += _differences(x, y, exact, labels, f"{path}.{i}" if path else str(i), depth + 1)
        return out
    if not exact:
        return []
    if isinstance(a, bytes):  # a pickled blob: the same object need not pickle to the same bytes
        return [] if a == b else [(where, f"{len(a)} bytes when {labels[0]}, {len(b)} bytes when {labels[1]}, "
                                          "not the same")]
    if _is_number(a) or isinstance(a, (str, type(None), bool, complex)):
        same = _same_number(a, b) if _is_number(a) else a == b
        return [] if same else [(where, f"{reprlib.repr(a)} when {labels[0]}, {reprlib.repr(b)} when {labels[1]}")]
    if hasattr(a, "__dict__"):  # a plain object (SB3's RunningMeanStd): its attributes
        return _differences(vars(a), vars(b), exact, labels, path, depth + 1)
    return [] if pickle.dumps(a) == pickle.dumps(b) else [(where, f"{type(a).__name__} objects differ")]


def _tensor_difference(where: str, a: torch.Tensor, b: torch.Tensor, exact: bool) -> list[tuple[str, str]]:
    if a.shape != b.shape or a.dtype != b.dtype:
        return [(where, f"{tuple(a.shape)} {a.dtype} vs {tuple(b.shape)} {b.dtype}")]
    a, b = a.detach().cpu().reshape(-1), b.detach().cpu().reshape(-1)
    if not exact or torch.equal(a.contiguous().view(torch.uint8), b.contiguous().view(torch.uint8)):
        return []  # bitwise: -0.0 is not 0.0, and NaN equals the same NaN
    distance = None
    if a.dtype not in (torch.bool, torch.uint8):  # flags and bytes (an RNG state) have no useful distance
        distance = (a.to(torch.complex128) - b.to(torch.complex128)).abs().max().item()
    return [(where, _how_many(distance, int((a != b).sum()), a.numel()))]


def _array_difference(where: str, a: np.ndarray, b: np.ndarray, exact: bool) -> list[tuple[str, str]]:
    if a.shape != b.shape or a.dtype != b.dtype:
        return [(where, f"{a.shape} {a.dtype} vs {b.shape} {b.dtype}")]
    if not exact or np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes():
        return []
    numeric = a.dtype.kind in "iufc" and a.dtype != np.uint8
    distance = float(np.abs(a.astype(np.complex128) - b.astype(np.complex128)).max()) if numeric else None
    return [(where, _how_many(distance, int(np.sum(a != b)), a.size))]


def _how_many(distance: float | None, n: int, of: int) -> str:
    counted = f"{n} of {of} elements differ"
    return counted if distance is None else f"max abs diff {distance:.3g}, {counted}"


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _same_number(a: Any, b: Any) -> bool:
    return a == b or (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b))


def _state_lines(restored: list[tuple[str, str]], diverged: list[tuple[str, str]]) -> list[str]:
    """The first differing entries, those load_state_dict did not restore first (the likelier
    cause), then a line counting every differing entry per top-level section of the state."""
    lines = [f"{path} not restored by load_state_dict ({what})" for path, what in restored]
    lines += [f"{path} differs after resume ({what})" for path, what in diverged]
    if not lines:
        return []
    counts: dict[str, int] = {}
    for path, _ in restored + diverged:
        top = path.split(".", 1)[0]
        counts[top] = counts.get(top, 0) + 1
    listed = ", ".join(f"{top} ({n})" for top, n in counts.items())
    return [*lines[:MAX_LINES], f"{len(lines)} differing entries in all, by section: {listed}"]


def _capped(lines: list[str], n: int, what: str) -> list[str]:
    return lines if len(lines) <= n + 1 else [*lines[:n], f"... and {len(lines) - n} more {what} differ"]
