"""What SB3 would refuse, or fail on, as it builds an algorithm, said first in rlgen's words: an
action space the algorithm cannot act in (with the registered algorithms that can, or the bounds it
lacks), and `optimize_memory_usage` beside the replay buffer's time-limit handling (with the setting
it needs), which `SB3Learner` asks before it builds."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import is_masking_supported
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from rlgen.agents.rl.algos import ALGOS
from rlgen.envs import shown_space


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
