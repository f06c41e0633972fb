"""A run's identity in a few words: what differs from the config it came from.

Two runs of `ppo_cartpole`, one with `optim.lr=3e-4`, must not look alike in W&B, whose default
grouping would pool them. The run name, group and tags therefore show the config keys in which the
run differs from its base (the bundled config of the same name, or the rl-zoo3 entry a `zoo_...`
name was converted from; for any other name, the user's config file without the command line's
overrides), leaving out the keys `rlgen compare` never groups by (the seed, where and
how a run logs, checkpoints and steps its envs: `rlgen.compare_groups.IGNORED_KEYS`):

    name   "ppo_cartpole lr=3e-4 s1"    every run its own
    group  "ppo_cartpole lr=3e-4"       the seeds of one variant together (`--seeds` keeps one group)
    tags   ["lr=3e-4"]                  filterable in the runs table
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping

from rlgen.config import ExperimentConfig

# W&B's limits: a run name or group of more than 128 characters fails when the run starts or syncs
# (NVIDIA-NeMo/Skills#842), a tag of more than 64 too (wandb#4208; wandb.Settings checks tags itself).
MAX_LEN = 128
MAX_TAG = 64


@dataclass(frozen=True)
class Identity:
    name: str
    group: str
    tags: list[str]


def identity(cfg: ExperimentConfig, base: ExperimentConfig | None = None) -> Identity:
    """Name, group and tags of a run of `cfg`; `base` defaults to the config it came from."""
    base = base if base is not None else base_config(cfg)
    parts = [] if base is None else describe(differences(cfg, base))
    variant, seed = " ".join([cfg.name, *parts]), f" s{cfg.seed}"
    return Identity(name=clip(variant, MAX_LEN - len(seed)) + seed, group=clip(variant, MAX_LEN),
                    tags=[clip(p, MAX_TAG) for p in parts])


def base_config(cfg: ExperimentConfig) -> ExperimentConfig | None:
    """The bundled config named like `cfg` (or the zoo entry a `zoo_...` name comes from), validated;
    else the file of the user's own that `cfg` was loaded from, without the command line's overrides
    (`cfg._base`, which rlgen.load_config keeps); None when neither is there."""
    from rlgen.api import load_config, named_config

    # the bundled config first: a copy of it kept under its name and edited shows its edits, as before
    source = named_config(cfg.name)
    if source is None:
        return cfg._base
    try:
        return load_config(source)
    except Exception:  # noqa: BLE001 - e.g. its env's extra is missing here: then the file's own base, if any
        return cfg._base


def differences(cfg: ExperimentConfig, base: ExperimentConfig) -> dict[str, Any]:
    """Dotted key -> value in `cfg`, for every key whose value differs from `base`'s (a key that
    `cfg` lacks shows as None). Keys under a `*.type` that differs are left out: they follow from it."""
    # one list of the keys that never tell variants apart, `rlgen compare`'s: the seeds of a queue whose
    # workers set them for their own machine (train.checkpoint_every, env.vectorize) stay one W&B group
    from rlgen.compare_groups import _ignored, flatten

    mine, theirs = flatten(cfg.model_dump(mode="json")), flatten(base.model_dump(mode="json"))
    keys = [k for k in dict.fromkeys([*mine, *theirs]) if not _ignored(k) and mine.get(k) != theirs.get(k)]
    retyped = [k[: -len("type")] for k in keys if k.endswith(".type")]
    return {k: mine.get(k) for k in keys if k.endswith(".type") or not any(k.startswith(t) for t in retyped)}


def describe(diffs: Mapping[str, Any]) -> list[str]:
    """`key=value` words with the shortest key suffixes that stay unique: optim.lr -> lr;
    agent.policy.backbone.type -> backbone."""
    paths = {k: (k[: -len(".type")] if k.endswith(".type") else k).split(".") for k in diffs}
    depth = {k: 1 for k in diffs}
    while True:
        short = {k: ".".join(p[-depth[k]:]) for k, p in paths.items()}
        clashes = {k for k in short if list(short.values()).count(short[k]) > 1 and depth[k] < len(paths[k])}
        if not clashes:
            return [f"{short[k]}={show(v)}" for k, v in diffs.items()]
        for k in clashes:
            depth[k] += 1


def show(v: Any) -> str:
    """A compact value: 3e-4 rather than 0.0003, [128,128] without spaces. A float keeps every
    digit it needs (Python's shortest repr): rounded, 0.99999 and 1.0 would be one W&B group."""
    if isinstance(v, bool) or v is None:
        return str(v).lower() if v is not None else "null"
    if isinstance(v, float):
        if not math.isfinite(v):  # `max_grad_norm: .inf` (no clipping): as YAML writes it
            return {math.inf: ".inf", -math.inf: "-.inf"}.get(v, ".nan")
        if v == 0 or 1e-3 <= abs(v) < 1e5:
            return repr(v).removesuffix(".0")  # positional in this range: 0.99999, 1
        mantissa, exp = format(Decimal(repr(v)).normalize(), "e").split("e")  # repr's digits: 2.5e+5
        return f"{mantissa}e{int(exp)}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(show(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{show(x)}" for k, x in v.items()) + "}"
    return str(v)


def clip(text: str, n: int) -> str:
    """`text` in at most `n` characters. A longer one is cut and ends in `… ` and 8 hex digits of
    a hash of the whole: two texts that differ only past the cut stay two, and one text is cut the
    same way in every process (a run's seeds share their group)."""
    if len(text) <= n:
        return text
    digest = hashlib.blake2b(text.encode(), digest_size=4).hexdigest()
    return f"{text[: n - len(digest) - 2]}… {digest}"
