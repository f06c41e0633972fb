"""The random-policy baseline (`random_return`, Minari's ref_min_score) honours an env's action masks."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from sb3_contrib.common.wrappers import ActionMasker

from rlgen.envs.recording import gym_mask, random_return
from rlgen.errors import RlgenError


class _Forbidden(gym.Env):
    """Reward 1 per step for any action the masks forbid, 0 otherwise: masked random play scores 0."""

    def __init__(self, action_space: gym.Space, masks: list[bool], with_method: bool = True):
        self.action_space, self.masks = action_space, np.array(masks, bool)
        self.observation_space = spaces.Box(-1, 1, (1,), np.float32)
        self.t = 0
        if with_method:
            self.action_masks = lambda: self.masks

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        reward = float(not _allowed(self.action_space, self.masks, action))
        return np.zeros(1, np.float32), reward, False, self.t >= 10, {}


def _allowed(space: gym.Space, masks: np.ndarray, action) -> bool:
    """Whether `action` is allowed by sb3-contrib's flat mask layout for `space`."""
    if isinstance(space, spaces.Discrete):
        return bool(masks[int(action)])
    sizes = space.nvec if isinstance(space, spaces.MultiDiscrete) else [2] * space.n
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    return all(masks[o + int(a)] for o, a in zip(offsets, np.asarray(action)))


CASES = {
    "discrete": (spaces.Discrete(4), [False, True, False, True]),
    "multidiscrete": (spaces.MultiDiscrete([3, 4]), [True, False, True, False, False, True, False]),
    "multibinary": (spaces.MultiBinary(3), [True, False, False, True, True, True]),  # bit 0 -> 0, bit 1 -> 1
}


@pytest.mark.parametrize("name", list(CASES))
def test_random_baseline_plays_only_allowed_actions(name):
    space, masks = CASES[name]
    unmasked = random_return(lambda: gym.wrappers.TimeLimit(_Forbidden(space, masks, with_method=False), 20), 5)
    assert unmasked > 1  # uniform over the whole space earns the forbidden reward
    # the masks reached through wrappers, as sb3-contrib's ActionMasker gives them
    wrapped = random_return(lambda: gym.wrappers.TimeLimit(_Forbidden(space, masks), 20), 5)
    masker = random_return(lambda: ActionMasker(_Forbidden(space, masks, with_method=False), lambda e: e.masks), 5)
    assert wrapped == 0 and masker == 0


def test_masked_random_baseline_still_samples_every_allowed_choice():
    space = spaces.MultiBinary(3)
    space.seed(0)
    mask = gym_mask(space, CASES["multibinary"][1])
    seen = {tuple(space.sample(mask=mask)) for _ in range(50)}
    assert seen == {(0, 1, 0), (0, 1, 1)}  # bit 2 is free, bits 0 and 1 are fixed by the masks


def test_masks_that_do_not_fit_the_space_say_so():
    with pytest.raises(RlgenError, match="gave 3 entries.*needs 7"):
        gym_mask(spaces.MultiDiscrete([3, 4]), [True] * 3)
    with pytest.raises(RlgenError, match="allows no action"):
        gym_mask(spaces.Discrete(2), [False, False])
    assert gym_mask(spaces.Box(-1, 1, (2,)), [True]) is None  # sb3-contrib masks no continuous space
