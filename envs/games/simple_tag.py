"""mpe2's simple_tag (predators `adversary_*` chase a faster prey `agent_*`) with rlgen's scripted
players and its scoring: `env`, `parallel_env` and `raw_env` are mpe2's own, untouched.

The observation layout, read from mpe2's `Scenario.observation` (full observability):

    predator: [own vel (2), own pos (2), obstacles rel. (2L), other predators rel. (2(A-1)), prey rel. (2G), prey vel (2G)]
    prey:     [own vel (2), own pos (2), obstacles rel. (2L), predators rel. (2A), other prey rel. (2(G-1)), their vel (2(G-1))]

Discrete actions: 0 no-op, 1 -x, 2 +x, 3 -y, 4 +y (mpe2 `SimpleEnv._set_action`). A predator is paid
+10 for every (prey, predator) pair in contact at each step, every predator alike
(`Scenario.adversary_reward`), so the predators' mean return / 10 counts the tags of an episode.

    chaser: every predator accelerates toward the nearest prey.
    evader: the prey moves where the predators are farthest (the nearest weighs most) and mpe2's
            fine for leaving the field (bound(x) > 0 from |x| = 0.9) smallest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from mpe2.simple_tag_v3 import env, parallel_env, raw_env

from rlgen.errors import RlgenError

__all__ = ["PLAYERS", "env", "chaser", "evader", "outcome", "parallel_env", "raw_env", "scores"]

TAG_REWARD = 10.0  # a predator's reward per (prey, predator) contact per step (Scenario.adversary_reward)
# The unit force of each discrete action (mpe2 SimpleEnv._set_action): (5, 2)
ACTION_FORCES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.float64)
LOOKAHEAD = 0.2  # how far ahead the evader weighs each action (about 2 steps of its top speed, 1.3 x dt 0.1)
DT = 0.1  # mpe2's World.dt
# The edge's fine against the danger of the predators in the evader's choice: at 1 it gets away from
# the chaser (0.03 tags an episode) but pays 48 an episode in fines at the edge; at 10, 0.7 tags and 8
FINE_WEIGHT = 10.0


@dataclass(frozen=True)
class Layout:
    """Where things sit in a simple_tag observation, read from the game itself."""

    predators: int  # A
    prey: int  # G
    obstacles: int  # L

    @classmethod
    def of(cls, game: Callable[[], Any]) -> Layout:
        raw = game().unwrapped
        scenario = getattr(raw, "scenario", None)
        if getattr(raw, "continuous_actions", False):
            raise RlgenError("simple_tag's scripted players act with discrete actions (continuous_actions: false)")
        if getattr(scenario, "num_agent_neighbors", None) is not None or \
                getattr(scenario, "num_landmark_neighbors", None) is not None:
            raise RlgenError("simple_tag's scripted players read the fully observed layout "
                             "(num_agent_neighbors / num_landmark_neighbors must be None)")
        agents = raw.world.agents
        obstacles = sum(not getattr(lm, "boundary", False) for lm in raw.world.landmarks)
        return cls(sum(a.adversary for a in agents), sum(not a.adversary for a in agents), obstacles)

    def prey_positions(self, obs: np.ndarray) -> np.ndarray:
        """(..., D) predator observations -> (..., G, 2) prey positions relative to the predator."""
        start = 4 + 2 * self.obstacles + 2 * (self.predators - 1)
        return obs[..., start:start + 2 * self.prey].reshape(*obs.shape[:-1], self.prey, 2)

    def predator_positions(self, obs: np.ndarray) -> np.ndarray:
        """(..., D) prey observations -> (..., A, 2) predator positions relative to the prey."""
        start = 4 + 2 * self.obstacles
        return obs[..., start:start + 2 * self.predators].reshape(*obs.shape[:-1], self.predators, 2)


def best_action(direction: np.ndarray) -> int:
    """The discrete action whose force points most along `direction` (2,); no-op when it is zero."""
    if not np.any(direction):
        return 0
    return int(np.argmax(ACTION_FORCES @ direction))


def chaser(game: Callable[[], Any], side: str, seed: int = 0) -> Callable[[dict[str, np.ndarray]], dict[str, int]]:
    """Every predator accelerates toward the nearest prey (relative position from its observation)."""
    layout = Layout.of(game)

    def act(obs: dict[str, np.ndarray]) -> dict[str, int]:
        actions = {}
        for agent, o in obs.items():
            prey = layout.prey_positions(np.asarray(o, np.float64))  # (G, 2)
            actions[agent] = best_action(prey[np.argmin((prey ** 2).sum(-1))])
        return actions

    return act


def edge_fine(x: np.ndarray) -> np.ndarray:
    """mpe2's fine on the prey for |coordinate| x near or past the edge (`bound` in
    Scenario.agent_reward): 0 inside 0.9, then linear, then exponential, at most 10."""
    return np.where(x < 0.9, 0.0, np.where(x < 1.0, (x - 0.9) * 10, np.minimum(np.exp(2 * x - 2), 10.0)))


def evader(game: Callable[[], Any], side: str, seed: int = 0) -> Callable[[dict[str, np.ndarray]], dict[str, int]]:
    """The prey takes the action whose next position (a `LOOKAHEAD` step along its force, plus its
    drift) is least dangerous: danger = sum over predators of 1 / distance^2, so the nearest weighs
    most, plus mpe2's own fine for the edge (x `FINE_WEIGHT`), so it stays inside the arena."""
    layout = Layout.of(game)

    def act(obs: dict[str, np.ndarray]) -> dict[str, int]:
        actions = {}
        for agent, o in obs.items():
            o = np.asarray(o, np.float64)
            vel, pos, rel = o[0:2], o[2:4], layout.predator_positions(o)  # rel: (A, 2) predators relative to the prey
            steps = LOOKAHEAD * ACTION_FORCES + DT * vel  # (5, 2) where each action takes the prey
            after = rel[None] - steps[:, None]  # (5, A, 2) predators relative to the prey after each action
            danger = (1.0 / np.maximum((after ** 2).sum(-1), 1e-4)).sum(-1)  # (5,)
            fine = edge_fine(np.abs(pos[None] + steps)).sum(-1)  # (5,)
            actions[agent] = int(np.argmin(danger + FINE_WEIGHT * fine))
        return actions

    return act


def scores(returns: dict[str, float]) -> dict[str, float]:
    """Figures of one episode (or a mean over episodes) from the sides' returns: the tags."""
    return {"tags": returns["adversary"] / TAG_REWARD}


def outcome(returns: dict[str, float]) -> dict[str, float]:
    """Each side's points from one episode, for the Elo fit: the predators win when they tag the
    prey at least once, the prey wins when it is never touched."""
    caught = float(returns["adversary"] > 0)
    return {"adversary": caught, "agent": 1.0 - caught}


# name -> (the side it plays, builder(game, side, seed) -> team policy); `random` plays every game
PLAYERS = {"chaser": ("adversary", chaser), "evader": ("agent", evader)}
