"""`agent.hyperparams.action_noise: {type: normal|ornstein_uhlenbeck, sigma: 0.1, ...}`: SB3's noise
object for the off-policy algorithms that take one, and what is wrong with a spec, said before a run
starts (its values, in `RLExperiment.check`) or as a new run starts (keys its type does not take,
which an earlier rlgen dropped without a word)."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import numpy as np
from rich.markup import escape
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import VecEnv

from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.runner import RunContext

# `agent.hyperparams.action_noise: {type: ...}`: the keys each of SB3's noises takes besides its
# type (`mean` is always zero: rlgen centres the noise on the policy's action), with the values
# each key takes: (least, least allowed too, one value per action dimension allowed)
NOISE_KEYS = {"normal": ("sigma",), "ornstein_uhlenbeck": ("sigma", "theta", "dt", "initial_noise")}
_NOISE_VALUES = {"sigma": (0.0, True, True), "theta": (0.0, True, False), "dt": (0.0, False, False),
                 "initial_noise": (-np.inf, True, True)}


def action_noise_problem(algo: type[BaseAlgorithm], spec: Any) -> str | None:
    """A malformed `agent.hyperparams.action_noise` of an algorithm that takes one, in one line
    before any run starts: else a TypeError as setup builds it, or numpy's "scale < 0" at the
    first noisy step. Keys it does not know are refused as a new run starts (`check_noise_keys`),
    and how many values a per-dimension list holds as setup builds the noise (`with_action_noise`)."""
    path = "agent.hyperparams.action_noise"
    if spec is None or "action_noise" not in inspect.signature(algo.__init__).parameters:
        return None  # an algorithm without one: check_hyperparams says it has no such argument
    if not isinstance(spec, Mapping):
        return f"{path}: {spec!r} is not a noise; write {{type: normal, sigma: 0.1}} (type: {' or '.join(NOISE_KEYS)})"
    kind = spec.get("type", "normal")
    if not isinstance(kind, str) or kind not in NOISE_KEYS:
        return f"{path}.type: {kind!r} is not one of {', '.join(NOISE_KEYS)}"
    return next((f"{path}.{key}: {problem}" for key in NOISE_KEYS[kind] if key in spec
                 and (problem := _noise_value_problem(spec[key], *_NOISE_VALUES[key]))), None)


def _noise_value_problem(value: Any, least: float, inclusive: bool, per_dimension: bool) -> str | None:
    """A number (or, `per_dimension`, a list of one per action dimension) that is not finite,
    or under `least` (or at it, unless `inclusive`)."""
    try:
        values = np.asarray(value)
    except ValueError:  # a ragged list
        values = np.asarray(None)
    numbers = values.dtype.kind in "iuf" and values.size > 0 and (per_dimension or values.ndim == 0)
    if numbers and np.all(np.isfinite(values)) and np.all(values >= least if inclusive else values > least):
        return None
    what = f"number {'>=' if inclusive else '>'} {least:g}" if np.isfinite(least) else "finite number"
    return f"{value!r} is not a {what}" + (" or a list of them, one per action dimension" if per_dimension else "")


def check_noise_keys(hyperparams: Mapping[str, Any], ctx: RunContext) -> None:
    """Keys of `action_noise` its type does not take (`std` for sigma), which an earlier rlgen
    dropped without a word: a new run is refused; a run that trained with them opens as it is,
    and resumes with a warning. Here rather than in `RLExperiment.check`,
    which every reopening of a run's config.yaml runs too."""
    spec = hyperparams.get("action_noise")
    kind = spec.get("type", "normal") if isinstance(spec, Mapping) else None  # else refused by `check`
    unknown = [key for key in spec if key != "type" and key not in NOISE_KEYS[kind]] if kind in NOISE_KEYS else []
    if not unknown or not ctx.training:
        return
    why = (f"agent.hyperparams.action_noise: {kind} noise takes no {', '.join(map(repr, unknown))} "
           f"(its keys: type, {', '.join(NOISE_KEYS[kind])})")
    it = "it" if len(unknown) == 1 else "them"
    if not ctx.resumed:
        raise RlgenError(f"{why}; remove {it} or use those keys")
    console.print(f"[yellow]warning:[/] {escape(why)}: this run trained without {it}, and goes on so")


def with_action_noise(hyperparams: dict[str, Any], env: VecEnv) -> dict[str, Any]:
    """`action_noise: {type: normal|ornstein_uhlenbeck, sigma: 0.1, ...}` -> SB3's noise object;
    its keys and values were checked in `RLExperiment.check` (`action_noise_problem`)."""
    spec = hyperparams.get("action_noise")
    if not isinstance(spec, dict):
        return hyperparams
    from stable_baselines3.common.noise import NormalActionNoise, OrnsteinUhlenbeckActionNoise

    kinds = {"normal": NormalActionNoise, "ornstein_uhlenbeck": OrnsteinUhlenbeckActionNoise}
    kind, shape = spec.get("type", "normal"), env.action_space.shape  # the action's own, as SB3 adds the noise to it
    args = {key: _per_dimension(key, value, shape) if key in ("sigma", "initial_noise") else float(value)
            for key, value in {"sigma": 0.1, **spec}.items() if key in NOISE_KEYS[kind]}  # others: `check_noise_keys`
    return {**hyperparams, "action_noise": kinds[kind](mean=np.zeros(shape), **args)}


def _per_dimension(key: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """One number for every action dimension, or one each (a list of the action's shape)."""
    values = np.asarray(value, dtype=float)
    if values.ndim and values.shape != shape:
        raise RlgenError(f"agent.hyperparams.action_noise.{key}: {value!r} does not fit the env's actions of shape "
                         f"{shape}; give one number, or one per action dimension")
    return values * np.ones(shape)
