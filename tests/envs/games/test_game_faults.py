"""Games with a bug of their own, met under self-play: each is one line naming the game, before the
run is made (the game check) or when it is met in a run, never a traceback from inside the adapter."""

from pathlib import Path

import numpy as np
import pytest

from rlgen.cli import main
from rlgen.envs.games import TurnBasedEnv, aec, check_game, fixed_opponent, make_game, play_game, teams
from rlgen.errors import RlgenError, RlgenWarning

TOY = "tests.envs.games.toy_games"
CONFIG = Path(__file__).resolve().parents[3] / "configs" / "selfplay_tictactoe.yaml"
RANDOM_ONLY = ["league.references=[random]", "ratings.references=[random]",
               "train.early_stop.metric=eval/win_rate_vs_random", "train.early_stop.mode=max"]


def random_move(rng):
    return lambda obs, mask: int(rng.choice(np.flatnonzero(mask)))


@pytest.mark.parametrize("broken, error", [("reset", "ValueError: deck is empty"),
                                           ("step", "ValueError: arena not ready")])
def test_a_game_whose_reset_or_step_raises_is_one_line_of_the_check(broken, error):
    problem = check_game(f"{TOY}:broken_nim", {"broken": broken})
    assert problem == (f"game '{TOY}:broken_nim' with kwargs {{'broken': {broken!r}}} fails in its first 50 random "
                       f"moves: {error}")


def test_the_cli_refuses_such_a_game_in_one_line_before_making_a_run(tmp_path, quiet, capsys):
    args = [f"game.name={TOY}:broken_nim", *RANDOM_ONLY, f"logging.dir={tmp_path}", *quiet]
    assert main(["train", str(CONFIG), *args]) == 2
    err = capsys.readouterr().err
    assert "game.name: game" in err and "fails in its first 50 random moves: ValueError: deck is empty" in err
    assert "Traceback" not in err and not list(tmp_path.iterdir())


STUCK = f"game '{TOY}:stuck_nim' gives player_1 no legal move (after 1 moves) in a game not over"


@pytest.mark.parametrize("seat", ["first", "second"])
def test_a_player_left_without_a_legal_move_is_the_checks_error_in_training(seat):
    # the check plays one game, and this game gets stuck from its third on; learner first: the
    # opponent (a random player, whose rng.choice fails on no moves) is stuck; second: the learner
    # (whose all-masked distribution would pick a move scored as an illegal one) is
    assert check_game(f"{TOY}:stuck_nim") is None
    env = TurnBasedEnv(make_game(f"{TOY}:stuck_nim"), fixed_opponent(random_move(np.random.default_rng(0))),
                       seat=seat, name=f"{TOY}:stuck_nim")
    with pytest.raises(RlgenError) as info:
        for _ in range(3):
            env.reset(seed=0)
            while True:
                *_, terminated, truncated, _ = env.step(int(np.flatnonzero(env.action_masks())[0]))
                if terminated or truncated:
                    break
    assert str(info.value) == STUCK


def test_evaluation_play_meets_it_as_the_same_error():
    from rlgen.agents.selfplay.experiment import versus

    game = make_game(f"{TOY}:stuck_nim", {"stuck_from": 1})
    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    with pytest.raises(RlgenError) as info:
        versus(game, first_legal, first_legal, 2, name=f"{TOY}:stuck_nim")  # as the run names the game
    assert str(info.value) == STUCK
    with pytest.raises(RlgenError, match="^game 'nim' gives player_1 no legal move"):  # unnamed: the game's own name
        play_game(game(), (first_legal, first_legal), seed=0)


def test_a_run_that_meets_it_stops_with_that_line(tmp_path, quiet, capsys):
    args = [f"game.name={TOY}:stuck_nim", *RANDOM_ONLY, "game.n_envs=2", "agent.hyperparams.n_steps=32",
            "agent.hyperparams.batch_size=64", f"logging.dir={tmp_path}", *quiet]
    assert main(["train", str(CONFIG), *args]) == 2
    err = capsys.readouterr().err
    assert "no legal move (after 1 moves) in a game not over" in err and "Traceback" not in err


@pytest.fixture
def small_cap(monkeypatch):
    """EPISODE_STEP_CAP at 40, and no game warned about yet."""
    for module in (aec, teams):
        monkeypatch.setattr(module, "EPISODE_STEP_CAP", 40)
    monkeypatch.setattr(aec, "_cut_games", set())


def test_a_game_that_never_ends_is_cut_at_the_cap_as_a_draw_with_one_warning(small_cap):
    """Evaluation plays it to an end (it hung, past SIGTERM's reach); the warning names the game once."""
    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    game = make_game(f"{TOY}:endless_nim", {"ends_after": 100})()  # an end past the cap: without it, no warning
    with pytest.warns(RlgenWarning) as said:
        assert [play_game(game, (first_legal, first_legal), seed=0) for _ in range(3)] == [0.0] * 3
    (line,) = [str(w.message) for w in said]
    assert line.startswith("game 'endless_nim' was still on after 40 moves: cut there and scored as a truncated game")
    assert "game.kwargs" in line


def test_a_team_game_that_never_ends_is_cut_at_the_cap(small_cap):
    game = teams.team_game(f"{TOY}:duel", max_cycles=100)  # an end past the cap: without it, no warning
    still = lambda obs: {agent: 1 for agent in obs}  # noqa: E731
    with pytest.warns(RlgenWarning, match="^game 'duel' was still on after 40 steps"):
        returns = teams.play_team_episodes(game, {"red": still, "blue": still}, episodes=2)
    assert len(returns) == 2


def test_a_checkpoint_saved_before_the_move_count_existed_resumes(tmp_path):
    # the adapter counts its game's moves for the message above; a checkpoint saved before it did
    # holds games in progress without the count, and restoring them leaves the attribute out
    import torch

    from rlgen.agents.selfplay.experiment import SelfPlayExperiment
    from rlgen.api import load_config
    from rlgen.logging import Logger
    from rlgen.runner import RunContext

    removed = []

    def without_moves(node):
        if isinstance(node, dict):
            if "moves" in node and "learner" in node:  # a TurnBasedEnv's attributes
                removed.append(node["moves"])
            return {k: without_moves(v) for k, v in node.items() if not (k == "moves" and "learner" in node)}
        return [without_moves(v) for v in node] if isinstance(node, list) else node

    def experiment():
        cfg = load_config(CONFIG, ["game.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
                                   "agent.hyperparams.n_epochs=1", "logging.wandb.mode=disabled"])
        exp = SelfPlayExperiment(cfg)
        exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
        return exp

    exp = experiment()
    exp.train_unit()
    state = exp.state_dict()
    old = {**state, "env": without_moves(state["env"])}
    assert len(removed) == 2  # one count per game in progress, taken out
    resumed = experiment()
    resumed.load_state_dict(old)
    resumed.train_unit()
    exp.close(), resumed.close()
