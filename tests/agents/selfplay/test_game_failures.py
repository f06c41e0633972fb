"""A game that raises in its own code during self-play: one line naming the game, the phase, the
step and the game's line (`RunFailed`, the run kept as failed), as kind: rl says an env's error.
An error of a player's (a policy, a move function) is not the game's and keeps its traceback."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rlgen.agents.rl.env_failures import env_failures
from rlgen.agents.selfplay.experiment import SelfPlayExperiment
from rlgen.cli import main
from rlgen.envs.games import TurnBasedEnv, fixed_opponent, make_game, play_game
from rlgen.errors import RunFailed
from tests.agents.selfplay.experiments import set_up

POINTS = "tests.envs.games.toy_games:points"
CONFIG = Path(__file__).resolve().parents[3] / "configs" / "selfplay_tictactoe.yaml"
TINY = [f"game.name={POINTS}", "league.references=[random]", "ratings.references=[random]",
        "train.early_stop.metric=eval/win_rate_vs_random", "train.early_stop.mode=max", "game.n_envs=2",
        "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32", "agent.hyperparams.n_epochs=1",
        "ratings.games_per_pair=2", "train.eval_episodes=2"]
LINE = r"\(toy_games.py:\d+, in step\(\): fix the game\)$"


def first_legal(obs, mask):
    return int(np.flatnonzero(mask)[0])


def test_a_game_that_raises_in_training_stops_the_run_in_one_line(tmp_path, quiet, capsys):
    args = [*TINY, "game.kwargs.raise_after=40", "train.total_steps=64", *quiet]
    assert main(["train", str(CONFIG), *args, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(rf"game '{POINTS}' raised RuntimeError in the training rollout at step \d+: deck is empty "
                     r"\(toy_games.py:\d+, in step\(\): fix the game\)", err)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("phase", ["an evaluation", "the ratings"])
def test_a_game_that_raises_in_evaluation_or_the_ratings_is_one_line(tmp_path, phase):
    exp = set_up(SelfPlayExperiment, CONFIG, TINY, tmp_path)
    exp.game = make_game(POINTS, {"raise_after": 0})  # the games evaluation and the ratings deal
    with pytest.raises(RunFailed, match=rf"^game '{POINTS}' raised RuntimeError in {phase} at step 0: deck is "
                                        rf"empty {LINE}"):
        exp.evaluate() if phase == "an evaluation" else exp.ratings(2)
    exp.close()


def test_a_players_error_is_not_the_games():
    """The opponent moves inside the learner's step, below the vector env, and a policy's error comes
    from torch's code, not rlgen's: the rule of kind: rl (below a DummyVecEnv, not rlgen's) would
    call it the game's."""
    def broken(obs, mask):
        raise ZeroDivisionError("a player's bug")

    venv = DummyVecEnv([lambda: TurnBasedEnv(make_game(POINTS), fixed_opponent(broken), seat="second")])
    with pytest.raises(ZeroDivisionError), env_failures("points", "the training rollout", lambda: 0, game=True):
        venv.reset()
    with pytest.raises(ZeroDivisionError), env_failures("points", "an evaluation", lambda: 0, game=True):
        play_game(make_game(POINTS)(), (first_legal, broken))
    with pytest.raises(RunFailed, match=rf"^game 'points' raised RuntimeError in an evaluation at step 7: .* {LINE}"):
        with env_failures("points", "an evaluation", lambda: 7, game=True):
            play_game(make_game(POINTS, {"raise_after": 1})(), (first_legal, first_legal))
