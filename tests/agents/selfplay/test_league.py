"""The league: sampling modes, PFSP priorities, and the pool surviving save/load."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch

from rlgen.agents.selfplay.league import League
from rlgen.api import load_config
from rlgen.errors import ConfigError


def _league(**kw):
    made = []

    def make_player(params):
        made.append(float(params["w"]))
        return lambda obs, mask, v=float(params["w"]): v

    league = League({"random": lambda obs, mask: -1}, make_player, **kw)
    for step in (0, 100, 200):
        league.add_snapshot(step, {"w": torch.tensor(float(step))})
    return league, made


def test_latest_always_draws_the_newest_snapshot():
    league, _ = _league(sampling="latest")
    assert {league.draw()[0] for _ in range(20)} == {"step_200"}


def test_uniform_draws_every_snapshot_and_references_by_their_share():
    league, _ = _league(sampling="uniform", reference_prob=0.5, seed=1)
    names = [league.draw()[0] for _ in range(2000)]
    counts = {n: names.count(n) for n in set(names)}
    assert abs(counts["random"] / 2000 - 0.5) < 0.05
    for snap in ("step_0", "step_100", "step_200"):
        assert abs(counts[snap] / 2000 - 1 / 6) < 0.04


def test_pfsp_favours_the_snapshots_the_learner_cannot_beat():
    league, _ = _league(sampling="pfsp", pfsp_power=2.0)
    for _ in range(50):
        league.record("step_0", +1.0)  # always beaten
        league.record("step_200", -1.0)  # always wins
    w = dict(zip([s.name for s in league.snapshots], league.weights()))
    assert w["step_200"] > w["step_100"] > w["step_0"]
    assert w["step_0"] < 0.01


def test_the_pool_is_capped_and_keeps_the_newest():
    league, _ = _league(max_snapshots=2)
    assert [s.name for s in league.snapshots] == ["step_100", "step_200"]


def test_players_are_built_once_from_the_snapshot_weights():
    league, made = _league(sampling="latest")
    move = league.draw()[1]
    league.draw()
    assert made == [200.0] and move(None, None) == 200.0


def test_metrics_count_the_unit_results():
    league, _ = _league()
    for outcome in (1.0, 1.0, 0.0, -1.0):
        league.record("random", outcome)
    m = league.pop_metrics()
    assert (m["league/win_rate"], m["league/draw_rate"], m["league/loss_rate"]) == (0.5, 0.25, 0.25)
    assert "league/win_rate" not in league.pop_metrics()  # popped


def test_the_pool_survives_save_and_load():
    league, _ = _league(sampling="uniform", seed=3)
    league.record("step_100", 1.0)
    buf = io.BytesIO()
    torch.save(league.state_dict(), buf)
    draws_before = [league.draw()[0] for _ in range(10)]

    buf.seek(0)
    league2, _ = _league(seed=0, sampling="uniform")  # another seed, and its own pool, until loaded
    league2.snapshots = []
    league2.load_state_dict(torch.load(buf, weights_only=False))
    # same pool, same tallies, and the same next draws as the original right after the save
    assert [s.name for s in league2.snapshots] == ["step_0", "step_100", "step_200"]
    assert float(league2.snapshots[1].params["w"]) == 100.0
    assert league2.records["step_100"].games == 1.0
    assert [league2.draw()[0] for _ in range(10)] == draws_before
    assert np.isclose(league2.records["step_100"].rate, 0.75)


def test_reference_weights_set_each_references_share():
    refs = {"random": lambda obs, mask: -1, "lookahead": lambda obs, mask: -2}
    league = League(refs, lambda params: None, reference_prob=1.0, reference_weights=[3.0, 1.0], seed=2)
    names = [league.draw()[0] for _ in range(4000)]
    assert abs(names.count("random") / 4000 - 0.75) < 0.03
    even = League(refs, lambda params: None, reference_prob=1.0, seed=2)
    names = [even.draw()[0] for _ in range(4000)]
    assert abs(names.count("random") / 4000 - 0.5) < 0.03


def test_reference_weights_are_one_per_reference():
    config = Path(__file__).resolve().parents[3] / "configs" / "selfplay_connect_four.yaml"
    with pytest.raises(ConfigError, match=r"league.reference_weights: 1 weights for 2 references"):
        load_config(config, ["league.reference_weights=[2]"])
    with pytest.raises(ConfigError, match=r"league.reference_weights.0"):
        load_config(config, ["league.reference_weights=[0, 1]"])


def test_reference_weights_near_the_largest_float_keep_their_shares():
    # [1e308, 1e308] summed to inf: "Probabilities do not sum to 1" from inside training
    refs = {"random": lambda obs, mask: -1, "lookahead": lambda obs, mask: -2}
    league = League(refs, lambda params: None, reference_prob=1.0, reference_weights=[1e308, 1e308], seed=2)
    names = [league.draw()[0] for _ in range(2000)]
    assert abs(names.count("random") / 2000 - 0.5) < 0.05

