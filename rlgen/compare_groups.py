"""Which runs `rlgen compare` pools: groups of runs by the config keys in which they differ (or by
the `--by` keys the user names, never pooling runs scored on different envs, games or data sets),
with short labels that show what tells the groups apart.

The numbers of each group are `rlgen.compare`'s; this module reads the runs' configs only.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from rlgen.errors import RlgenError
from rlgen.run_data import RunData

# Keys that differ between seeds of one experiment, or only change where and how it is logged,
# checkpointed or stepped (neither what a run learns nor when it is evaluated): they never define a group.
# The device stays a key: set by hand (not `auto`), it is there to compare devices.
IGNORED_KEYS = ("seed", "logging", "train.progress", "train.threads", "train.video_every",
                "train.checkpoint_every", "train.keep_checkpoints", "env.vectorize")

# What a run is scored on: runs that differ here are never one group (their returns are not on one scale).
TASK_KEYS = ("env.id", "eval_env.id", "game.name", "data.source")


@dataclass
class Group:
    label: str
    runs: list[RunData]
    omitted: tuple[str, ...] = ()  # differing config keys the labels leave out (too long to show them all)


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a": {"b": 1}} -> {"a.b": 1}; lists stay values."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _ignored(key: str) -> bool:
    return any(key == k or key.startswith(k + ".") for k in IGNORED_KEYS)


_MISSING = object()


class _Section(dict):
    """The keys under a `--by` key that names a section of the config (`agent.policy.backbone`,
    which a sweep's categorical replaces whole), relative to it: {"type": "mlp", "hidden": [16]}."""


def _value(flat: Mapping[str, Any], key: str) -> Any:
    """A run's value of a dotted key: the value, the _Section below it, or _MISSING."""
    if key in flat:
        return flat[key]
    # what the default grouping never groups by (train.threads, a transfer's init.run path) stays out,
    # unless the key named is one of those (`--by logging`): then it was asked for, as `--by seed` is
    section = _Section((k[len(key) + 1:], v) for k, v in flat.items()
                       if k.startswith(key + ".") and (_ignored(key) or not _ignored(k)))
    return section if section else _MISSING


def _key(v: Any) -> str:
    """An exact, hashable identity for a config value."""
    return "\0missing" if v is _MISSING else json.dumps(v, sort_keys=True)


def _show(v: Any, short: bool = True) -> str:
    """A display of a config value: floats to 4 significant digits when short, lists as compact JSON."""
    if v is _MISSING:
        return "—"
    if isinstance(v, _Section):  # as a sweep file writes a choice: {type: mlp, hidden: [16]}
        return "{" + ", ".join(f"{k}: {_show(x, short)}" for k, x in v.items()) + "}"
    if isinstance(v, float):
        return f"{v:.4g}" if short else repr(v)
    return json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else str(v)


def group_runs(runs: Sequence[RunData], by: Sequence[str] | None = None) -> list[Group]:
    """Groups of runs with equal values of the `by` keys, or, without `by`, equal configs up to
    the seed and the logging settings. A `by` key may name a section of the config: its runs group
    by all the keys below it. Labels show what tells the groups apart. A `by` group that holds runs
    scored on different tasks (env ids, games, data sets) is refused."""
    flat = [flatten(r.config) for r in runs]
    if by:
        _check_keys(by, flat)
        keys = list(by)
    else:
        all_keys = sorted({k for f in flat for k in f if not _ignored(k)})
        keys = [k for k in all_keys if len({_key(f.get(k, _MISSING)) for f in flat}) > 1]
    # Only a named key stands for a section: found by the differing leaves, `eval_env` is `{}` or absent
    value = _value if by else lambda f, k: f.get(k, _MISSING)
    buckets: dict[tuple[str, ...], list[int]] = {}
    for i, f in enumerate(flat):
        buckets.setdefault(tuple(_key(value(f, k)) for k in keys), []).append(i)
    rows = _differing_parts([[value(flat[members[0]], k) for k in keys] for members in buckets.values()])
    labels, omitted = _labels(keys, rows, explicit=bool(by))
    if by:
        for label, members in zip(labels, buckets.values()):
            _check_one_task(by, label, [flat[i] for i in members])
    groups = [Group(lab, [runs[i] for i in members], tuple(omitted)) for lab, members in zip(labels, buckets.values())]
    return sorted(groups, key=lambda g: _natural(g.label))


def _differing_parts(rows: list[list[Any]]) -> list[list[Any]]:
    """Rows whose sections keep only the keys in which the groups' sections differ (a key one lacks
    shows as "—"), `type` first; a section no other differs from is shown whole."""
    for col in range(len(rows[0]) if rows else 0):
        sections = [r[col] for r in rows if isinstance(r[col], _Section)]
        names = list(dict.fromkeys(k for s in sections for k in s))
        differ = [k for k in names if len({_key(s.get(k, _MISSING)) for s in sections}) > 1]
        shown = sorted(differ or names, key=lambda k: k != "type")
        for r in rows:
            if isinstance(r[col], _Section):
                r[col] = _Section((k, r[col].get(k, _MISSING)) for k in shown)
    return rows


def _check_one_task(by: Sequence[str], label: str, flat: Sequence[Mapping[str, Any]]) -> None:
    """Refuse a group whose runs are scored on different tasks: a mean of CartPole and Acrobot
    returns, or a threshold counted over both, means nothing."""
    for key in TASK_KEYS:
        seen = sorted({_show(f.get(key, _MISSING)) for f in flat})
        if len(seen) > 1:
            fix = ",".join(dict.fromkeys([key, *by]))
            raise RlgenError(f"--by {','.join(by)}: the group {label} holds runs scored on different tasks "
                             f"({key}: {', '.join(seen)}), whose values are not on one scale; group by the task "
                             f"too: --by {fix}")


def _natural(label: str) -> list[Any]:
    """A sort key that orders the numbers in a label by value: seed=2 before seed=10, 4096 before 20000."""
    parts = re.split(r"(-?\d+(?:\.\d+)?(?:e[-+]?\d+)?)", label)
    return [(0, float(p), "") if i % 2 else (1, 0.0, p) for i, p in enumerate(parts)]


def _check_keys(by: Sequence[str], flat: Sequence[Mapping[str, Any]]) -> None:
    """Every `by` key is a key, or a section, of some run's config; else a "did you mean"."""
    known = sorted({".".join(k.split(".")[:n]) for f in flat for k in f for n in range(1, k.count(".") + 2)})
    for key in by:
        if not any(_value(f, key) is not _MISSING for f in flat):
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RlgenError(f"--by {key}: no run has this config key{hint}")


LABEL_WIDTH = 60  # past this, a label shows the fewest keys that tell the groups apart
# The keys a short label prefers, in this order: what the runs are, then what they are scored on
HEADLINE = ("name", *TASK_KEYS, "kind", "agent.algo")


def _labels(keys: list[str], rows: list[list[Any]], explicit: bool) -> tuple[list[str], list[str]]:
    """Short labels for groups (one row of config values each), and the differing keys they leave
    out. The run name when names tell groups apart; else `key=value` for the differing keys,
    leaving out keys below a `*.type` that differs (they follow from the type); where that runs past
    LABEL_WIDTH, the fewest of those keys that tell the groups apart. Floats show 4 digits unless
    two groups would then look alike."""
    if not keys:
        return ["all runs"] * len(rows), []
    if not explicit and "name" in keys:
        names = [str(r[keys.index("name")]) for r in rows]
        if len(set(names)) == len(names):
            return names, []
    types = [k[: -len("type")] for k in keys if k.endswith(".type")]
    keep = [i for i, k in enumerate(keys) if not any(k.startswith(t) and not k.endswith(".type") for t in types)]
    for short in (True, False):  # two values that look alike at 4 digits: show them whole
        shown = [[_show(v, short) for v in r] for r in rows]
        for idx in (keep, list(range(len(keys)))):
            labels = [", ".join(f"{keys[i]}={r[i]}" for i in idx) for r in shown]
            if len(set(labels)) == len(labels):
                break
        if len(set(labels)) == len(labels):
            break
    if explicit or max(map(len, labels)) <= LABEL_WIDTH:
        return labels, []
    chosen = _fewest_keys(keys, idx, rows)
    labels = []
    for r, text in zip(rows, shown):
        present = [i for i in chosen if r[i] is not _MISSING] or chosen  # "key=—" only where nothing else shows
        labels.append(", ".join(f"{keys[i]}={text[i]}" for i in present))
    return labels, [keys[i] for i in idx if i not in chosen]


def _fewest_keys(keys: list[str], candidates: list[int], rows: list[list[Any]]) -> list[int]:
    """Greedily, the keys (indices) that tell the rows apart: each step takes the one that splits
    the most groups still alike, preferring HEADLINE keys, then `*.type`, then keys every group has."""

    def distinct(idx: list[int]) -> int:
        return len({tuple(_key(r[i]) for i in idx) for r in rows})

    def preference(i: int) -> tuple[int, int, int, int]:
        key = keys[i]
        rank = HEADLINE.index(key) if key in HEADLINE else len(HEADLINE) + (not key.endswith(".type"))
        missing = sum(r[i] is _MISSING for r in rows)
        return distinct([*chosen, i]), -rank, -missing, -len(key)

    chosen: list[int] = []
    while distinct(chosen) < len(rows):
        chosen.append(max((i for i in candidates if i not in chosen), key=preference))
    return chosen


def _identity(run: RunData) -> str:
    """Two runs are the same run when they share the seed and every key that changes what a run
    learns (all but IGNORED_KEYS). A config without a seed is its own."""
    flat = flatten(run.config)
    return _key({k: v for k, v in flat.items() if k == "seed" or not _ignored(k)}) if "seed" in flat else str(run.path)
