"""kind: teams measured: each side against the other side's baselines, snapshots, and the Elo of
everyone from a round robin across the sides (selfplay's Bradley-Terry fit)."""

from pathlib import Path

import pytest
import torch

pytest.importorskip("mpe2")

from rlgen.agents.selfplay.team_ratings import cross_pairs, elo_tables, team_round_robin, versus_baselines  # noqa: E402
from rlgen.agents.selfplay.teams import TeamsExperiment, baseline_players, rating_anchor  # noqa: E402
from rlgen.api import load_config  # noqa: E402
from rlgen.config import ConfigError  # noqa: E402
from rlgen.envs.games.simple_tag import chaser, evader  # noqa: E402
from rlgen.envs.games.teams import TeamRules, random_team, team_game  # noqa: E402
from rlgen.logging import Logger  # noqa: E402
from rlgen.runner import RunContext  # noqa: E402

GAME = team_game("simple_tag_v3", max_cycles=25)
RULES = TeamRules.of("simple_tag_v3")
CONFIG = Path(__file__).resolve().parents[3] / "configs" / "teams_simple_tag.yaml"
TINY = ["game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=24", "game.kwargs.max_cycles=10",
        "schedule.units_per_phase=1", "ratings.snapshot_every=30", "ratings.max_snapshots=2", "ratings.games_per_pair=2",
        "ratings.episodes=3"]


def test_versus_baselines_plays_each_side_against_the_other_sides_baselines():
    still = lambda obs: {a: 0 for a in obs}  # noqa: E731 - predators that never move tag nobody
    baselines = {"adversary:chaser": chaser(GAME, "adversary"), "agent:random": random_team(GAME, "agent", seed=1),
                 "agent:evader": evader(GAME, "agent")}
    out = versus_baselines(GAME, RULES, {"adversary": still, "agent": still}, baselines, episodes=10, seed=0)
    assert set(out) == {f"eval/{f}_{m}" for f in ("return", "score", "tags")
                        for m in ("adversary_vs_random", "adversary_vs_evader", "agent_vs_chaser")} | {"eval/score_min"}
    # the worst score of either side, here the still predators' 0 against the evader
    assert out["eval/score_min"] == min(v for k, v in out.items() if k.startswith("eval/score_") and k != "eval/score_min")
    assert out["eval/tags_adversary_vs_random"] == pytest.approx(out["eval/return_adversary_vs_random"] / 10)
    assert out["eval/tags_adversary_vs_evader"] == 0 and out["eval/score_adversary_vs_evader"] == 0
    # the still prey against the chaser: caught in most episodes, many times
    assert out["eval/tags_agent_vs_chaser"] > 3 and out["eval/score_agent_vs_chaser"] < 0.3
    assert out["eval/return_agent_vs_chaser"] <= -10 * out["eval/tags_agent_vs_chaser"]


def test_the_scripted_players_out_rate_the_random_ones():
    players = {"adversary:random": random_team(GAME, "adversary", seed=1), "adversary:chaser": chaser(GAME, "adversary"),
               "agent:random": random_team(GAME, "agent", seed=2), "agent:evader": evader(GAME, "agent")}
    pairs = cross_pairs(list(players), ["adversary", "agent"])
    assert pairs == [("adversary:random", "agent:random"), ("adversary:random", "agent:evader"),
                     ("adversary:chaser", "agent:random"), ("adversary:chaser", "agent:evader")]
    results = team_round_robin(GAME, RULES, players, pairs, games_per_pair=30, seed=0)
    assert all(n == 30 for _, n in results.values())
    elo, ratings, _ = elo_tables(list(players), results, anchor="adversary:random")
    assert elo["adversary:random"] == pytest.approx(1000)
    assert elo["adversary:chaser"] > elo["adversary:random"] + 200 and elo["agent:evader"] > elo["agent:random"] + 200
    assert [row[0] for row in ratings.rows] == list(players)


def setup_experiment(tmp_path, overrides=()):
    cfg = load_config(CONFIG, [*TINY, *overrides])
    exp = TeamsExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    return exp


def test_evaluation_measures_both_sides_and_rates_their_snapshots(tmp_path):
    exp = setup_experiment(tmp_path)
    baselines = baseline_players(exp.cfg, exp.game, exp.sides, exp.rules)
    assert list(baselines) == ["adversary:random", "agent:random", "adversary:chaser", "agent:evader"]
    assert exp.snapshot_names() == ["adversary:step_0", "agent:step_0"]  # the untrained sides
    exp.evaluate(episodes=1)
    for _ in range(6):  # phases of 24 and 8 steps: snapshots every 30 steps, the newest 2 of a side kept
        exp.train_unit()
    assert exp.snapshot_names() == ["adversary:step_56", "agent:step_64", "adversary:step_88", "agent:step_96"]
    rng = torch.random.get_rng_state()
    out = exp.evaluate(episodes=2)
    assert torch.equal(rng, torch.random.get_rng_state())  # sampled play left training's random stream alone
    for key in ("eval/tags", "eval/tags_adversary_vs_evader", "eval/tags_agent_vs_chaser", "eval/elo_adversary",
                "eval/elo_agent", "eval/elo_agent_latest_snapshot", "eval/return_adversary_vs_random"):
        assert key in out, key
    rated = [row[0] for row in out["eval/ratings"].rows]
    assert rated[:2] == ["adversary:current", "agent:current"] and "adversary:random" in rated
    assert "adversary:step_0" in rated  # dropped from the pool, still rated from its results
    assert all(pair[0].startswith("adversary:") and pair[1].startswith("agent:") for pair in exp.results)
    # frozen players' results are kept: the next evaluation adds only the current sides' games
    before = dict(exp.results)
    exp.evaluate(episodes=2)
    assert exp.results == before
    # snapshots, the next snapshot step and the results come back with a checkpoint
    other = setup_experiment(tmp_path)
    other.load_state_dict(exp.state_dict())
    assert other.snapshot_names() == exp.snapshot_names() and other.results == exp.results
    assert other.next_snapshot == exp.next_snapshot
    exp.close(), other.close()


def test_bad_baselines_and_anchors_are_config_errors():
    with pytest.raises(ConfigError, match="ratings.baselines.*did you mean 'evader'"):
        load_config(CONFIG, ["ratings.baselines=[random, evadr]"])
    with pytest.raises(ConfigError, match="ratings.anchor.*agent:chaser"):
        load_config(CONFIG, ["ratings.anchor=agent:chaser"])
    # without an anchor: the first side's first baseline, whatever order the config lists them in
    cfg = load_config(CONFIG, ["ratings.baselines=[evader, chaser]"])
    assert rating_anchor(cfg, ["adversary", "agent"], {"agent:evader": 0, "adversary:chaser": 0}) == "adversary:chaser"
