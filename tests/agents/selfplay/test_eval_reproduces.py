"""A checkpoint's evaluation depends on its weights alone: `rlgen eval` of a self-play or teams
checkpoint (a fresh experiment with the checkpoint loaded) gives the figures its training
evaluation logged. Self-play's evaluation rolls the training opponents' dice, as it always has (a
run trains on from what its evaluations drew): a checkpoint keeps the dice its evaluation started
from and replays them; teams' evaluation draws nothing training draws from."""

from pathlib import Path

import pytest
import torch

from rlgen import checkpoint
from rlgen.agents.selfplay.experiment import SelfPlayExperiment
from rlgen.experiment import back_to_evaluation_start, evaluation_start
from rlgen.testing import check_experiment
from tests.agents.selfplay.experiments import plain, set_up
from tests.test_configs import smoke_overrides

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
SELFPLAY = (SelfPlayExperiment, CONFIGS / "selfplay_tictactoe.yaml",
            ["game.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64",
             "agent.hyperparams.n_epochs=1", "league.snapshot_every=32", "ratings.games_per_pair=8",
             "train.eval_episodes=16", "league.references=[random]", "league.reference_prob=0.5"])
TEAMS_CONFIG = CONFIGS / "teams_simple_tag.yaml"
TEAMS = ["game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=24",
         "game.kwargs.max_cycles=10", "schedule.units_per_phase=1", "ratings.episodes=4", "ratings.games_per_pair=8"]


def _teams():
    pytest.importorskip("mpe2")
    from rlgen.agents.selfplay.teams import TeamsExperiment

    return TeamsExperiment, TEAMS_CONFIG, TEAMS


@pytest.mark.parametrize("which", ["selfplay", "teams"])
def test_a_loaded_checkpoint_evaluates_as_its_training_evaluation_did(tmp_path, which):
    kind, config, overrides = SELFPLAY if which == "selfplay" else _teams()
    exp = set_up(kind, config, overrides, tmp_path / "a")
    exp.train_unit()
    exp.train_unit()
    logged = plain(exp.evaluate())  # the training row
    checkpoint.save(tmp_path / "ckpt", exp.global_step, {"experiment": exp.state_dict()})  # as the runner, after it
    exp.train_unit()  # training goes on, drawing from its own streams
    loaded = set_up(kind, config, overrides, tmp_path / "b")
    loaded.load_state_dict(checkpoint.load(tmp_path / "ckpt")["experiment"])
    torch.manual_seed(123)  # whatever the global RNGs hold
    assert plain(loaded.evaluate()) == logged
    assert plain(loaded.evaluate()) == logged  # no new pairs to play now: the same figures all the same
    exp.close(), loaded.close()


def test_a_loaded_selfplay_checkpoint_replays_its_dice_and_trains_on_from_the_runs(tmp_path):
    exp = set_up(*SELFPLAY, tmp_path / "a")
    exp.train_unit()
    logged = plain(exp.evaluate())
    checkpoint.save(tmp_path / "ckpt", exp.global_step, {"experiment": exp.state_dict()})
    loaded = set_up(*SELFPLAY, tmp_path / "b")
    loaded.load_state_dict(checkpoint.load(tmp_path / "ckpt")["experiment"])
    start = evaluation_start(loaded)  # as `Run.evaluate` takes it before its first evaluation
    assert plain(loaded.evaluate()) == logged
    back_to_evaluation_start(loaded, start)
    assert plain(loaded.evaluate()) == logged
    # the evaluation drew what the run's did: training goes on from the dice the run left, as a resume must
    assert loaded.opponent_rng.bit_generator.state == exp.opponent_rng.bit_generator.state
    loaded.train_unit()  # (the whole resume, global RNGs included, is tests/test_exact_resume.py's)
    assert loaded.replay is None and loaded.state_dict()["eval_start"] is None  # trained since: no dice to replay
    exp.close(), loaded.close()


def test_a_teams_evaluation_state_puts_the_cached_results_back(tmp_path):
    exp = set_up(*_teams(), tmp_path)
    exp.train_unit()
    start = evaluation_start(exp)
    first = plain(exp.evaluate())
    assert exp.results  # the pairs of frozen players, cached
    back_to_evaluation_start(exp, start)
    assert exp.results == {}  # as the loaded run was: `Run.evaluate` leaves it so
    assert plain(exp.evaluate()) == first
    exp.close()


def test_teams_honours_the_protocol_with_its_configs_own_smoke_overrides():
    # max_cycles: 10 ends episodes within the first units: PettingZoo then makes `_skip_agent_selection`,
    # which a freshly built game lacks until its own first episode ends
    pytest.importorskip("mpe2")
    report = check_experiment("teams", TEAMS_CONFIG, smoke_overrides(TEAMS_CONFIG))
    assert report.exact and "eval/elo_agent" in report.eval_names
