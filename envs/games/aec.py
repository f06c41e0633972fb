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
import warnings
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np
from pettingzoo.utils.env import AECEnv

from rlgen.envs import EPISODE_STEP_CAP, FLAT_SPACES, nonzero_start, shown_space
from rlgen.errors import RlgenError, RlgenWarning, first_line
from rlgen.registry import GAMES

Opponent = Callable[[np.ndarray, np.ndarray], int]  # (observation, action_mask) -> action
DrawOpponent = Callable[[], tuple[str, Opponent]]  # -> (name, opponent), once per episode
OnResult = Callable[[str, float], None]  # (opponent name, learner's outcome +1 / 0 / -1)
GameFactory = Callable[[], AECEnv]

ILLEGAL_MOVE_REWARD = -1.0  # an illegal move loses the game, as PettingZoo's TerminateIllegalWrapper does
MAX_DEALS = 100  # games one reset deals before a game that never lets the learner move is refused


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


def game_name(name: str) -> str:
    """The one name of a game, for comparing and looking games up: the registered name of the module a
    name points to (`pettingzoo.classic.tictactoe_v3` -> `tictactoe_v3`, `mpe2.simple_push_v3` ->
    `simple_push_v3`), a pettingzoo.classic game by its module name, a module's `env` or `raw_env` as
    the module (`pettingzoo.classic.connect_four_v3:env` -> `connect_four_v3`: `make_game` builds a
    module's game from one of the two); any other name as it is."""
    for entry in GAMES.entries():
        if entry.target == name:
            return entry.name
    module, _, function = name.partition(":")
    if function in ("env", "raw_env"):
        return game_name(module)
    return name.removeprefix("pettingzoo.classic.")


def check_game(name: str, kwargs: Mapping[str, Any] | None = None) -> str | None:
    """None when `name` is a two-player AEC game with an action mask that one policy can play from
    both seats, else a one-line problem. Plays up to `CHECK_MOVES` random legal moves, checking
    every observation against its declared space (a mismatch otherwise breaks deep inside SB3)."""
    try:
        env = make_game(name, kwargs)()
    except RlgenError as e:
        return str(e)
    try:
        env.reset(seed=0)
        if len(env.possible_agents) != 2:
            return f"game {name!r} has {len(env.possible_agents)} players; self-play needs a two-player game"
        if (problem := space_problem(env, name)) is not None:
            return problem
        spaces = {agent: env.observation_space(agent) for agent in env.possible_agents}
        return _check_play(env, name, spaces)
    except RlgenError as e:
        return str(e)
    except Exception as e:  # noqa: BLE001 - the game's own error (its reset, step or observe), in one line
        return (f"game {name!r} with kwargs {dict(kwargs or {})} fails in its first {CHECK_MOVES} random moves: "
                f"{type(e).__name__}: {first_line(e)}")


def space_problem(env: AECEnv, name: str) -> str | None:
    """None when every player of `env` observes a Dict of a flat `observation` and an `action_mask`
    and acts in a Discrete space from 0, the same spaces in every seat (one policy plays both; the
    learner's env is MaskablePPO's, which reads the mask as one flag per Discrete action); else one
    line naming what the game has instead."""
    for agent in env.possible_agents:
        space = env.observation_space(agent)
        keys = list(space.spaces) if isinstance(space, gym.spaces.Dict) else None
        if keys is None or not {"observation", "action_mask"} <= set(keys):
            has = f"a Dict with keys {keys}" if keys is not None else str(space)
            return (f"game {name!r}: {agent} observes {has}; self-play reads a Dict with keys 'observation' (what "
                    "the policy sees) and 'action_mask' (its legal moves), as tictactoe_v3 and go_v5 give")
        if not isinstance(space["observation"], FLAT_SPACES):
            return (f"game {name!r}: {agent}'s 'observation' is {space['observation']}; self-play's policy reads a "
                    "Box, Discrete, MultiDiscrete or MultiBinary observation (gymnasium.spaces.flatten makes one)")
        if (odd := nonzero_start(space["observation"])) is not None:
            return (f"game {name!r}: {agent}'s 'observation' is {shown_space(odd)}, not numbered from 0, and "
                    "SB3 one-hot encodes choices 0..n-1; the game needs its observations numbered from 0 "
                    "(gymnasium.spaces.flatten one-hot encodes from the start)")
        acts = env.action_space(agent)
        if not isinstance(acts, gym.spaces.Discrete) or int(acts.start) != 0:
            return (f"game {name!r}: {agent} acts in {acts}; self-play plays Discrete actions numbered from 0 "
                    "(MaskablePPO, one action_mask flag per action), so the game needs a Discrete(n) action space")
    seats = {agent: (env.observation_space(agent)["observation"], env.action_space(agent)) for agent in env.possible_agents}
    (a, (a_sees, a_acts)), *others = seats.items()
    for b, (b_sees, b_acts) in others:
        if (a_sees, a_acts) != (b_sees, b_acts):
            return (f"game {name!r}: its seats observe or act differently ({a}: {a_sees}, {a_acts}; {b}: {b_sees}, "
                    f"{b_acts}); one policy plays both seats in self-play, so they need the same spaces")
    return None


CHECK_MOVES = 50  # random moves the game check plays: a wrong observation may show only after a few


def _check_play(env: AECEnv, name: str, spaces: Mapping[str, gym.spaces.Dict]) -> str | None:
    """Random legal moves from `env` as reset, every player's observation checked after each; a problem
    in one line, or None."""
    rng = np.random.default_rng(0)
    n_actions = int(env.action_space(env.possible_agents[0]).n)
    for move in range(CHECK_MOVES + 1):
        for agent in env.agents:
            seen = env.observe(agent)
            shape, mask = np.shape(seen["observation"]), np.asarray(seen["action_mask"])
            declared = spaces[agent]["observation"].shape
            if shape != declared or mask.shape != (n_actions,):
                what = (f"an observation of shape {shape}, its observation_space says {declared}" if shape != declared
                        else f"an action_mask of shape {mask.shape} for {n_actions} actions")
                return f"game {name!r} gives {agent} {what} (after {move} moves); fix the game or its spaces"
        mover = env.agent_selection
        if not env.agents or env.terminations[mover] or env.truncations[mover] or move == CHECK_MOVES:
            return None
        legal = np.flatnonzero(env.observe(mover)["action_mask"])
        if legal.size == 0:
            return no_legal_move(name, mover, move)
        env.step(int(rng.choice(legal)))
    return None


def no_legal_move(name: str, agent: str, moves: int) -> str:
    """The line for a game that leaves the player to move without a legal move before it is over: the
    check's, and the one a game met later stops on (no player, learner or not, can move then)."""
    return f"game {name!r} gives {agent} no legal move (after {moves} moves) in a game not over"


def legal_mask(seen: Mapping[str, Any], name: str, agent: str, moves: int) -> np.ndarray:
    """`seen`'s action mask as booleans, for `agent` to move in a game not over; an RlgenError when it
    allows nothing (a random player's `rng.choice` would fail on it, and a policy would pick a masked
    move and be scored as an illegal mover)."""
    mask = np.asarray(seen["action_mask"]).astype(bool)
    if not mask.any():
        raise RlgenError(no_legal_move(name, agent, moves))
    return mask


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
    `name`: the game's name in messages.
    Given a seed, the env is deterministic when the opponent is (the opponent owns its randomness).

    A game that ends before the learner's first move (the first player folds or resigns) gives the
    learner no decision: its result goes to `on_result`, as any game's, and `reset` deals the next
    game, until one lets the learner move.
    """

    metadata = {"render_modes": []}
    name = ""  # a run resumed from a checkpoint saved before `name` existed reads this one
    moves = 0  # and this one, before `moves` existed (it counts for messages only)
    # and this one, before `game_return` existed: a game in progress sums its rewards from the resume
    # on, which is its whole return in a game that pays only at its end (tic-tac-toe, connect four)
    game_return = 0.0

    def __init__(self, game: GameFactory, draw_opponent: DrawOpponent, on_result: OnResult | None = None,
                 seat: str = "alternate", image: bool = False, name: str = ""):
        if seat not in ("alternate", "first", "second"):
            raise RlgenError(f"seat must be alternate, first or second, not {seat!r}")
        self.game = game()
        self.name = name or self.game.metadata.get("name", type(self.game).__name__)
        if (problem := space_problem(self.game, self.name)) is not None:
            raise RlgenError(problem)
        self.draw_opponent, self.on_result, self.seat_mode = draw_opponent, on_result, seat
        first = self.game.possible_agents[0]
        self.observation_space = self.game.observation_space(first)["observation"]
        self.image = image
        if image:
            if len(self.observation_space.shape) != 3:
                raise RlgenError(f"game {self.name!r} observes shape {self.observation_space.shape}: image "
                                 "observations (a cnn backbone) need a board (H, W, C); use an mlp backbone")
            h, w, c = self.observation_space.shape
            self.observation_space = gym.spaces.Box(0, 1, (c, h, w), np.uint8)
        self.action_space = self.game.action_space(first)
        self.episodes = 0  # counts resets since the last seeded one; picks the seat
        self._seat_offset = 0  # seed % 2, so vectorized copies seeded s, s+1, ... start in both seats
        self.learner = first
        self.moves = 0  # moves played in the game in progress, for messages
        self.game_return = 0.0  # the learner's rewards in the game in progress: its sign is the outcome
        self.opponent_name, self.opponent = "", None
        self._mask = np.ones(self.action_space.n, dtype=bool)

    # --- gymnasium API -------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        if seed is not None:  # a seeded reset restarts the alternation: same seed, same seats
            self.episodes, self._seat_offset = 0, seed % 2
        for _ in range(MAX_DEALS):
            seat, reward = self._deal(seed)
            self.game_return = reward
            if not self._over():
                obs = self._observe()
                return obs, {"seat": seat, "opponent": self.opponent_name, "reward_before_first_move": reward}
            self._tally()  # over with no decision of the learner's: a game played all the same
            seed = None  # the next game goes on from the game's own generator, as a later reset would
        raise RlgenError(f"game {self.name!r}: {MAX_DEALS} games in a row ended before the learner "
                         f"({self.seat_mode} seat) had a move; self-play needs games in which its seat gets to move")

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict]:
        action = int(action)
        if not (0 <= action < self.action_space.n and self._mask[action]):
            # The game would assert; the learner loses instead (MaskablePPO never gets here).
            return self._finish(self._observe(), ILLEGAL_MOVE_REWARD, {"illegal_move": True}, outcome=-1.0)
        self.game.step(action)
        self.moves += 1
        reward = float(self.game.rewards[self.learner])
        if not self._over():
            reward += self._play_opponent()
        self.game_return += reward
        obs = self._observe()
        if self._over():
            return self._finish(obs, reward, {})
        return obs, reward, False, False, {}

    def action_masks(self) -> np.ndarray:
        """Legal moves of the learner now, as booleans (sb3-contrib's ActionMasker protocol)."""
        return self._mask.copy()

    # --- internals -----------------------------------------------------------------------------

    def _deal(self, seed: int | None) -> tuple[int, float]:
        """A new game: the seat, the opponent, its moves up to the learner's turn; (the seat, the
        learner's reward from those moves)."""
        self.game.reset(seed=seed)
        self.moves = 0
        seat = {"first": 0, "second": 1}.get(self.seat_mode, (self.episodes + self._seat_offset) % 2)
        self.learner, self.episodes = self.game.possible_agents[seat], self.episodes + 1
        self.opponent_name, self.opponent = self.draw_opponent()
        return seat, self._play_opponent()

    def _tally(self, outcome: float | None = None) -> float:
        """The finished game's outcome for the learner (+1 / 0 / -1), reported to `on_result`: by
        default the sign of its return over the whole game, as `play_game` scores evaluation and the
        ratings (a game that pays points every step is won on the total, not on its last step)."""
        outcome = float(np.sign(self.game_return)) if outcome is None else outcome
        if self.on_result is not None:
            self.on_result(self.opponent_name, outcome)
        return outcome

    def _play_opponent(self) -> float:
        """Play the opponent's moves until it is the learner's turn or the game is over; the
        learner's rewards from those moves."""
        reward = 0.0
        while not self._over() and (mover := self.game.agent_selection) != self.learner:
            seen = self.game.observe(mover)
            mask = legal_mask(seen, self.name, mover, self.moves)
            move = int(self.opponent(seen["observation"], mask))
            if not mask[move]:
                raise RlgenError(f"opponent {self.opponent_name!r} played the illegal move {move}")
            self.game.step(move)
            self.moves += 1
            reward += float(self.game.rewards[self.learner])
        return reward

    def _observe(self) -> np.ndarray:
        """The learner's observation; its mask kept for `action_masks`. With the learner to move, a
        mask that allows nothing is an error (MaskablePPO would sample from an all-masked distribution
        and the move would be scored as an illegal one)."""
        seen = self.game.observe(self.learner)
        if not self._over() and self.game.agent_selection == self.learner:
            self._mask = legal_mask(seen, self.name, self.learner, self.moves)
        else:
            self._mask = np.asarray(seen["action_mask"]).astype(bool)
        return planes_to_image(seen["observation"]) if self.image else seen["observation"]

    def _over(self) -> bool:
        return bool(self.game.terminations[self.learner] or self.game.truncations[self.learner])

    def _finish(self, obs: np.ndarray, reward: float, info: dict,
                outcome: float | None = None) -> tuple[np.ndarray, float, bool, bool, dict]:
        truncated = bool(self.game.truncations[self.learner]) and not self.game.terminations[self.learner]
        outcome = self._tally(outcome)
        self._mask = np.zeros_like(self._mask)
        self._mask[0] = True  # a terminal mask must not be all-False (MaskablePPO builds a distribution)
        info = {**info, "outcome": outcome, "opponent": self.opponent_name}
        return obs, reward, not truncated, truncated, info


def play_game(game: AECEnv, players: tuple[Opponent, Opponent], seed: int | None = None, name: str = "") -> float:
    """One game between two move functions, `players[0]` in the first seat; its outcome for the
    first player: +1 win, 0 draw, -1 loss. `name`: the game's name in messages (default: its own).
    A game still on after `EPISODE_STEP_CAP` moves is cut there and scored as one that truncates
    itself: evaluation always ends, as it does for a gym env without a step limit."""
    game.reset(seed=seed)
    first = game.possible_agents[0]
    name = name or game.metadata.get("name", type(game).__name__)
    total, moves = 0.0, 0
    while not (game.terminations[first] or game.truncations[first]):
        if moves >= EPISODE_STEP_CAP:
            warn_cut(name, "moves")
            break
        agent = game.agent_selection
        seen = game.observe(agent)
        mask = legal_mask(seen, name, agent, moves)
        player = players[game.possible_agents.index(agent)]
        move = int(player(seen["observation"], mask))
        if not mask[move]:
            return -1.0 if agent == first else 1.0  # the illegal mover loses
        game.step(move)
        moves += 1
        total += float(game.rewards[first])
    return float(np.sign(total))


_cut_games: set[str] = set()  # games already warned about, so each is named once per process


def warn_cut(name: str, unit: str) -> None:
    """Warn, once per game, that a game of `name` was cut at `EPISODE_STEP_CAP` `unit` (moves, steps)."""
    if name in _cut_games:
        return
    _cut_games.add(name)
    warnings.warn(f"game {name!r} was still on after {EPISODE_STEP_CAP:,} {unit}: cut there and scored as a "
                  "truncated game; give the game an end of its own (truncations after N moves, set through "
                  "game.kwargs where the game takes a limit)", RlgenWarning, stacklevel=3)
