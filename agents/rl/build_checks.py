"""What SB3 would refuse, or fail on, as it builds an algorithm, said first in rlgen's words: an
action space the algorithm cannot act in (with the registered algorithms that can, or the bounds it
lacks), and `optimize_memory_usage` beside the replay buffer's time-limit handling (with the setting
it needs), which `SB3Learner` asks before it builds; a malformed `action_noise`, which
`RLExperiment.check` asks before a run starts."""

from __future__ import annotations

import inspect
from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from rich.markup import escape
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import is_masking_supported
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from rlgen.agents.rl.algos import ALGOS
from rlgen.envs import shown_space
from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.runner import RunContext


# SB3 checks the action spaces an algorithm takes in its constructor, and keeps the list nowhere
# to read: `acts_in` asks the constructor, on a stand-in env of these kinds
_ACTION_KINDS = {"continuous (Box)": gym.spaces.Box(-1, 1, (1,)), "Discrete": gym.spaces.Discrete(2),
                 "MultiDiscrete": gym.spaces.MultiDiscrete([2, 2]), "MultiBinary": gym.spaces.MultiBinary(2)}


class _ActsIn(gym.Env):
    """A stand-in env that only has spaces: enough for an SB3 constructor that builds no networks."""

    def __init__(self, action_space: gym.Space):
        self.observation_space, self.action_space = gym.spaces.Box(-1, 1, (1,)), action_space


def acts_in(algo: type[BaseAlgorithm], space: gym.Space) -> bool:
    """Whether SB3 builds `algo` for actions in `space` (`_init_setup_model=False`: no networks, no draws)."""
    policy = next(iter(getattr(algo, "policy_aliases", None) or ()), None)
    if policy is None:
        return True  # an algorithm that names no policy (a plugin's): its own build says what it refuses
    try:
        algo(policy, DummyVecEnv([lambda: _ActsIn(space)]), device="cpu", _init_setup_model=False)
    except AssertionError:  # BaseAlgorithm's action-space check
        return False
    except Exception:  # noqa: BLE001 - a constructor of another shape (a plugin's) is asked nothing here
        return True
    return True


def action_space_problem(algo: type[BaseAlgorithm], env: VecEnv, target: str) -> str | None:
    """An algorithm that cannot act in the env's action space (TQC in Discrete, DQN in Box), with
    the registered ones that can, before SB3's assertion says so in its own words; a Box without
    the bounds SB3 needs (`_unbounded_problem`, `_fixed_dimension_problem`)."""
    space = env.action_space
    name = next((n for n, cls in ALGOS.items() if cls is algo), algo.__name__)
    if problem := _unbounded_problem(space, target):  # before `acts_in`, which reads it as the wrong kind
        return problem
    if acts_in(algo, space):
        return _fixed_dimension_problem(algo, name, space, target)
    needs = " or ".join(kind for kind, example in _ACTION_KINDS.items() if acts_in(algo, example))
    masks = is_masking_supported(env)  # maskable_ppo fits only an env with action_masks()
    fits = [n for n, cls in ALGOS.items() if acts_in(cls, space) and (masks or cls is not MaskablePPO)
            and _fixed_dimension_problem(cls, n, space, target) is None]
    fix = f"use one of {', '.join(fits)}" if fits else "no registered algorithm acts in it: wrap the env's actions"
    return f"agent.algo: {name} needs {needs} actions, and {target} acts in {shown_space(space)}; {fix}"


def _unbounded_problem(space: gym.Space, target: str) -> str | None:
    """A Box with an infinite (or NaN) bound, which every SB3 algorithm asserts against
    (`BaseAlgorithm.__init__`). gymnasium's ClipAction makes such a Box, and RescaleAction
    refuses one, so the fix is the env's own bounds or a wrapper that declares some."""
    if not isinstance(space, gym.spaces.Box) or (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
        return None
    return (f"{target} acts in {shown_space(space)}: actions need finite low/high bounds; give the env's "
            "action_space the bounds its actions take, or wrap it in a gymnasium ActionWrapper with a bounded one")


def _fixed_dimension_problem(algo: type[BaseAlgorithm], name: str, space: gym.Space, target: str) -> str | None:
    """A Box dimension with low == high under an off-policy algorithm: SB3 rescales each action
    to [-1, 1] by dividing by high - low (`BasePolicy.scale_action`), so that dimension is NaN,
    and the NaN losses that follow read as a diverged run. On-policy ones only clip or unscale."""
    fixed = np.argwhere(space.low == space.high) if isinstance(space, gym.spaces.Box) else []
    if not issubclass(algo, OffPolicyAlgorithm) or len(fixed) == 0:
        return None
    at = tuple(int(i) for i in fixed[0])
    dim = at[0] if len(at) == 1 else at  # the index as the action's shape reads it: 1, or (0, 1)
    more = f" (and {len(fixed) - 1} more)" if len(fixed) > 1 else ""
    return (f"agent.algo: {name} rescales actions by high - low, and action dimension {dim}{more} of {target} has "
            f"low == high ({float(space.low[at])}); drop the dimension or wrap the env (an ActionWrapper that "
            "fills it in), or use an on-policy algorithm such as ppo")


def replay_buffer_problem(hyperparams: Mapping[str, Any]) -> str | None:
    """SB3's ReplayBuffer refuses `optimize_memory_usage` beside its default
    `handle_timeout_termination: true`: it then stores no next observation of its own, so it cannot
    keep a time limit's last one to bootstrap from. Said with the setting that lets it train."""
    buffer = hyperparams.get("replay_buffer_kwargs") or {}
    if hyperparams.get("optimize_memory_usage") is not True or not isinstance(buffer, Mapping) \
            or buffer.get("handle_timeout_termination", True) is False:
        return None
    return ("agent.hyperparams.optimize_memory_usage: SB3's ReplayBuffer then keeps no separate next observations, "
            "so it cannot bootstrap from a time limit's last one; add agent.hyperparams.replay_buffer_kwargs="
            "{handle_timeout_termination: false} (a time limit then ends episodes as a termination does), or drop it")


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
    and how many values a per-dimension list holds as setup builds the noise (`experiment._action_noise`)."""
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
