"""Team games: one side's view of simple_tag, shared parameters within a side, alternating phases."""

from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("mpe2")

from rlgen.agents.selfplay.teams import TeamsExperiment  # noqa: E402
from rlgen.envs.games.teams import OneSide, play_teams, random_team, side_vec_env, team_game  # noqa: E402
from rlgen.api import load_config  # noqa: E402
from rlgen.logging import Logger  # noqa: E402
from rlgen.runner import RunContext  # noqa: E402
from rlgen.testing import check_experiment  # noqa: E402
from tests.test_configs import smoke_overrides  # noqa: E402

GAME = team_game("simple_tag_v3", max_cycles=5)
CONFIG = Path(__file__).resolve().parents[3] / "configs" / "teams_simple_tag.yaml"


def test_one_side_sees_its_agents_and_the_opponent_acts_for_the_rest():
    calls = []

    def prey(obs):
        calls.append(sorted(obs))
        return {a: 0 for a in obs}

    env = OneSide(GAME, "adversary", prey)
    obs, _ = env.reset(seed=0)
    assert sorted(obs) == ["adversary_0", "adversary_1", "adversary_2"]
    obs, rewards, terms, truncs, _ = env.step({a: 1 for a in obs})
    assert calls == [["agent_0"]] and sorted(rewards) == sorted(obs)


def _counting(calls, name):
    def act(obs):
        calls.append(name)
        return {a: 0 for a in obs}
    return act


def _opponents_per_episode(env, episodes, seed):
    """Which opponent acted in each of `episodes` two-step episodes (one name per episode)."""
    out = []
    for ep in range(episodes):
        calls = []
        env.opponent = _counting(calls, "frozen")
        env.references = [_counting(calls, "chaser"), _counting(calls, "random")]
        obs, _ = env.reset(seed=seed if ep == 0 else None)
        for _ in range(2):
            obs, *_ = env.step({a: 0 for a in obs})
        assert len(set(calls)) == 1  # one opponent for the whole episode
        out.append(calls[0])
    return out


def test_references_stand_in_for_the_opponent_for_a_share_of_whole_episodes():
    env = OneSide(GAME, "agent", None, references=[None, None], reference_prob=0.5)
    played = _opponents_per_episode(env, 300, seed=3)
    assert 0.4 < played.count("frozen") / 300 < 0.6
    assert 0.2 < played.count("chaser") / 300 < 0.3 and 0.2 < played.count("random") / 300 < 0.3
    assert _opponents_per_episode(env, 300, seed=3) == played  # a seeded reset replays the same draws
    assert _opponents_per_episode(env, 300, seed=4) != played
    always = OneSide(GAME, "agent", None, references=[None, None], reference_prob=1.0)
    assert "frozen" not in _opponents_per_episode(always, 50, seed=0)
    never = OneSide(GAME, "agent", None, references=[None, None], reference_prob=0.0)
    assert set(_opponents_per_episode(never, 50, seed=0)) == {"frozen"}


def test_league_references_are_checked_against_the_game():
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["league.references=[chasr]", "league.reference_prob=0.5"])
    assert info.value.problems == ["league.references: unknown player 'chasr' (did you mean 'chaser'?); "
                                   "this game knows: random, chaser, evader"]
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["league.references=[]", "league.reference_prob=0.5"])
    assert info.value.problems == ["league.reference_prob: > 0 but league.references is empty"]
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["league.reference_prob={prey: 0.5}"])
    assert info.value.problems == ["league.reference_prob.prey: not a side of simple_tag_v3 (adversary, agent)"]
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["league.reference_prob={agent: 1.5}"])
    assert info.value.problems == ["league.reference_prob: the share for 'agent' is 1.5; a share of episodes is "
                                   "a number between 0 and 1"]
    for bad, line in (("{agent: abc}", "the share for 'agent' is 'abc'; a share of episodes is a number between 0 and 1"),
                      ("-0.1", "the share is -0.1; a share of episodes is a number between 0 and 1"),
                      ("abc", "expected a share (0.5) or a share per side ({agent: 0.5, adversary: 0.25}), got 'abc'")):
        with pytest.raises(ConfigError) as info:
            load_config(CONFIG, [f"league.reference_prob={bad}"])
        assert info.value.problems == [f"league.reference_prob: {line}"]  # one line, not one per branch of the union


def test_a_reference_or_baseline_given_twice_is_refused_as_selfplay_refuses_it():
    """A league reference given twice doubled its share in silence; a baseline twice was one."""
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["league.references=[chaser, chaser]", "league.reference_prob={agent: 0.5}",
                             "ratings.baselines=[random, random]"])
    assert info.value.problems == [
        "league.references.1: 'chaser' is given twice (also at league.references.0); list each player once",
        "ratings.baselines.1: 'random' is given twice (also at ratings.baselines.0); list each player once"]


def test_a_share_no_reference_can_serve_is_refused_not_dropped():
    from rlgen.errors import ConfigError

    # the chaser plays the predators (adversary): the predators' own share has no prey to meet
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["league.references=[chaser]", "league.reference_prob={adversary: 0.5}"])
    assert info.value.problems == ["league.reference_prob.adversary: 0.5, but no league.references plays side agent, "
                                   "which side adversary trains against (chaser plays adversary); add random or evader"]
    with pytest.raises(ConfigError) as info:  # one share is each side's: refused alike, naming the form that keeps it
        load_config(CONFIG, ["league.references=[chaser]", "league.reference_prob=0.5"])
    assert info.value.problems == ["league.reference_prob: 0.5 (each side), but no league.references plays side agent, "
                                   "which side adversary trains against (chaser plays adversary); add random or "
                                   "evader, or give the share per side: league.reference_prob={agent: 0.5}"]
    load_config(CONFIG, ["league.references=[chaser]", "league.reference_prob={agent: 0.5}"])  # the prey meets it


def test_simple_tag_by_its_module_path_keeps_the_configs_scripted_players():
    cfg = load_config(CONFIG, ["game.name=mpe2.simple_tag_v3"])  # references and baselines: chaser, evader
    assert cfg.league.references == ["chaser", "evader", "random"]


def test_a_game_teams_cannot_play_is_one_config_line():
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["game.kwargs.continuous_actions=true"])
    assert info.value.problems == ["game.kwargs: kind: teams plays discrete actions, and simple_tag_v3 gives "
                                   "adversary_0: Box(0.0, 1.0, (5,), float32) (set continuous_actions: false)"]
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["game.name=simple_adversary_v3", "game.kwargs={N: 0}", "league.references=[random]",
                             "ratings.baselines=[random]"])
    (line,) = info.value.problems
    assert line.startswith("game: simple_adversary_v3 with kwargs {'N': 0} cannot be made: ValueError")
    with pytest.raises(ConfigError) as info:  # taken by the constructor, refused by the game once it plays
        load_config(CONFIG, [f"game.name={__name__}:scaled_duel", *DUEL, "game.kwargs={scale: abc}"])
    (line,) = info.value.problems
    assert line.startswith(f"game: {__name__}:scaled_duel with kwargs {{'scale': 'abc'}} fails in its first 50 random "
                           "steps: TypeError")


def scaled_duel(scale: float = 1.0):
    """The toy duel with its rewards times `scale`: a kwarg the constructor keeps and only a step reads
    (max_cycles: abc was one, until game.kwargs.max_cycles was checked when the config loads)."""
    from tests.envs.games.toy_games import Duel

    class Scaled(Duel):
        def step(self, actions):
            obs, rewards, *rest = super().step(actions)
            return (obs, {a: r * scale for a, r in rewards.items()}, *rest)

    return Scaled()


def test_a_pettingzoo_game_whose_package_is_missing_says_which(monkeypatch):
    import importlib

    from rlgen.errors import RlgenError
    from rlgen.registry import GAMES

    real = importlib.import_module

    def without_rlcard(module, *args):
        if module == "pettingzoo.classic.leduc_holdem_v4":
            raise ModuleNotFoundError("No module named 'rlcard'", name="rlcard")
        return real(module, *args)

    monkeypatch.setattr(importlib, "import_module", without_rlcard)
    with pytest.raises(RlgenError, match="game 'leduc_holdem_v4' needs the package 'rlcard', which is not installed"):
        GAMES.get("leduc_holdem_v4")
    with pytest.raises(RlgenError, match="unknown game 'no_such_game_v1'"):
        GAMES.get("no_such_game_v1")


def test_each_side_meets_the_references_that_play_the_other_side(tmp_path):
    cfg = load_config(CONFIG, ["game.copies=2", "game.kwargs.max_cycles=5", "league.references=[chaser, random]",
                               "league.reference_prob=1"])
    exp = TeamsExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), 0))
    prey_side = [e.par_env for e in exp.envs["agent"].venv.vec_envs]  # the prey meets predators: chaser, random
    predator_side = [e.par_env for e in exp.envs["adversary"].venv.vec_envs]  # random only: no scripted prey named
    assert [len(e.references) for e in prey_side] == [2, 2] and [len(e.references) for e in predator_side] == [1, 1]
    assert prey_side[0].references[1] is not prey_side[1].references[1]  # each copy its own random player
    assert {e.reference_prob for e in prey_side + predator_side} == {1.0}
    exp.close()
    # a share per training side; a side not named plays its frozen opponent only
    cfg = load_config(CONFIG, ["game.copies=1", "game.kwargs.max_cycles=5", "league.reference_prob={agent: 0.5}"])
    exp = TeamsExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), 0))
    assert [e.par_env.reference_prob for side in ("agent", "adversary") for e in exp.envs[side].venv.vec_envs] == [0.5, 0.0]
    exp.close()


def test_a_side_is_one_vec_entry_per_agent_for_a_shared_policy():
    vec = side_vec_env(GAME, "adversary", random_team(GAME, "agent"), copies=2)
    assert vec.num_envs == 6 and vec.reset().shape == (6, 16)
    vec.close()


def test_play_teams_scores_each_side():
    # still predators against a random prey: nobody is caught; the prey only pays for leaving the field
    still = lambda obs: {a: 0 for a in obs}  # noqa: E731
    returns = play_teams(GAME, {"adversary": still, "agent": random_team(GAME, "agent")}, episodes=2)
    assert returns["adversary"] == 0.0 and returns["agent"] <= 0.0


def test_phases_alternate_and_survive_save_load(tmp_path):
    cfg = load_config(CONFIG, ["game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=24",
                               "game.kwargs.max_cycles=10", "schedule.units_per_phase=1"])
    exp = TeamsExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), 0))
    exp.train_unit()  # adversaries learn: 8 steps x 3 agents
    assert exp.models["adversary"].num_timesteps == 24 and exp.models["agent"].num_timesteps == 0
    exp.train_unit()  # then the prey: 8 steps x 1 agent
    assert exp.models["agent"].num_timesteps == 8 and exp.global_step == 32 and exp.phase == 2
    # the frozen copy of the adversaries is what they were at the end of their phase
    frozen = exp.frozen["adversary"].state_dict()
    for k, v in exp.models["adversary"].policy.state_dict().items():
        assert torch.equal(frozen[k], v.cpu())
    assert set(exp.evaluate(episodes=1)) >= {"eval/return_adversary", "eval/return_agent_vs_random"}
    state = exp.state_dict()
    other = TeamsExperiment(cfg)
    other.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), 7))
    other.load_state_dict(state)
    assert other.global_step == 32 and other.phase == 2
    obs = np.zeros((3, 16), np.float32)
    np.testing.assert_array_equal(other.models["adversary"].predict(obs, deterministic=True)[0],
                                  exp.models["adversary"].predict(obs, deterministic=True)[0])
    exp.close(), other.close()


def test_honours_the_experiment_protocol():
    # a phase per unit, so the checkpoint falls between phases and the frozen copies must carry over
    overrides = [*smoke_overrides(CONFIG), "agent.hyperparams.batch_size=8", "schedule.units_per_phase=1"]
    report = check_experiment("teams", CONFIG, overrides)
    assert report.exact and "league/phase" in report.metric_names


TOY = "tests.envs.games.toy_games"
DUEL = ["game.kwargs={}", "league.references=[]", "league.reference_prob=0", "ratings.baselines=[random]"]


@pytest.mark.parametrize("game, problem", [
    ("dying_duel", "game: tests.envs.games.toy_games:dying_duel: blue_1 left the game at step 3 while others played on; "
                   "kind: teams needs every agent to play until the episode ends"),
    ("hetero_duel", "game: tests.envs.games.toy_games:hetero_duel: the agents of side 'red' observe different spaces "
                    "(red_0: Box(-50.0, 50.0, (3,), float32), red_1: Box(-50.0, 50.0, (4,), float32))"),
    ("bad_obs_duel", "game: tests.envs.games.toy_games:bad_obs_duel gives red_0 an observation of shape (8,), its "
                     "observation_space says (3,) (after 0 steps)"),
    ("dict_duel", "game: tests.envs.games.toy_games:dict_duel: red_0 observes Dict('position': Box(-50.0, 50.0, (3,), "
                  "float32)), and kind: teams takes Box, Discrete, MultiDiscrete or MultiBinary observations; point "
                  "game.name at a function"),
])
def test_a_game_supersuit_cannot_stack_is_one_config_line(game, problem):
    from rlgen.errors import ConfigError

    load_config(CONFIG, [f"game.name={TOY}:duel", *DUEL])  # the same game, playing by the rules
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, [f"game.name={TOY}:{game}", *DUEL])
    (line,) = info.value.problems
    assert line.startswith(problem) and "env.wrappers" not in line, line


def test_an_agent_leaving_mid_episode_is_named_where_supersuit_would_assert():
    from rlgen.errors import RlgenError

    env = OneSide(team_game(f"{TOY}:dying_duel"), "red", lambda obs: {a: 1 for a in obs})
    env.reset(seed=0)
    for _ in range(2):
        env.step({a: 1 for a in env.agents})
    with pytest.raises(RlgenError, match="game duel: blue_1 left the game at step 3 while others played on"):
        env.step({a: 1 for a in env.agents})


def test_empty_baselines_say_what_the_ratings_need():
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, ["ratings.baselines=[]"])
    assert info.value.problems == ["ratings.baselines: empty, and the Elo ratings are anchored on a baseline: name at "
                                   "least one (random, chaser, evader), or set ratings.games_per_pair: 0 for no ratings"]
    # no ratings, and an early-stop metric the run logs without baselines (eval/score_min needs one)
    load_config(CONFIG, ["ratings.baselines=[]", "ratings.games_per_pair=0", "train.early_stop.metric=eval/return_agent"])


def test_snapshots_of_both_sides_at_one_step_are_listed_in_one_order_whatever_came_first():
    from rlgen.agents.selfplay.teams import snapshot_order

    wanted = ["adversary:step_0", "agent:step_0", "adversary:step_512", "agent:step_512"]
    assert snapshot_order(["agent:step_512", "agent:step_0", "adversary:step_512", "adversary:step_0"]) == wanted
    assert snapshot_order(reversed(wanted)) == wanted  # a set's order (PYTHONHASHSEED) cannot show through
