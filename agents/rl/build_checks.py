"""What SB3 would refuse as it builds an algorithm, refused first in rlgen's words: an action
space the algorithm cannot act in (with the registered algorithms that can), and
`optimize_memory_usage` beside the replay buffer's time-limit handling (with the setting it needs).
`SB3Learner` asks both before it builds."""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
from sb3_contrib import MaskablePPO
from sb3_contrib.common.maskable.utils import is_masking_supported
from stable_baselines3.common.base_class import BaseAlgorithm
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
    the registered ones that can, before SB3's assertion says so in its own words."""
    space = env.action_space
    if acts_in(algo, space):
        return None
    name = next((n for n, cls in ALGOS.items() if cls is algo), algo.__name__)
    needs = " or ".join(kind for kind, example in _ACTION_KINDS.items() if acts_in(algo, example))
    masks = is_masking_supported(env)  # maskable_ppo fits only an env with action_masks()
    fits = [n for n, cls in ALGOS.items() if acts_in(cls, space) and (masks or cls is not MaskablePPO)]
    fix = f"use one of {', '.join(fits)}" if fits else "no registered algorithm acts in it: wrap the env's actions"
    return f"agent.algo: {name} needs {needs} actions, and {target} acts in {shown_space(space)}; {fix}"


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
