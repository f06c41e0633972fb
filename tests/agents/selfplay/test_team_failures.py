"""A parallel game that raises in its own code under kind: teams: one line naming the game, the
phase, the step and the game's line (`RunFailed`, the run kept as failed), as kind: selfplay says
it. An error of a player's (a side's opponent, a team policy) is not the game's and keeps its
traceback."""

import json
import re
from pathlib import Path

import pytest

from rlgen.agents.rl.env_failures import env_failures
from rlgen.agents.selfplay.teams import TeamsExperiment, baseline_players
from rlgen.cli import main
from rlgen.envs.games.teams import play_teams, side_vec_env, team_game
from rlgen.errors import RunFailed
from tests.agents.selfplay.experiments import set_up

GAME = "tests.envs.games.toy_games:failing_duel"
CONFIG = Path(__file__).resolve().parents[3] / "configs" / "teams_simple_tag.yaml"
TINY = [f"game.name={GAME}", "game.kwargs={raise_after: 30}", "league.references=[]", "league.reference_prob=0",
        "ratings.baselines=[random]", "game.copies=1", "agent.hyperparams.n_steps=16",
        "agent.hyperparams.batch_size=16", "agent.hyperparams.n_epochs=1", "ratings.games_per_pair=1",
        "ratings.episodes=1", "train.eval_episodes=1"]
LINE = r"arena collapsed \(toy_games.py:\d+, in step\(\): fix the game\)$"


def test_a_game_that_raises_in_training_stops_the_run_in_one_line(tmp_path, quiet, capsys):
    args = [*TINY, "train.total_steps=200", *quiet]
    assert main(["train", str(CONFIG), *args, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert re.search(rf"game '{GAME}' raised RuntimeError in the training rollout at step \d+: {LINE}", err, re.M), err
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("phase", ["an evaluation", "the ratings"])
def test_a_game_that_raises_in_evaluation_or_the_ratings_is_one_line(tmp_path, phase):
    exp = set_up(TeamsExperiment, CONFIG, TINY, tmp_path)
    exp.game = team_game(GAME, raise_after=0)  # the games evaluation and the ratings play
    with pytest.raises(RunFailed, match=rf"^game '{GAME}' raised RuntimeError in {phase} at step 0: {LINE}"):
        if phase == "an evaluation":
            exp.evaluate()
        else:
            exp.ratings(1, baseline_players(exp.cfg, exp.game, exp.sides, exp.rules))
    exp.close()


def test_a_players_error_is_not_the_games():
    """The opponent acts inside the trained side's step (rlgen's OneSide, below the vector env):
    its error is a player's, not the game's."""
    def broken(obs):
        raise ZeroDivisionError("a player's bug")

    game = team_game(GAME, raise_after=100)
    venv = side_vec_env(game, "red", broken, copies=1)
    venv.reset()
    with pytest.raises(ZeroDivisionError), env_failures(GAME, "the training rollout", lambda: 0, game=True):
        venv.step(venv.action_space.sample()[None].repeat(venv.num_envs, 0))
    with pytest.raises(ZeroDivisionError), env_failures(GAME, "an evaluation", lambda: 0, game=True):
        play_teams(game, {"red": broken, "blue": broken}, 1)
