"""How good the two sides of a team game are: each side against the other side's fixed baselines
(`random`, and the game's scripted players, e.g. simple_tag's chaser and evader), and Elo ratings of
both sides' snapshots and baselines from a round robin across the sides.

A player is named `<side>:<name>` (`adversary:chaser`, `agent:step_40960`). Only players of
different sides meet, so the ratings come from a bipartite round robin; the Bradley-Terry fit is
selfplay's (`ratings.fit_elo`), on the game's own idea of who won an episode (`TeamRules.outcome`:
in simple_tag the predators win an episode when they tag the prey at least once).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from rlgen.agents.selfplay.ratings import fit_elo, payoff_rows, results_matrix
from rlgen.envs.games.teams import TeamGame, TeamPolicy, TeamRules, play_team_episodes
from rlgen.logging import Table


def player_side(name: str) -> str:
    return name.split(":", 1)[0]


def versus_baselines(game: TeamGame, rules: TeamRules, learned: Mapping[str, TeamPolicy],
                     baselines: Mapping[str, TeamPolicy], episodes: int, seed: int) -> dict[str, float]:
    """Each learned side against each baseline of the other side, `episodes` each:
    `eval/<figure>_<side>_vs_<baseline>` for its return, its share of the points (`score`, from
    `rules.outcome`) and the game's own figures (`rules.scores`, e.g. simple_tag's tags); and
    `eval/score_min`, the lowest of those scores over both sides (each side's hardest baseline): a
    best-checkpoint criterion that a strong side does not carry for a weak one."""
    out: dict[str, float] = {}
    scores = []
    for baseline, policy in baselines.items():
        other, name = baseline.split(":", 1)
        for side in learned:
            if side == other:
                continue
            returns = play_team_episodes(game, {side: learned[side], other: policy}, episodes, seed)
            figures = summarize(rules, returns, side)
            out.update({f"eval/{k}_{side}_vs_{name}": v for k, v in figures.items()})
            scores.append(figures["score"])
    if scores:
        out["eval/score_min"] = min(scores)
    return out


def summarize(rules: TeamRules, returns: Sequence[Mapping[str, float]], side: str) -> dict[str, float]:
    """Mean return of `side`, its mean points per episode and the game's figures, over episodes."""
    out = {"return": float(np.mean([r[side] for r in returns])),
           "score": float(np.mean([rules.outcome(dict(r))[side] for r in returns]))}
    mean_returns = {s: float(np.mean([r[s] for r in returns])) for s in returns[0]}
    out.update(rules.scores(mean_returns))  # the figures are linear in the returns (tags = return / 10)
    return out


def team_round_robin(game: TeamGame, rules: TeamRules, players: Mapping[str, TeamPolicy],
                     pairs: Sequence[tuple[str, str]], games_per_pair: int, seed: int
                     ) -> dict[tuple[str, str], tuple[float, int]]:
    """Play each pair (a, b) of players of different sides `games_per_pair` episodes (the same
    episode seeds for every pair); (a's points, episodes) per pair, as `ratings.round_robin` gives."""
    results = {}
    for a, b in pairs:
        side_a, side_b = player_side(a), player_side(b)
        returns = play_team_episodes(game, {side_a: players[a], side_b: players[b]}, games_per_pair, seed)
        results[(a, b)] = (float(sum(rules.outcome(dict(r))[side_a] for r in returns)), games_per_pair)
    return results


def cross_pairs(names: Sequence[str], sides: Sequence[str]) -> list[tuple[str, str]]:
    """Every (first side's player, second side's player) pair among `names`."""
    first = [n for n in names if player_side(n) == sides[0]]
    second = [n for n in names if player_side(n) == sides[1]]
    return [(a, b) for a in first for b in second]


def elo_tables(names: Sequence[str], results: Mapping[tuple[str, str], tuple[float, int]], anchor: str
               ) -> tuple[dict[str, float], Table, Table]:
    """Elo by player (`anchor` rated 1000) and the ratings and payoff tables to log."""
    scores, games = results_matrix(names, results)
    elo = fit_elo(scores, games, anchor=list(names).index(anchor))
    ratings = Table(["player", "elo", "games"],
                    [[n, round(float(e), 1), int(g)] for n, e, g in zip(names, elo, games.sum(1))])
    payoff = Table(["player", *names], payoff_rows(names, scores, games))
    return dict(zip(names, elo.tolist())), ratings, payoff
