"""Which module's players and scoring (`TeamRules`) a team game's name brings: a plugin module that
re-exports a registered game's parallel_env keeps its own, and a module's `env` / `raw_env` name
the module's game, as its `parallel_env` does.

This module is such a plugin: mpe2's simple_push, re-exported, with a scripted player of its own."""

from pathlib import Path

import pytest

pytest.importorskip("mpe2")

from mpe2.simple_push_v3 import env, parallel_env, raw_env  # noqa: E402, F401 - the game this module plays

from rlgen.api import load_config  # noqa: E402
from rlgen.envs.games import simple_tag  # noqa: E402
from rlgen.envs.games.teams import TeamRules, registered_team_game  # noqa: E402

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "teams_simple_tag.yaml"


def still(game, side, seed=0):
    return lambda obs: {a: 0 for a in obs}


def scores(returns):
    return {"pushed": returns["adversary"]}


PLAYERS = {"still": ("adversary", still)}


@pytest.mark.parametrize("suffix", ["", ":parallel_env", ":env"])
def test_a_module_reexporting_a_registered_game_keeps_its_own_players_and_scores(suffix):
    assert registered_team_game(__name__ + suffix) == __name__  # not simple_push_v3, whose parallel_env it holds
    rules = TeamRules.of(__name__)
    assert list(rules.players) == ["random", "still"] and rules.scores is scores
    load_config(CONFIG, [f"game.name={__name__}", "game.kwargs={}", "league.references=[still, random]",
                         "ratings.baselines=[random, still]"])  # "unknown player 'still'" before


@pytest.mark.parametrize("name", ["mpe2.simple_tag_v3:raw_env", "mpe2.simple_tag_v3:env"])
def test_a_modules_env_and_raw_env_are_its_game_with_its_players(name):
    assert registered_team_game(name) == "simple_tag_v3"
    rules = TeamRules.of(name)
    assert list(rules.players) == ["random", "chaser", "evader"]
    assert rules.scores is simple_tag.scores and rules.outcome is simple_tag.outcome
