"""`lin_X` only where SB3 calls the value as a schedule: PPO's clip ranges (the learning rate's is
optim.schedule). Elsewhere (ent_coef, tau, ...) it passed the check and failed with a TypeError in
the first update, leaving a failed run directory; now a run that trains refuses it in one line,
while a run trained so before (one that never reached such an update) still opens."""

from __future__ import annotations

import pytest
import yaml

import rlgen
from rlgen.agents.rl.algos import schedule_problems, schedulable
from rlgen.cli import main

QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]


def test_schedulable_arguments_are_the_ones_sb3_annotates_as_callables():
    assert schedulable("ppo") == schedulable("maskable_ppo") == ["clip_range", "clip_range_vf"]
    assert schedulable("sac") == schedulable("dqn") == []
    assert schedule_problems("ppo", {"clip_range": "lin_0.2", "clip_range_vf": "lin_0.1", "n_steps": 64}) == []
    assert schedule_problems("ppo", {"ent_coef": "lin_0.01"}) == [
        "agent.hyperparams.ent_coef: 'lin_0.01': PPO takes a number here, not a schedule (lin_X works for "
        "clip_range, clip_range_vf; the learning rate's schedule is optim.schedule)"]
    (problem,) = schedule_problems("sac", {"tau": "lin_0.005"})
    assert "SAC takes a number here, not a schedule (lin_X works for none of its arguments;" in problem


def test_a_new_run_with_a_schedule_sb3_cannot_take_is_one_line_and_no_run(tmp_path, capsys):
    assert main(["train", "ppo_cartpole", "agent.hyperparams.ent_coef=lin_0.01", "train.total_steps=64",
                 f"logging.dir={tmp_path}", *QUIET]) == 2
    assert capsys.readouterr().err.strip().startswith("error: agent.hyperparams.ent_coef: 'lin_0.01': PPO takes a "
                                                      "number here, not a schedule")
    assert not (tmp_path / "ppo_cartpole").exists()


def test_a_run_trained_so_before_still_opens_and_its_resume_is_refused(tmp_path, capsys, monkeypatch):
    """TD3 reads tau only in its updates: before learning_starts, such a run finished."""
    import rlgen.agents.rl.experiment as rl

    with monkeypatch.context() as older:  # an rlgen that did not refuse it
        older.setattr(rl, "check_schedules", lambda cfg, ctx: None)
        run = rlgen.train("td3_pendulum", ["agent.hyperparams.tau=lin_0.005", "agent.hyperparams.learning_starts=1000",
                                           "train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1",
                                           f"logging.dir={tmp_path}", *QUIET])
    with rlgen.load_run(run.run_dir) as loaded:
        assert loaded.config.agent.hyperparams["tau"] == "lin_0.005"
        loaded.agent()
    capsys.readouterr()
    assert main(["train", "--resume", str(run.run_dir), "train.total_steps=128"]) == 2
    assert "agent.hyperparams.tau: 'lin_0.005': TD3 takes a number here" in capsys.readouterr().err


@pytest.mark.parametrize("config", ["selfplay_tictactoe", "teams_simple_tag"])
def test_self_play_and_teams_refuse_it_too(tmp_path, capsys, config):
    assert main(["train", config, "agent.hyperparams.ent_coef=lin_0.01", "train.total_steps=64",
                 f"logging.dir={tmp_path}", *QUIET]) == 2
    assert "agent.hyperparams.ent_coef: 'lin_0.01':" in capsys.readouterr().err
    assert not (tmp_path / config).exists()
