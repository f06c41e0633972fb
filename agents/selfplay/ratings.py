"""Elo ratings fitted by Bradley-Terry over a matrix of results, and round-robin match play.

Bradley-Terry: P(i beats j) = p_i / (p_i + p_j). Fitted by Hunter's MM iteration (Hunter 2004, "MM
algorithms for generalized Bradley-Terry models"), a draw counting half a win to each side. A player
that wins every game has no finite maximum-likelihood strength, so each pair that met also gets
`prior` virtual games split evenly (a weak pull toward equality that keeps every rating finite).
Elo = 400 log10 p, shifted so that the anchor player has `anchor_elo`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from rlgen.envs.games import GameFactory, Opponent, play_game


def fit_elo(scores: np.ndarray, games: np.ndarray, *, prior: float = 1.0, anchor: int | None = None,
            anchor_elo: float = 1000.0, iters: int = 10_000, tol: float = 1e-10) -> np.ndarray:
    """Elo ratings (K,) from `scores[i, j]`, the points i took from j (win 1, draw 0.5), and
    `games[i, j]`, the games they played (symmetric). `anchor`: the index rated `anchor_elo`
    (None: the mean is `anchor_elo`)."""
    scores, games = np.asarray(scores, float), np.asarray(games, float)
    if scores.shape != games.shape or scores.ndim != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores and games must be the same (K, K), got {scores.shape} and {games.shape}")
    met = (games > 0).astype(float)
    n = games + prior * met  # (K, K) games, virtual ones included
    wins = (scores + 0.5 * prior * met).sum(axis=1)  # (K,)
    strength = np.ones(len(n))
    for _ in range(iters):
        denom = (n / (strength[:, None] + strength[None, :])).sum(axis=1)
        new = np.where(denom > 0, wins / np.maximum(denom, 1e-300), 1.0)
        new /= np.exp(np.log(new).mean())  # fix the scale: the model only sees ratios
        done = np.max(np.abs(np.log(new) - np.log(strength))) < tol
        strength = new
        if done:
            break
    elo = 400.0 * np.log10(strength)
    shift = elo[anchor] if anchor is not None else elo.mean()
    return elo - shift + anchor_elo


def round_robin(game: GameFactory, players: Mapping[str, Opponent], pairs: Sequence[tuple[str, str]],
                games_per_pair: int, seed: int = 0, name: str = "") -> dict[tuple[str, str], tuple[float, int]]:
    """Play each pair (a, b) `games_per_pair` times, seats alternating, every pair on the same deals
    (`deal_seeds`); (a's points, games) per pair. `name`: the game's name in messages."""
    env = game()
    results = {}
    for a, b in pairs:
        points = 0.0
        for g, deal in enumerate(deal_seeds(seed, games_per_pair)):
            if g % 2 == 0:
                outcome = play_game(env, (players[a], players[b]), seed=deal, name=name)
            else:
                outcome = -play_game(env, (players[b], players[a]), seed=deal, name=name)
            points += (outcome + 1.0) / 2.0
        results[(a, b)] = (points, games_per_pair)
    return results


def deal_seeds(seed: int, n: int) -> list[int]:
    """The `reset(seed=...)` of each of `n` games that alternate seats: `seed`, `seed`, `seed + 1`,
    `seed + 1`, ... Each deal is played from both seats (duplicate play, as in duplicate bridge and
    poker: the luck of the cards largely cancels between the two games). A game with chance (poker's cards)
    left unseeded deals from the OS's entropy, and no two evaluations would play the same games;
    games without chance (tic-tac-toe, go) ignore the seed."""
    return [seed + g // 2 for g in range(n)]


def results_matrix(names: Sequence[str], results: Mapping[tuple[str, str], tuple[float, int]]
                   ) -> tuple[np.ndarray, np.ndarray]:
    """(scores, games) (K, K) matrices for `fit_elo` from pairwise results, both directions filled."""
    index = {name: i for i, name in enumerate(names)}
    scores, games = np.zeros((len(names),) * 2), np.zeros((len(names),) * 2)
    for (a, b), (points, n) in results.items():
        if a in index and b in index:
            i, j = index[a], index[b]
            scores[i, j] += points
            scores[j, i] += n - points
            games[i, j] += n
            games[j, i] += n
    return scores, games


def payoff_rows(names: Sequence[str], scores: np.ndarray, games: np.ndarray) -> list[list]:
    """The payoff matrix as table rows: [row player, its mean score vs each column player (None if unplayed)]."""
    rate = np.divide(scores, games, out=np.full_like(scores, np.nan), where=games > 0)
    return [[name, *[None if np.isnan(v) else round(float(v), 3) for v in row]] for name, row in zip(names, rate)]
