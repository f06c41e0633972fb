"""The range an episode's return can take, for the gymnasium envs whose rewards are bounded.

gymnasium's docs state these per-step rewards; times the episode's step limit they bound a return
(CartPole-v1: +1 per step, 500 steps -> [0, 500]). Envs without such a bound (LunarLander's crash
and landing bonuses, Atari scores, ...) have none, and nothing is clipped for them.
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym

# env family (the id before "-v") -> (lowest, highest) reward of one step
STEP_REWARDS: dict[str, tuple[float, float]] = {
    "CartPole": (0.0, 1.0),  # +1 for every step, the last included
    "Acrobot": (-1.0, 0.0),  # -1 per step until the goal
    "MountainCar": (-1.0, 0.0),  # -1 per step (MountainCarContinuous is another family)
    "Pendulum": (-(3.141592653589793**2 + 0.1 * 8**2 + 0.001 * 2**2), 0.0),  # -(θ² + 0.1 θ'² + 0.001 u²)
}
# gymnasium.make kwargs known to leave the rewards alone; any other (CartPole's sutton_barto_reward,
# Pendulum's g, ...) may change them, and then the range above is not known
REWARD_FREE_KWARGS = frozenset({"max_episode_steps", "render_mode"})


def return_bounds(env_id: str, kwargs: Mapping[str, Any] | None = None, wrappers: Any = ()) -> tuple[float, float] | None:
    """(lowest, highest) return of one episode, or None when the env's rewards are not bounded or
    wrappers or kwargs may change them."""
    family = env_id.rpartition("/")[2].split("-v")[0]
    kwargs = kwargs or {}
    if family not in STEP_REWARDS or wrappers or not REWARD_FREE_KWARGS.issuperset(kwargs):
        return None
    steps = kwargs.get("max_episode_steps")
    if steps is None:
        try:
            steps = gym.spec(env_id).max_episode_steps
        except gym.error.Error:
            return None
    if not steps:
        return None
    low, high = STEP_REWARDS[family]
    return low * steps, high * steps
