"""The turn-based adapter: legal moves, masks, reward attribution, seats, the gymnasium checker."""

import re

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.classic import connect_four_v3, tictactoe_v3
from pettingzoo.test import api_test

from rlgen.envs.games import TurnBasedEnv, fixed_opponent, make_game, play_game
from rlgen.errors import RlgenError


def scripted(moves):
    """An opponent playing `moves` in order."""
    it = iter(moves)
    return lambda obs, mask: next(it)


def random_opponent(seed=0):
    rng = np.random.default_rng(seed)
    return lambda obs, mask: int(rng.choice(np.flatnonzero(mask)))


def board_mask(game, obs):
    """The legal moves as the rules define them, from the board alone."""
    occupied = obs[..., 0].astype(bool) | obs[..., 1].astype(bool)
    return ~occupied.reshape(-1) if game == "tictactoe_v3" else ~occupied[0]


@pytest.mark.parametrize("game", ["tictactoe_v3", "connect_four_v3"])
def test_random_play_is_legal_and_mask_matches_the_board(game):
    env = TurnBasedEnv(make_game(game), fixed_opponent(random_opponent(1), "random"))
    rng = np.random.default_rng(0)
    outcomes = []
    for episode in range(30):
        obs, _ = env.reset(seed=episode)
        done = False
        while not done:
            mask = env.action_masks()
            np.testing.assert_array_equal(mask, board_mask(game, obs))
            action = int(rng.choice(np.flatnonzero(mask)))
            obs, reward, terminated, truncated, info = env.step(action)
            assert "illegal_move" not in info
            done = terminated or truncated
        assert reward == info["outcome"] and reward in (-1.0, 0.0, 1.0)
        outcomes.append(reward)
    assert {-1.0, 1.0} <= set(outcomes)  # both sides won some: rewards are not one-sided


def test_the_learner_gets_the_loss_when_the_opponent_ends_the_game():
    results = []
    # Learner X first: X0, O3, X8, O4, X1 (fails to block), O5 completes 3-4-5 inside X's step.
    env = TurnBasedEnv(make_game("tictactoe_v3"), fixed_opponent(scripted([3, 4, 5]), "script"),
                       on_result=lambda name, r: results.append((name, r)), seat="first")
    env.reset(seed=0)
    assert env.step(0)[1:3] == (0.0, False)
    assert env.step(8)[1:3] == (0.0, False)
    obs, reward, terminated, truncated, info = env.step(1)
    assert (reward, terminated, truncated) == (-1.0, True, False)
    assert results == [("script", -1.0)]
    # the final observation shows the opponent's winning line
    assert obs[1, :, 1].all()


def test_the_learner_gets_the_loss_when_the_opponent_ends_connect_four():
    # Learner second: O stacks column 0 four times while X plays column 6 three times.
    env = TurnBasedEnv(make_game("connect_four_v3"), fixed_opponent(scripted([0, 0, 0, 0]), "script"), seat="second")
    env.reset(seed=0)
    rewards = [env.step(6)[1] for _ in range(3)]
    assert rewards[:2] == [0.0, 0.0] and rewards[2] == -1.0


def test_a_learner_win_and_a_draw():
    env = TurnBasedEnv(make_game("tictactoe_v3"), fixed_opponent(scripted([3, 4]), "s"), seat="first")
    env.reset(seed=0)
    env.step(0), env.step(1)
    assert env.step(2)[1:3] == (1.0, True)
    # X: 0 2 3 7 8... a drawn game: X0 O4 X8 O2 X6 O3 X5 O7 X1
    env = TurnBasedEnv(make_game("tictactoe_v3"), fixed_opponent(scripted([4, 2, 3, 7]), "s"), seat="first")
    env.reset(seed=0)
    steps = [env.step(a) for a in (0, 8, 6, 5, 1)]
    assert [s[1] for s in steps] == [0.0] * 5 and steps[-1][2] and steps[-1][4]["outcome"] == 0.0


def test_seats_alternate_between_episodes():
    env = TurnBasedEnv(make_game("tictactoe_v3"), fixed_opponent(random_opponent(), "random"))
    seats = []
    env.reset(seed=0)
    for episode in range(4):
        obs, info = env.reset() if episode else env.reset(seed=0)
        seats.append(info["seat"])
        # second seat: the opponent has already moved once; first seat: the board is empty
        assert obs[..., 1].sum() == info["seat"] and obs[..., 0].sum() == 0
    assert seats == [0, 1, 0, 1]


def test_an_illegal_move_loses():
    env = TurnBasedEnv(make_game("tictactoe_v3"), fixed_opponent(scripted([4]), "s"), seat="first")
    env.reset(seed=0)
    env.step(0)
    _, reward, terminated, _, info = env.step(4)  # taken by the opponent
    assert (reward, terminated, info["illegal_move"]) == (-1.0, True, True)


@pytest.mark.parametrize("game", ["tictactoe_v3", "connect_four_v3"])
def test_gymnasium_check_env(game):
    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731 - deterministic for the checker
    env = TurnBasedEnv(make_game(game), fixed_opponent(first_legal, "first_legal"))
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("module", [tictactoe_v3, connect_four_v3])
def test_raw_games_pass_pettingzoo_api_test(module):
    api_test(module.env(), num_cycles=200)


def test_play_game_scores_the_first_seat():
    game = make_game("tictactoe_v3")()
    assert play_game(game, (scripted([0, 1, 2]), scripted([3, 4]))) == 1.0
    assert play_game(game, (scripted([0, 1, 8]), scripted([3, 4, 5]))) == -1.0
    assert play_game(game, (scripted([0, 0]), scripted([3]))) == -1.0  # the illegal mover loses


def test_unknown_game_suggests():
    with pytest.raises(RlgenError, match="connect_four_v3"):
        make_game("connect_for_v3")


def test_image_observations_are_the_planes_channels_first():
    env = TurnBasedEnv(make_game("connect_four_v3"), fixed_opponent(scripted([3, 3]), "scripted"), seat="second",
                       image=True)
    obs, _ = env.reset(seed=0)  # the opponent has played column 3: it lands on the bottom row
    assert obs.shape == (2, 6, 7) and obs.dtype == np.uint8 and env.observation_space.contains(obs)
    assert obs[1, 5, 3] == 1 and obs[1].sum() == 1 and obs[0].sum() == 0  # plane 1: the opponent's
    obs, *_ = env.step(0)
    assert obs[0, 5, 0] == 1 and obs[1, 4, 3] == 1
    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731 - deterministic for the checker
    check_env(TurnBasedEnv(make_game("connect_four_v3"), fixed_opponent(first_legal, "first_legal"), image=True),
              skip_render_check=True)


# --- games that break the adapter's assumptions (tests/envs/games/toy_games.py) -------------------

TOY = "tests.envs.games.toy_games"


def resigns_when_it_can(obs, mask):
    return 3 if mask[3] else int(np.flatnonzero(mask)[0])


def test_a_game_over_before_the_learners_first_move_is_tallied_and_the_next_one_dealt():
    results = []
    env = TurnBasedEnv(make_game(f"{TOY}:resign_nim"), fixed_opponent(resigns_when_it_can, "quitter"),
                       on_result=lambda name, outcome: results.append((name, outcome)))
    infos = [env.reset(seed=0)[1]]
    infos += [env.reset()[1] for _ in range(2)]
    # seats alternate over the games dealt: the learner's second-seat games end at once (the opponent
    # resigns), are counted as its wins, and the next game, in the first seat, is the episode
    assert [i["seat"] for i in infos] == [0, 0, 0] and results == [("quitter", 1.0)] * 2
    assert env.episodes == 5 and env.action_masks().any()
    again = TurnBasedEnv(make_game(f"{TOY}:resign_nim"), fixed_opponent(resigns_when_it_can, "quitter"))
    np.testing.assert_array_equal(again.reset(seed=0)[0], TurnBasedEnv(
        make_game(f"{TOY}:resign_nim"), fixed_opponent(resigns_when_it_can, "quitter")).reset(seed=0)[0])


def test_a_game_that_never_lets_the_learner_move_is_one_error():
    env = TurnBasedEnv(make_game(f"{TOY}:first_resigns_nim"), fixed_opponent(resigns_when_it_can, "quitter"),
                       seat="second", name="first_resigns_nim")
    with pytest.raises(RlgenError, match=r"game 'first_resigns_nim': 100 games in a row ended before the learner "
                                         r"\(second seat\) had a move"):
        env.reset(seed=0)


@pytest.mark.parametrize("game, problem", [
    ("asym_nim", r"its seats observe or act differently \(player_0: Box\(0.0, 1.0, \(6,\), float32\)"),
    ("bad_shape_nim", r"gives player_0 an observation of shape \(8,\), its observation_space says \(6,\)"),
])
def test_check_game_refuses_what_one_policy_cannot_play(game, problem):
    from rlgen.envs.games import check_game

    assert check_game(f"{TOY}:nim") is None
    assert re.search(problem, check_game(f"{TOY}:{game}"))


def test_image_observations_need_a_board():
    with pytest.raises(RlgenError, match=r"observes shape \(6,\): image observations \(a cnn backbone\) need a board"):
        TurnBasedEnv(make_game(f"{TOY}:nim"), fixed_opponent(resigns_when_it_can), image=True)


def test_a_game_has_one_name_however_it_is_written():
    from rlgen.envs.games import game_name

    assert game_name("pettingzoo.classic.tictactoe_v3") == game_name("tictactoe_v3") == "tictactoe_v3"
    assert game_name("pettingzoo.classic.leduc_holdem_v4") == "leduc_holdem_v4"  # not registered: still classic
    assert game_name("mpe2.simple_push_v3") == "simple_push_v3"  # registered under its module name
    assert game_name(f"{TOY}:nim") == f"{TOY}:nim"


@pytest.mark.parametrize("seat, moves, outcome", [
    ("first", (2, 2, 0), 1.0),  # 4 points to 0: the last move scores nothing, the game is still won
    ("second", (2, 2, 1), -1.0),  # 5 to 6, the opponent's first 2 paid before the learner's first move
])
def test_a_game_that_pays_as_it_goes_is_won_on_the_learners_total(seat, moves, outcome):
    """The outcome tallied (PFSP's weights, league/*) is the sign of the learner's rewards over the
    whole game, as `play_game` scores evaluation: it was the sign of the last step's reward."""
    results = []
    env = TurnBasedEnv(make_game(f"{TOY}:points"), fixed_opponent(lambda obs, mask: 0 if seat == "first" else 2, "o"),
                       on_result=lambda name, r: results.append(r), seat=seat)
    env.reset(seed=0)
    steps = [env.step(a) for a in moves]
    assert steps[-1][2] and steps[-1][4]["outcome"] == outcome and results == [outcome]
    learner, opponent = scripted(moves), (lambda obs, mask: 0 if seat == "first" else 2)
    players = (learner, opponent) if seat == "first" else (opponent, learner)
    assert play_game(make_game(f"{TOY}:points")(), players) == (outcome if seat == "first" else -outcome)


def test_a_modules_env_or_raw_env_is_the_modules_game():
    from rlgen.envs.games import game_name

    assert game_name("pettingzoo.classic.connect_four_v3:env") == "connect_four_v3"
    assert game_name("pettingzoo.classic.connect_four_v3:raw_env") == "connect_four_v3"
    assert game_name("pettingzoo.classic.leduc_holdem_v4:env") == "leduc_holdem_v4"
    assert game_name("mpe2.simple_push_v3:env") == "simple_push_v3"
    assert game_name(f"{TOY}:nim") == f"{TOY}:nim"  # a function of another name: the game as written
