"""Any two-player turn-based PettingZoo AEC game as a gymnasium env seen from the learner's seat.

The opponent is a plain callable `(observation, action_mask) -> action`, drawn anew at every reset
from `draw_opponent` (the league hands one in; `envs` never imports `agents`). Its moves are played
inside `step`, so the learner sees only its own turns. The seat alternates between episodes.

Reward attribution: the learner's reward is the sum of `rewards[learner]` over every AEC
step between two of its own moves, its own move and the opponent's replies. So when the opponent's
move ends the game, the learner's step that precedes it receives the loss (or the draw). PettingZoo's
SB3 connect-four tutorial reads only the reward of the learner's own step, never learns that a
move lets the opponent win, and loses to a random player.

    env = TurnBasedEnv(make_game("connect_four_v3"), fixed_opponent(random_move))
    obs, info = env.reset(seed=0)
    obs, reward, terminated, truncated, info = env.step(int(env.action_masks().argmax()))
"""

from __future__ import annotations

import functools
import types
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np
from pettingzoo.utils.env import AECEnv

from rlgen.errors import RlgenError, first_line
from rlgen.registry import GAMES

Opponent = Callable[[np.ndarray, np.ndarray], int]  # (observation, action_mask) -> action
DrawOpponent = Callable[[], tuple[str, Opponent]]  # -> (name, opponent), once per episode
OnResult = Callable[[str, float], None]  # (opponent name, learner's outcome +1 / 0 / -1)
GameFactory = Callable[[], AECEnv]

ILLEGAL_MOVE_REWARD = -1.0  # an illegal move loses the game, as PettingZoo's TerminateIllegalWrapper does


def make_game(name: str, kwargs: Mapping[str, Any] | None = None, raw: bool = True) -> GameFactory:
    """A factory for a PettingZoo AEC game from `rlgen.registry.GAMES`: a registered name, any
    `pettingzoo.classic` game (`go_v5`), a dotted module path with `env()`, or an import path of a
    function returning an AECEnv (`mypkg.games:env`). `kwargs` go to the game (go_v5's
    board_size). `raw` skips PettingZoo's order-enforcing wrappers (half the cost of a step); the
    adapter honours the API itself."""
    game = GAMES.get(name)
    kwargs = dict(kwargs or {})
    if isinstance(game, types.ModuleType):
        game = game.raw_env if raw and hasattr(game, "raw_env") else getattr(game, "env", None)
        if game is None:
            raise RlgenError(f"game module {name!r} has no env() or raw_env()")
    return functools.partial(_build_game, game, name, kwargs)


def _build_game(factory: Callable[..., Any], name: str, kwargs: dict[str, Any]) -> AECEnv:
    try:
        env = factory(**kwargs)
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the game's constructor refuses
        hint = "" if isinstance(e, ImportError) else " (check game.kwargs)"
        raise RlgenError(f"game {name!r}: {type(e).__name__}: {first_line(e)}{hint}") from None
    if not isinstance(env, AECEnv):
        raise RlgenError(f"game {name!r} built a {type(env).__name__}, not a PettingZoo AECEnv")
    return env


def check_game(name: str, kwargs: Mapping[str, Any] | None = None) -> str | None:
    """None when `name` is a two-player AEC game with an action mask, else a one-line problem."""
    try:
        env = make_game(name, kwargs)()
    except RlgenError as e:
        return str(e)
    env.reset(seed=0)
    if len(env.possible_agents) != 2:
        return f"game {name!r} has {len(env.possible_agents)} players; self-play needs a two-player game"
    space = env.observation_space(env.possible_agents[0])
    if not isinstance(space, gym.spaces.Dict) or "action_mask" not in space.spaces:
        return f"game {name!r} has no action_mask in its observations"
    return None


def planes_to_image(observation: np.ndarray) -> np.ndarray:
    """(H, W, C) planes of 0/1 -> (C, H, W) uint8 of 0/1, which a `cnn` backbone reads as channels
    (the 6x7 connect-four board wants kernels 3 with padding 1). Not 0/255: SB3 would take that for
    an image and guess its channel axis from the shape, and go's 17 planes of a 5x5 board would be
    read as 5 channels of 17x5."""
    return np.ascontiguousarray(np.moveaxis(np.asarray(observation), -1, 0).astype(np.uint8))


def fixed_opponent(opponent: Opponent, name: str = "fixed") -> DrawOpponent:
    """A `draw_opponent` that always returns the same opponent."""
    return lambda: (name, opponent)


class TurnBasedEnv(gym.Env):
    """A two-player AEC game from one seat: observations (*board, planes), a Discrete action, the
    opponent's replies played inside `step`, `action_masks()` for MaskablePPO.

    `seat`: "alternate" (first, second, first, ... over episodes), "first" or "second".
    `image`: observations as `planes_to_image` makes them, (C, H, W) uint8, for a `cnn` backbone.
    Given a seed, the env is deterministic when the opponent is (the opponent owns its randomness).
    """

    metadata = {"render_modes": []}

    def __init__(self, game: GameFactory, draw_opponent: DrawOpponent, on_result: OnResult | None = None,
                 seat: str = "alternate", image: bool = False):
        if seat not in ("alternate", "first", "second"):
            raise RlgenError(f"seat must be alternate, first or second, not {seat!r}")
        self.game = game()
        self.draw_opponent, self.on_result, self.seat_mode = draw_opponent, on_result, seat
        first = self.game.possible_agents[0]
        self.observation_space = self.game.observation_space(first)["observation"]
        self.image = image
        if image:
            h, w, c = self.observation_space.shape
            self.observation_space = gym.spaces.Box(0, 1, (c, h, w), np.uint8)
        self.action_space = self.game.action_space(first)
        self.episodes = 0  # counts resets since the last seeded one; picks the seat
        self._seat_offset = 0  # seed % 2, so vectorized copies seeded s, s+1, ... start in both seats
        self.learner = first
        self.opponent_name, self.opponent = "", None
        self._mask = np.ones(self.action_space.n, dtype=bool)

    # --- gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.game.reset(seed=seed)
        if seed is not None:  # a seeded reset restarts the alternation: same seed, same seats
            self.episodes, self._seat_offset = 0, seed % 2
        agents = self.game.possible_agents
        seat = {"first": 0, "second": 1}.get(self.seat_mode, (self.episodes + self._seat_offset) % 2)
        self.learner, self.episodes = agents[seat], self.episodes + 1
        self.opponent_name, self.opponent = self.draw_opponent()
        reward = self._play_opponent()
        assert not self._over(), "the game ended before the learner's first move"
        obs = self._observe()
        return obs, {"seat": seat, "opponent": self.opponent_name, "reward_before_first_move": reward}

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = int(action)
        if not (0 <= action < self.action_space.n and self._mask[action]):
            # The game would assert; the learner loses instead (MaskablePPO never gets here).
            return self._finish(self._observe(), ILLEGAL_MOVE_REWARD, {"illegal_move": True})
        self.game.step(action)
        reward = float(self.game.rewards[self.learner])
        if not self._over():
            reward += self._play_opponent()
        obs = self._observe()
        if self._over():
            return self._finish(obs, reward, {})
        return obs, reward, False, False, {}

    def action_masks(self) -> np.ndarray:
        """Legal moves of the learner now, as booleans (sb3-contrib's ActionMasker protocol)."""
        return self._mask.copy()

    # --- internals -----------------------------------------------------------------------------

    def _play_opponent(self) -> float:
        """Play the opponent's moves until it is the learner's turn or the game is over; the
        learner's rewards from those moves."""
        reward = 0.0
        while not self._over() and self.game.agent_selection != self.learner:
            seen = self.game.observe(self.game.agent_selection)
            move = int(self.opponent(seen["observation"], seen["action_mask"].astype(bool)))
            if not seen["action_mask"][move]:
                raise RlgenError(f"opponent {self.opponent_name!r} played the illegal move {move}")
            self.game.step(move)
            reward += float(self.game.rewards[self.learner])
        return reward

    def _observe(self) -> np.ndarray:
        seen = self.game.observe(self.learner)
        self._mask = seen["action_mask"].astype(bool)
        return planes_to_image(seen["observation"]) if self.image else seen["observation"]

    def _over(self) -> bool:
        return bool(self.game.terminations[self.learner] or self.game.truncations[self.learner])

    def _finish(self, obs: np.ndarray, reward: float, info: dict) -> tuple[np.ndarray, float, bool, bool, dict]:
        truncated = bool(self.game.truncations[self.learner]) and not self.game.terminations[self.learner]
        outcome = float(np.sign(reward))
        if self.on_result is not None:
            self.on_result(self.opponent_name, outcome)
        self._mask = np.zeros_like(self._mask)
        self._mask[0] = True  # a terminal mask must not be all-False (MaskablePPO builds a distribution)
        info = {**info, "outcome": outcome, "opponent": self.opponent_name}
        return obs, reward, not truncated, truncated, info


def play_game(game: AECEnv, players: tuple[Opponent, Opponent], seed: int | None = None) -> float:
    """One game between two move functions, `players[0]` in the first seat; its outcome for the
    first player: +1 win, 0 draw, -1 loss."""
    game.reset(seed=seed)
    first = game.possible_agents[0]
    total = 0.0
    while not (game.terminations[first] or game.truncations[first]):
        agent = game.agent_selection
        seen = game.observe(agent)
        player = players[game.possible_agents.index(agent)]
        move = int(player(seen["observation"], seen["action_mask"].astype(bool)))
        if not seen["action_mask"][move]:
            return -1.0 if agent == first else 1.0  # the illegal mover loses
        game.step(move)
        total += float(game.rewards[first])
    return float(np.sign(total))
