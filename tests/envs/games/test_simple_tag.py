"""simple_tag's scripted players and scoring: the observation layout against the world's own state,
the chaser and evader's moves, and both beating a random player of their side."""

import numpy as np
import pytest

pytest.importorskip("mpe2")

from rlgen.envs.games import simple_tag  # noqa: E402
from rlgen.envs.games.simple_tag import Layout, best_action, chaser, evader  # noqa: E402
from rlgen.envs.games.teams import TeamRules, play_team_episodes, random_team, team_game  # noqa: E402
from rlgen.errors import RlgenError  # noqa: E402

GAME = team_game("simple_tag_v3", max_cycles=25)


def tags(predators, prey, episodes=40):
    returns = play_team_episodes(GAME, {"adversary": predators, "agent": prey}, episodes, seed=0)
    return np.mean([simple_tag.scores(r)["tags"] for r in returns])


@pytest.mark.parametrize("kwargs", [{}, {"num_good": 2, "num_adversaries": 2, "num_obstacles": 3}])
def test_the_layout_reads_the_positions_the_world_holds(kwargs):
    game = team_game("simple_tag_v3", **kwargs)
    env = game()
    obs, _ = env.reset(seed=3)
    world = env.unwrapped.world
    layout = Layout.of(game)
    prey = [a for a in world.agents if not a.adversary]
    predators = [a for a in world.agents if a.adversary]
    assert (layout.predators, layout.prey) == (len(predators), len(prey))
    for p in predators:
        expected = np.array([q.state.p_pos - p.state.p_pos for q in prey])
        np.testing.assert_allclose(layout.prey_positions(obs[p.name]), expected, rtol=1e-5)
    for q in prey:
        expected = np.array([p.state.p_pos - q.state.p_pos for p in predators])
        np.testing.assert_allclose(layout.predator_positions(obs[q.name]), expected, rtol=1e-5)


def test_best_action_follows_mpe2s_action_forces():
    assert [best_action(np.array(d)) for d in ([-1, 0.2], [1, 0.2], [0.1, -1], [0.1, 1], [0, 0])] == [1, 2, 3, 4, 0]


def test_the_chaser_steps_toward_the_prey_and_the_evader_away():
    env = GAME()
    obs, _ = env.reset(seed=0)
    world = env.unwrapped.world
    prey = next(a for a in world.agents if not a.adversary)
    moves = chaser(GAME, "adversary")({a: obs[a] for a in obs if a.startswith("adversary")})
    for p in (a for a in world.agents if a.adversary):
        toward = prey.state.p_pos - p.state.p_pos
        assert simple_tag.ACTION_FORCES[moves[p.name]] @ toward > 0
    # one predator just left of the prey, in the middle of the field: the prey goes right
    layout = Layout.of(GAME)
    o = np.zeros(4 + 2 * layout.obstacles + 2 * layout.predators)
    o[4 + 2 * layout.obstacles:] = np.tile([5.0, 5.0], layout.predators)  # the others far away, up-right
    o[4 + 2 * layout.obstacles:6 + 2 * layout.obstacles] = [-0.2, 0.0]
    assert evader(GAME, "agent")({"agent_0": o})["agent_0"] == 2
    o[2:4] = [0.98, 0.0]  # the same, at the right edge: sideways, neither out of the field nor into the predator
    assert evader(GAME, "agent")({"agent_0": o})["agent_0"] in (3, 4)


def test_the_scripted_players_beat_random_ones_of_their_side():
    random_predators, random_prey = random_team(GAME, "adversary", seed=1), random_team(GAME, "agent", seed=2)
    assert tags(chaser(GAME, "adversary"), random_prey) > 4 * tags(random_predators, random_prey)
    assert tags(chaser(GAME, "adversary"), evader(GAME, "agent")) < 0.5 * tags(chaser(GAME, "adversary"), random_prey)
    assert tags(random_predators, evader(GAME, "agent")) < tags(random_predators, random_prey)
    # and it stays inside the field: its return (tags and mpe2's fine for the edge) beats a random prey's
    prey_return = lambda prey: np.mean([r["agent"] for r in play_team_episodes(  # noqa: E731
        GAME, {"adversary": chaser(GAME, "adversary"), "agent": prey}, 40, seed=0)])
    assert prey_return(evader(GAME, "agent")) > prey_return(random_prey) / 2


def test_scores_and_outcome_read_the_predators_return():
    assert simple_tag.scores({"adversary": 30.0, "agent": -31.5}) == {"tags": 3.0}
    assert simple_tag.outcome({"adversary": 10.0, "agent": -10.0}) == {"adversary": 1.0, "agent": 0.0}
    assert simple_tag.outcome({"adversary": 0.0, "agent": -2.0}) == {"adversary": 0.0, "agent": 1.0}


def test_the_scripted_players_refuse_layouts_they_cannot_read():
    with pytest.raises(RlgenError, match="num_agent_neighbors"):
        chaser(team_game("simple_tag_v3", num_agent_neighbors=2), "adversary")
    with pytest.raises(RlgenError, match="discrete"):
        evader(team_game("simple_tag_v3", continuous_actions=True), "agent")


def test_rules_come_from_the_games_module_and_random_plays_everywhere():
    rules = TeamRules.of("simple_tag_v3")
    sides = ["adversary", "agent"]
    assert [rules.sides_of_player(n, sides) for n in ("random", "chaser", "evader")] == [sides, ["adversary"], ["agent"]]
    with pytest.raises(RlgenError, match="did you mean 'chaser'"):
        rules.sides_of_player("chaserr", sides)
    with pytest.raises(RlgenError, match="plays side 'agent'"):
        rules.player("evader", GAME, "adversary")
    # a game whose module adds nothing: random only, and the higher return wins an episode
    plain = TeamRules.of("mpe2.simple_adversary_v3")
    assert list(plain.players) == ["random"] and plain.scores({"adversary": 1.0}) == {}
    assert plain.outcome({"adversary": -1.0, "agent": 2.0}) == {"adversary": 0.0, "agent": 1.0}
    assert plain.outcome({"adversary": 1.0, "agent": 1.0}) == {"adversary": 0.5, "agent": 0.5}


@pytest.mark.parametrize("name", ["mpe2.simple_tag_v3", "mpe2.simple_tag_v3:parallel_env", "mpe2.simple_tag.simple_tag"])
def test_simple_tag_by_its_module_path_is_the_same_game_with_its_players(name):
    from rlgen.envs.games.teams import registered_team_game

    assert registered_team_game(name) == "simple_tag_v3"  # the same parallel_env as the registered module's
    rules = TeamRules.of(name)
    assert list(rules.players) == ["random", "chaser", "evader"]
    assert rules.scores is simple_tag.scores and rules.outcome is simple_tag.outcome
    assert registered_team_game("mpe2.simple_spread_v3") == "mpe2.simple_spread_v3"  # registered under no name
