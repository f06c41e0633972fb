"""Reference opponents: minimax is perfect, lookahead wins and blocks, random is legal."""

import numpy as np
import pytest

from rlgen.agents.selfplay.opponents import (build_reference, lookahead_player, minimax_player, random_player,
                                       tictactoe_best_moves, tictactoe_values)
from rlgen.envs.games import make_game, play_game
from rlgen.errors import RlgenError


def _worst_outcome_for_minimax(game, prefix, minimax_seat):
    """Exhaustive play against minimax: every opponent move, and every move minimax may pick among
    its equally good ones, played in the real PettingZoo game. The worst outcome for minimax."""
    game.reset()
    for move in prefix:
        game.step(move)
    agent = game.agent_selection
    first = game.possible_agents[0]
    if game.terminations[first]:
        outcome = game._cumulative_rewards[game.possible_agents[minimax_seat]]
        return outcome
    seen = game.observe(agent)
    obs = seen["observation"]
    if game.possible_agents.index(agent) == minimax_seat:
        board = tuple(int(v) for v in (obs[..., 0].astype(int) - obs[..., 1]).reshape(9))
        moves = tictactoe_best_moves(board)
    else:
        moves = list(np.flatnonzero(seen["action_mask"]))
    return min(_worst_outcome_for_minimax(game, prefix + [int(m)], minimax_seat) for m in moves)


@pytest.mark.parametrize("seat", [0, 1])
def test_minimax_never_loses_to_exhaustive_play(seat):
    game = make_game("tictactoe_v3")()
    assert _worst_outcome_for_minimax(game, [], seat) >= 0


def test_minimax_values_are_known():
    assert max(tictactoe_values((0,) * 9)) == 0  # tic-tac-toe is a draw
    # to move with two in a row and the third cell free: win now (value > 0) on cell 2
    assert tictactoe_best_moves((1, 1, 0, -1, -1, 0, 0, 0, 0)) == [2]
    # the opponent threatens 3-4-5: block on 5 is the only non-losing move
    assert tictactoe_best_moves((1, 0, 0, -1, -1, 0, 0, 0, 1)) == [5]


def test_minimax_beats_random_and_never_loses():
    rng = np.random.default_rng(0)
    game = make_game("tictactoe_v3")()
    mm, rand = minimax_player(rng), random_player(rng)
    first = [play_game(game, (mm, rand)) for _ in range(50)]
    second = [-play_game(game, (rand, mm)) for _ in range(50)]
    assert min(first + second) >= 0 and np.mean(first) > 0.8


def _planes(rows_mine, rows_theirs):
    mine, theirs = np.zeros((6, 7, 1), np.int8), np.zeros((6, 7, 1), np.int8)
    for r, c in rows_mine:
        mine[r, c] = 1
    for r, c in rows_theirs:
        theirs[r, c] = 1
    return np.concatenate([mine, theirs], axis=2)


def test_lookahead_wins_then_blocks():
    move = lookahead_player(np.random.default_rng(0))
    mask = np.ones(7, bool)
    # mine: three in column 2 (bottom), theirs: three in the bottom row at 4, 5, 6 -> win in column 2
    obs = _planes([(5, 2), (4, 2), (3, 2)], [(5, 4), (5, 5), (5, 6)])
    assert move(obs, mask) == 2
    # no win of mine: block their bottom row at column 3
    obs = _planes([(5, 0), (4, 0)], [(5, 4), (5, 5), (5, 6)])
    assert move(obs, mask) == 3


def test_lookahead_beats_random_as_a_connect_four_reference():
    rng = np.random.default_rng(0)
    game = make_game("connect_four_v3")()
    results = [play_game(game, (lookahead_player(rng), random_player(rng))) for _ in range(40)]
    assert np.mean(np.array(results) == 1) > 0.85


def test_references_are_checked_against_the_game():
    rng = np.random.default_rng(0)
    with pytest.raises(RlgenError, match="tictactoe_v3"):
        build_reference("minimax", "connect_four_v3", rng)
    with pytest.raises(RlgenError, match="did you mean 'minimax'"):
        build_reference("minimx", "tictactoe_v3", rng)
