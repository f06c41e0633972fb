"""summary.json as valid JSON, NaN and infinity included.

JSON has no NaN or infinity, and Python's `json` writes them as the bare words `NaN` / `Infinity`,
which jq, JavaScript and most other readers refuse. A summary can hold them honestly (an imitation
run's eval/expert_ratio is NaN against an expert no better than random), so each non-finite float
is written as `null` where it stands (what JavaScript's JSON.stringify writes), and its place and
value are listed under "non_finite", for the readers that want the number back:

    "final": {"global_step": 512, "eval/expert_ratio": null},
    "non_finite": [{"path": ["final", "eval/expert_ratio"], "value": "NaN"}]

`path` is the keys (and list indices) from the top, as jq's getpath takes them; `value` is "NaN",
"Infinity" or "-Infinity", which float() reads. `from_text` puts the numbers back, so a summary
read through it is the one the run held; it also reads a summary written before this format.
"""

from __future__ import annotations

import json
import math
from typing import Any

NON_FINITE = "non_finite"


def to_text(summary: dict[str, Any]) -> str:
    """The summary as JSON text that any JSON reader accepts."""
    found: list[dict[str, Any]] = []
    plain = _nulled(summary, [], found)
    if found:
        plain[NON_FINITE] = found
    return json.dumps(plain, indent=2, default=str, allow_nan=False)


def from_text(text: str) -> Any:
    """What `to_text` wrote, its non-finite numbers back in their places. Raises ValueError
    (json.JSONDecodeError) on text that is not JSON, as json.loads does, and on JSON nested too
    deeply to parse (someone else's crafted file), which json.loads raises as a RecursionError."""
    try:
        data = json.loads(text)  # also reads the bare NaN / Infinity of a summary written before this format
    except RecursionError:
        raise ValueError("nested too deeply to parse") from None
    if not isinstance(data, dict) or not isinstance(data.get(NON_FINITE), list):
        return data
    for entry in data.pop(NON_FINITE):
        _put_back(data, entry)
    return data


def _nulled(value: Any, path: list[Any], found: list[dict[str, Any]]) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        found.append({"path": list(path), "value": json.dumps(value)})  # NaN, Infinity, -Infinity
        return None
    if isinstance(value, dict):
        return {k: _nulled(v, [*path, k], found) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nulled(v, [*path, i], found) for i, v in enumerate(value)]
    return value


def _put_back(data: dict[str, Any], entry: Any) -> None:
    """One listed number back in its place. An entry that names no null (a summary edited by hand)
    is left alone: reading never fails on it."""
    if not isinstance(entry, dict) or not isinstance(entry.get("path"), list) or not entry["path"] \
            or entry.get("value") not in ("NaN", "Infinity", "-Infinity"):
        return
    *parents, last = entry["path"]
    holder: Any = data
    for key in parents:
        holder = _child(holder, key)
    if _child(holder, last) is None:  # a null stands there
        holder[last] = float(entry["value"])


_ABSENT = object()


def _child(holder: Any, key: Any) -> Any:
    """holder[key] when `holder` is a mapping with that key or a list with that index; else _ABSENT."""
    if isinstance(holder, dict) and isinstance(key, str) and key in holder:
        return holder[key]
    if isinstance(holder, list) and isinstance(key, int) and not isinstance(key, bool) and -len(holder) <= key < len(holder):
        return holder[key]
    return _ABSENT
