"""Fixed reference opponents: move functions `(observation, action_mask) -> action`.

- random: a uniformly random legal move (any game).
- lookahead: connect four's one-step lookahead: win now if it can, else block the opponent's
  immediate win, else a random legal move.
- minimax: perfect tic-tac-toe (memoized negamax over all 5,478 positions); among equally good
  moves it prefers the quickest win / slowest loss, then picks at random.

`REFERENCES` maps a name to `(builder(rng) -> move function, the games it plays or None for any)`.
"""

from __future__ import annotations

import difflib
from functools import lru_cache
from typing import Callable

import numpy as np

from rlgen.envs.games import Opponent, game_name
from rlgen.envs.games.boards import connect_four_winning_moves, tictactoe_winner
from rlgen.errors import RlgenError


def random_player(rng: np.random.Generator) -> Opponent:
    def move(observation: np.ndarray, mask: np.ndarray) -> int:
        return int(rng.choice(np.flatnonzero(mask)))

    return move


def lookahead_player(rng: np.random.Generator) -> Opponent:
    """Connect four: win, else block, else random."""

    def move(observation: np.ndarray, mask: np.ndarray) -> int:
        mine, theirs = observation[..., 0].astype(bool), observation[..., 1].astype(bool)
        for wins in (connect_four_winning_moves(mine, theirs), connect_four_winning_moves(theirs, mine)):
            legal = [c for c in wins if mask[c]]
            if legal:
                return int(rng.choice(legal))
        return int(rng.choice(np.flatnonzero(mask)))

    return move


@lru_cache(maxsize=None)
def tictactoe_values(board: tuple[int, ...]) -> tuple[int, ...]:
    """Negamax value of every cell for the player to move (cells: +1 theirs-to-move, -1 other, 0
    empty); an occupied cell gets -100. A value > 0 wins in (10 - value) plies, < 0 loses, 0 draws."""
    values = []
    empties = board.count(0)
    for cell in range(9):
        if board[cell] != 0:
            values.append(-100)
            continue
        after = list(board)
        after[cell] = 1
        if tictactoe_winner(tuple(after)) == 1:
            values.append(empties)  # win now: the more empties left, the quicker
        elif empties == 1:
            values.append(0)  # the board is full: draw
        else:
            flipped = tuple(-c for c in after)  # the opponent's view, to move
            values.append(-max(tictactoe_values(flipped)))
    return tuple(values)


def tictactoe_best_moves(board: tuple[int, ...]) -> list[int]:
    values = tictactoe_values(board)
    best = max(values)
    return [c for c, v in enumerate(values) if v == best]


def minimax_player(rng: np.random.Generator) -> Opponent:
    """Perfect tic-tac-toe; the observation (3, 3, 2) is read from the mover's side."""

    def move(observation: np.ndarray, mask: np.ndarray) -> int:
        board = tuple(int(v) for v in (observation[..., 0].astype(np.int8) - observation[..., 1]).reshape(9))
        return int(rng.choice(tictactoe_best_moves(board)))

    return move


REFERENCES: dict[str, tuple[Callable[[np.random.Generator], Opponent], tuple[str, ...] | None]] = {
    "random": (random_player, None),
    "lookahead": (lookahead_player, ("connect_four_v3",)),
    "minimax": (minimax_player, ("tictactoe_v3",)),
}


def build_reference(name: str, game: str, rng: np.random.Generator) -> Opponent:
    if name not in REFERENCES:
        close = difflib.get_close_matches(name, list(REFERENCES), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RlgenError(f"unknown reference opponent {name!r}{hint}; known: {', '.join(REFERENCES)}")
    builder, games = REFERENCES[name]
    if games is not None and game_name(game) not in games:
        raise RlgenError(f"reference opponent {name!r} plays {', '.join(games)}, not {game!r}")
    return builder(rng)
