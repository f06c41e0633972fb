"""Pure board helpers on PettingZoo's observation planes, for the reference opponents and `rlgen play`.

A board is an observation `(rows, cols, 2)`: plane 0 holds the pieces of the player to move, plane 1
the opponent's (tictactoe_v3 and connect_four_v3 both observe this way). Tic-tac-toe action `a` is
cell `(a // 3, a % 3)`; a connect-four action is a column, and row 0 is the top row.
"""

from __future__ import annotations

import numpy as np

CONNECT_FOUR_SHAPE = (6, 7)

# Every line of four cells on the connect-four board, as (4,) flat indices; built once.
_LINES: list[tuple[int, ...]] = []
for _r in range(6):
    for _c in range(7):
        for _dr, _dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
            _cells = [(_r + k * _dr, _c + k * _dc) for k in range(4)]
            if all(0 <= r < 6 and 0 <= c < 7 for r, c in _cells):
                _LINES.append(tuple(r * 7 + c for r, c in _cells))
CONNECT_FOUR_LINES = np.array(_LINES)  # (69, 4)

TICTACTOE_LINES = np.array([(0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6)])


def connect_four_drop_row(pieces: np.ndarray, col: int) -> int | None:
    """The row a piece dropped in `col` lands on, or None when the column is full.
    `pieces`: (6, 7) bool, any player's pieces."""
    empty = np.flatnonzero(~pieces[:, col])
    return int(empty[-1]) if empty.size else None


def connect_four_wins(plane: np.ndarray) -> bool:
    """Whether one player's pieces (6, 7) hold four in a line."""
    return bool(plane.reshape(-1)[CONNECT_FOUR_LINES].all(axis=1).any())


# Bitboards for the winning-move search: cell (r, c) is bit r * 8 + c, so a column of zeros between
# rows stops a line from wrapping; shifts 1, 8, 9, 7 step right, down and along both diagonals.
_BIT = (1 << (8 * np.arange(6)[:, None] + np.arange(7)[None, :])).astype(np.int64)  # (6, 7)


def _bits(plane: np.ndarray) -> int:
    return int(_BIT[plane].sum())


def _has_four(b: int) -> bool:
    for d in (1, 8, 9, 7):
        m = b & (b >> d)
        if m & (m >> 2 * d):
            return True
    return False


def connect_four_winning_moves(mine: np.ndarray, theirs: np.ndarray) -> list[int]:
    """The columns where a piece of `mine` completes four now. Both (6, 7) bool.

    On bitboards (the lookahead player calls this twice a move, inside every training step against
    it); the piece lands on the lowest empty row of its column."""
    landing = (~(mine | theirs)).sum(axis=0) - 1  # (7,) the row a piece dropped there lands on; -1: full
    b = _bits(mine)
    return [c for c, r in enumerate(landing.tolist()) if r >= 0 and _has_four(b | 1 << (8 * r + c))]


def tictactoe_winner(board: tuple[int, ...]) -> int:
    """+1 when the player to move (marks 1) has a line, -1 when the other (marks -1) has, else 0.
    `board`: 9 cells in {1, 0, -1}."""
    cells = np.asarray(board)[TICTACTOE_LINES].sum(axis=1)
    return 1 if (cells == 3).any() else -1 if (cells == -3).any() else 0


def planes_to_cells(observation: np.ndarray) -> np.ndarray:
    """(rows, cols, 2) planes -> (rows, cols) ints: +1 the player to move, -1 the other, 0 empty."""
    obs = np.asarray(observation)
    return obs[..., 0].astype(np.int8) - obs[..., 1].astype(np.int8)
