"""Partially observable tasks: what an agent can only solve by remembering.

- `HideEntries`: a wrapper that removes chosen entries of a flat Box observation, to make your own
  POMDP from any fully observed task: `HideEntries(gym.make("MountainCar-v0"), [1])`.
- `rlgen/CartPoleNoVel-v1`: CartPole-v1 showing (x, theta) only, the velocities hidden.
- `rlgen/PendulumNoVel-v1`: Pendulum-v1 showing (cos theta, sin theta) only, the angular velocity hidden.
- `rlgen/CueRecall-v0`: a cue shown at the first step, a decision asked for `delay` steps later,
  reward 1 only for naming the cue (a T-maze without the maze, Bakker 2001).

The velocity-hidden tasks are the classic POMDP benchmarks of recurrent RL (Wierstra et al. 2007;
Meng et al. 2021): two consecutive observations give the velocity, one does not.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Sequence

import gymnasium as gym
import numpy as np
from gymnasium.envs.classic_control import CartPoleEnv, PendulumEnv

from rlgen.errors import RlgenError


class HideEntries(gym.ObservationWrapper):
    """(F,) Box observation -> (F - len(indices),): the entries at `indices` are removed."""

    def __init__(self, env: gym.Env, indices: Sequence[int]):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box) or len(space.shape) != 1:
            raise RlgenError(f"HideEntries needs a flat Box observation space, got {space}")
        n = space.shape[0]
        indices = _whole_numbers(indices, n)
        hidden = {int(i) % n for i in indices}
        if len(hidden) != len(indices):
            raise RlgenError(f"HideEntries: indices {list(indices)} name an entry twice (a negative index counts from "
                             f"the end: -1 is {n - 1}); give each entry once")
        if len(hidden) == n:
            raise RlgenError("HideEntries: hiding every entry leaves nothing to observe")
        self.keep = np.array([i for i in range(n) if i not in hidden], dtype=np.int64)
        self.observation_space = gym.spaces.Box(space.low[self.keep], space.high[self.keep], dtype=space.dtype)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return observation[self.keep]


def _whole_numbers(indices: Any, n: int) -> Sequence[Real]:
    """`indices` if it is a list of whole numbers (YAML's 1.0 too) within -n..n-1, as env.wrappers
    give them from a config (or a 1-D numpy array, from Python); else one line saying what it takes
    (a bool or 1.5 would index silently)."""
    def whole(i: Any) -> bool:
        return isinstance(i, Real) and not isinstance(i, bool) and float(i).is_integer() and -n <= i < n

    if isinstance(indices, np.ndarray) and indices.ndim == 1:
        indices = indices.tolist()
    if isinstance(indices, (str, bytes)) or not isinstance(indices, Sequence) or not all(map(whole, indices)):
        raise RlgenError(f"HideEntries: indices must be a list of whole numbers within -{n}..{n - 1}, got {indices!r}")
    return indices


def cartpole_novel(**kwargs: Any) -> gym.Env:
    """CartPole-v1 without the cart velocity (entry 1) and the pole's angular velocity (entry 3)."""
    return HideEntries(CartPoleEnv(**kwargs), [1, 3])


def pendulum_novel(**kwargs: Any) -> gym.Env:
    """Pendulum-v1 without the angular velocity (entry 2)."""
    return HideEntries(PendulumEnv(**kwargs), [2])


class CueRecallEnv(gym.Env):
    """Remember a cue for `delay` steps, then name it.

    Observation (n_cues + 1,) float32: step 0 shows the cue one-hot; steps 1..delay-1 are all
    zero; step `delay` sets the last entry (the question). The action there (Discrete(n_cues))
    ends the episode with reward 1 if it names the cue, else 0; earlier actions do nothing. So an
    episode is delay + 1 steps, a memoryless policy succeeds 1 / n_cues of the time, and a window
    must span delay + 1 observations to hold both cue and question.
    """

    metadata: dict[str, Any] = {"render_modes": []}

    def __init__(self, delay: int = 5, n_cues: int = 2):
        self.delay, self.n_cues = _count("delay", delay, 1), _count("n_cues", n_cues, 2)
        self.observation_space = gym.spaces.Box(0.0, 1.0, (self.n_cues + 1,), np.float32)
        self.action_space = gym.spaces.Discrete(self.n_cues)
        self._t, self._cue = 0, 0

    def _obs(self) -> np.ndarray:
        obs = np.zeros(self.n_cues + 1, np.float32)
        if self._t == 0:
            obs[self._cue] = 1.0
        if self._t == self.delay:
            obs[-1] = 1.0
        return obs

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self._t, self._cue = 0, int(self.np_random.integers(self.n_cues))
        return self._obs(), {}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        if self._t == self.delay:
            success = int(action) == self._cue
            return self._obs(), float(success), True, False, {"is_success": success}
        self._t += 1
        return self._obs(), 0.0, False, False, {}


def _count(name: str, value: Any, least: int) -> int:
    """A CueRecall kwarg that counts steps or cues: a whole number >= `least` (YAML's 3.0 too), else
    one line naming it, as env.kwargs reach it from a config (a plain int() would round 2.5 down)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not float(value).is_integer() or value < least:
        raise RlgenError(f"env.kwargs.{name}: CueRecall takes a whole number >= {least}, got {value!r}")
    return int(value)
