"""Dice a capture leaves out with a callable object or a bound method (a plugin's scripted player
that keeps its generator on itself, its class not setting `live_state = True`) are reported, as
dice in a function's closure are: a resume from such a capture is not exact and says so."""

import numpy as np
import torch

from rlgen.agents.rl import live_state
from rlgen.envs.games.teams import RandomTeam, team_game

FIX = "; keep it on an object whose class sets live_state = True)"


class Jitter:
    """A team player as a game module may write one: its dice on itself, called for each step."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)

    def __call__(self, obs):
        return {a: int(self.rng.integers(5)) for a in obs}

    def act(self, obs):
        return self(obs)


class Calm:
    """A callable with no dice: behaviour only."""

    def __init__(self):
        self.moves = [0, 1]

    def __call__(self, obs):
        return {a: self.moves[0] for a in obs}


def test_dice_on_a_callable_object_or_a_bound_methods_object_are_reported():
    rng = np.random.default_rng(0)
    live = {"references": [Jitter(0)], "bound": Jitter(1).act, "draw": rng.integers}
    assert live_state.uncaptured(live_state.capture(live)) == [
        f"references.0 (a random generator held by {__name__}.Jitter{FIX}",
        f"bound (a random generator held by {__name__}.Jitter{FIX}",
        f"draw (a random generator held by numpy.random._generator.Generator{FIX}"]


def test_callables_without_dice_and_rlgens_own_are_not_reported():
    """Behaviour with no dice, a torch module (saved as a state dict), and rlgen's random team,
    whose class sets live_state: its dice are captured, not reported."""
    calm = {"calm": Calm(), "bound": Calm().__call__, "net": torch.nn.Linear(2, 2), "builtin": len,
            "random": RandomTeam(team_game("simple_tag_v3", max_cycles=5), "adversary")}
    assert live_state.uncaptured(live_state.capture(calm)) == []


def test_a_bound_method_of_a_kept_object_and_the_global_generators_are_not_reported():
    import random

    import gymnasium as gym
    import numpy as np

    from rlgen.agents.rl import live_state

    class Dispatch(gym.Env):
        observation_space, action_space = gym.spaces.Box(-1, 1, (1,)), gym.spaces.Discrete(2)

        def __init__(self):
            self.reward_fn = self._dense  # its object is the env itself, kept with its np_random
            self.noise, self.coin = np.random.normal, random.random  # the global RNGs: in every checkpoint
            self.own = np.random.default_rng(1).integers  # a generator kept nowhere else: lost

        def _dense(self):
            return float(self.np_random.normal())

    env = Dispatch()
    env.reset(seed=0)
    (lost,) = live_state.uncaptured(live_state.capture(env))
    assert lost.startswith("own (a random generator held by numpy.random._generator.Generator")
