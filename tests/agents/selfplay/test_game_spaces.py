"""Games whose spaces self-play or teams cannot play are one config line (exit 2), not a traceback.

The games are the toy ones of tests/envs/games/toy_games.py with one space changed each.
"""

from pathlib import Path

import numpy as np
import pytest
from gymnasium import spaces

from rlgen.api import load_config
from rlgen.cli import main
from rlgen.envs.games import TurnBasedEnv, fixed_opponent, make_game
from rlgen.errors import ConfigError, RlgenError
from tests.envs.games.toy_games import Duel, Nim

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
HERE = __name__
RANDOM_ONLY = ["league.references=[random]", "ratings.references=[random]",
               "train.early_stop.metric=eval/win_rate_vs_random", "train.early_stop.mode=max"]
DUEL = ["game.kwargs={}", "league.references=[]", "league.reference_prob=0", "ratings.baselines=[random]"]


def nim_acting_in(space):
    class Odd(Nim):
        def action_space(self, agent):
            return space(agent)

    return Odd


def nim_observing(space, observe):
    class Odd(Nim):
        def observation_space(self, agent):
            return space(super().observation_space(agent))

        def observe(self, agent):
            return observe(super().observe(agent))

    return Odd


multidiscrete_nim = nim_acting_in(lambda agent: spaces.MultiDiscrete([4]))
box_nim = nim_acting_in(lambda agent: spaces.Box(0, 1, (4,)))
from_one_nim = nim_acting_in(lambda agent: spaces.Discrete(4, start=1))
uneven_nim = nim_acting_in(lambda agent: spaces.Discrete(4 if agent == "player_0" else 5))
renamed_nim = nim_observing(lambda s: spaces.Dict({"obs": s["observation"], "action_mask": s["action_mask"]}),
                            lambda o: {"obs": o["observation"], "action_mask": o["action_mask"]})
bare_nim = nim_observing(lambda s: s["observation"], lambda o: o["observation"])
nested_nim = nim_observing(lambda s: spaces.Dict({"observation": spaces.Dict({"pile": s["observation"]}),
                                                  "action_mask": s["action_mask"]}),
                           lambda o: {"observation": {"pile": o["observation"]}, "action_mask": o["action_mask"]})
from_one_observing_nim = nim_observing(lambda s: spaces.Dict({"observation": spaces.Discrete(3, start=1),
                                                              "action_mask": s["action_mask"]}),
                                       lambda o: {"observation": 1, "action_mask": o["action_mask"]})

SELFPLAY = [
    ("multidiscrete_nim", "player_0 acts in MultiDiscrete([4]); self-play plays Discrete actions numbered from 0 "
                          "(MaskablePPO, one action_mask flag per action), so the game needs a Discrete(n) action space"),
    ("box_nim", "player_0 acts in Box(0.0, 1.0, (4,), float32); self-play plays Discrete actions"),
    ("from_one_nim", "player_0 acts in Discrete(4, start=1); self-play plays Discrete actions numbered from 0"),
    ("uneven_nim", "its seats observe or act differently (player_0: Box(0.0, 1.0, (6,), float32), Discrete(4); "
                   "player_1: Box(0.0, 1.0, (6,), float32), Discrete(5))"),
    ("renamed_nim", "player_0 observes a Dict with keys ['action_mask', 'obs']; self-play reads a Dict with keys "
                    "'observation' (what the policy sees) and 'action_mask' (its legal moves)"),
    ("bare_nim", "player_0 observes Box(0.0, 1.0, (6,), float32); self-play reads a Dict with keys 'observation'"),
    ("nested_nim", "player_0's 'observation' is Dict('pile': Box(0.0, 1.0, (6,), float32)); self-play's policy reads "
                   "a Box, Discrete, MultiDiscrete or MultiBinary observation"),
    ("from_one_observing_nim", "player_0's 'observation' is Discrete(3, start=1), not numbered from 0, and SB3 one-hot "
                               "encodes choices 0..n-1"),
]


@pytest.mark.parametrize("game, problem", SELFPLAY)
def test_a_game_selfplay_cannot_play_is_one_config_line(game, problem):
    config = CONFIGS / "selfplay_tictactoe.yaml"
    load_config(config, ["game.name=tests.envs.games.toy_games:nim", *RANDOM_ONLY])  # the game unchanged plays
    with pytest.raises(ConfigError) as info:
        load_config(config, [f"game.name={HERE}:{game}", *RANDOM_ONLY])
    (line,) = info.value.problems
    assert line.startswith(f"game.name: game '{HERE}:{game}': {problem}"), line


@pytest.mark.parametrize("game, problem", SELFPLAY)
def test_the_turn_based_env_refuses_the_same_games(game, problem):
    random = fixed_opponent(lambda obs, mask: int(np.flatnonzero(mask)[0]))
    TurnBasedEnv(make_game("tests.envs.games.toy_games:nim"), random).reset(seed=0)
    with pytest.raises(RlgenError) as info:
        TurnBasedEnv(make_game(f"{HERE}:{game}"), random, name=game)
    assert str(info.value).startswith(f"game {game!r}: {problem}")


def test_the_cli_says_it_in_one_line_and_exits_2(tmp_path, quiet, capsys):
    args = [f"game.name={HERE}:multidiscrete_nim", *RANDOM_ONLY, f"logging.dir={tmp_path}", *quiet]
    assert main(["train", str(CONFIGS / "selfplay_tictactoe.yaml"), *args]) == 2
    err = capsys.readouterr().err
    assert "acts in MultiDiscrete([4]); self-play plays Discrete actions" in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def duel_acting_in(space):
    class Odd(Duel):
        def action_space(self, agent):
            return space(agent)

    return Odd


multidiscrete_duel = duel_acting_in(lambda agent: spaces.MultiDiscrete([3]))
from_minus_one_duel = duel_acting_in(lambda agent: spaces.Discrete(3, start=-1))
uneven_sides_duel = duel_acting_in(lambda agent: spaces.Discrete(3 if agent.startswith("red") else 4))


@pytest.mark.parametrize("game, space", [("multidiscrete_duel", "MultiDiscrete([3])"),
                                         ("from_minus_one_duel", "Discrete(3, start=-1)")])
def test_a_team_game_acting_in_other_than_discrete_from_0_is_one_game_name_line(game, space):
    pytest.importorskip("supersuit")
    config = CONFIGS / "teams_simple_tag.yaml"
    load_config(config, [f"game.name={HERE}:uneven_sides_duel", *DUEL])  # each side its own policy: sizes may differ
    with pytest.raises(ConfigError) as info:
        load_config(config, [f"game.name={HERE}:{game}", *DUEL])
    assert info.value.problems == [f"game.name: kind: teams plays discrete actions, and {HERE}:{game} gives red_0: "
                                   f"{space}; every agent needs a Discrete(n) action space numbered from 0"]


class TrioDuel(Duel):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.possible_agents = ["red_0", "red_1", "green_0", "blue_0"]


@pytest.mark.parametrize("game, kwargs, has", [
    (f"{HERE}:TrioDuel", "{}", "3 sides, not two: red (2 agents), green (1 agent), blue (1 agent)"),
    ("simple_tag_v3", "{num_adversaries: 0}", "1 side, not two: agent (1 agent)"),
    ("simple_tag_v3", "{num_adversaries: -1}", "no agents"),  # mpe2 makes it: -1 adversaries + 1 agent
])
def test_a_team_game_of_other_than_two_sides_names_them_and_their_agents(game, kwargs, has):
    pytest.importorskip("supersuit")
    with pytest.raises(ConfigError) as info:
        load_config(CONFIGS / "teams_simple_tag.yaml", [f"game.name={game}", *DUEL, f"game.kwargs={kwargs}"])
    assert info.value.problems == [f"game.name: {game} has {has} (a side is the agents' name prefix); kind: teams "
                                   "plays two sides, so pick a game, or game.kwargs, that makes two"]


def test_teams_default_early_stop_metric_without_baselines_is_one_line():
    """eval/score_min is logged only against baselines: with none the run would keep no best checkpoint."""
    config, none = CONFIGS / "teams_simple_tag.yaml", ["ratings.baselines=[]", "ratings.games_per_pair=0"]
    with pytest.raises(ConfigError) as info:
        load_config(config, [*none, "train.early_stop={}"])
    assert info.value.problems == ["train.early_stop.metric: eval/score_min (kind: teams's default) is logged only "
                                   "against ratings.baselines, and there are none: add one (random) or name another "
                                   "metric, e.g. eval/return_adversary (a side's mean return, logged at every evaluation)"]
    assert load_config(config, [*none, "train.early_stop={metric: eval/return_adversary}"]).ratings.baselines == []
