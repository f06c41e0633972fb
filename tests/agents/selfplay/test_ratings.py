"""Bradley-Terry Elo on known results, and the round robin that feeds it."""

import numpy as np
import pytest

from rlgen.agents.selfplay.ratings import fit_elo, payoff_rows, results_matrix, round_robin
from rlgen.envs.games import make_game


def test_a_player_that_always_wins_rates_above_one_that_always_loses():
    scores = np.array([[0, 10], [0, 0]])
    games = np.array([[0, 10], [10, 0]])
    elo = fit_elo(scores, games, anchor=1, anchor_elo=1000)
    assert elo[1] == pytest.approx(1000) and elo[0] > 1300  # finite, and far above


def test_symmetric_results_give_equal_ratings():
    scores = np.array([[0, 6, 4], [4, 0, 6], [6, 4, 0]])  # rock-paper-scissors, each pair 10 games
    games = np.full((3, 3), 10) - 10 * np.eye(3)
    elo = fit_elo(scores, games)
    np.testing.assert_allclose(elo, [1000, 1000, 1000], atol=1e-6)


def test_the_fit_recovers_a_known_probability():
    # i beats j 75% of 1000 games: Bradley-Terry says a gap of 400 log10(3) = 190.8 Elo
    scores = np.array([[0, 750], [250, 0]])
    games = np.array([[0, 1000], [1000, 0]])
    elo = fit_elo(scores, games, prior=0.0)
    assert elo[0] - elo[1] == pytest.approx(400 * np.log10(3), abs=0.01)


def test_ratings_order_a_chain():
    # A beats B 80%, B beats C 80%, A never met C: A > B > C
    names = ["A", "B", "C"]
    scores, games = results_matrix(names, {("A", "B"): (8.0, 10), ("B", "C"): (8.0, 10)})
    assert scores[1, 0] == 2.0 and games[0, 2] == 0
    elo = fit_elo(scores, games, anchor=2)
    assert elo[0] > elo[1] > elo[2] == pytest.approx(1000)


def test_round_robin_and_payoff_rows():
    game = make_game("tictactoe_v3")
    first = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    results = round_robin(game, {"a": first, "b": first}, [("a", "b")], games_per_pair=4)
    # first-legal vs itself: X takes 0,2,4,6 with O on 1,3,5 -> the first seat wins every game
    assert results == {("a", "b"): (2.0, 4)}
    scores, games = results_matrix(["a", "b"], results)
    assert payoff_rows(["a", "b"], scores, games) == [["a", None, 0.5], ["b", 0.5, None]]
