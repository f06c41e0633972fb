"""A resume keeps the evaluation and checkpoint schedule of the cadence it runs with."""

import json
import shutil

import torch

from rlgen import checkpoint
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _eval_steps(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["global_step"] for r in rows if "eval/score" in r]


def _ckpt_steps(run_dir):
    return sorted(checkpoint.step_of(p) for p in (run_dir / "checkpoints").glob("step_*"))


def test_a_resume_that_changes_eval_every_evaluates_at_the_next_multiple_of_the_new_one(tmp_path):
    # the README's case: a run completed at 6144 with eval_every 2048, resumed with 1024, evaluates
    # at 7168 (not at 8192, where the old cadence's next evaluation was); units of 10 steps here
    cfg = toy_config(tmp_path, total_steps=60, eval_every=20)
    first = Runner(cfg, ToyExperiment(cfg))
    assert first.run()["status"] == "completed"
    more = toy_config(tmp_path, total_steps=100, eval_every=10)
    assert Runner(more, ToyExperiment(more), resume_dir=first.run_dir).run()["status"] == "completed"
    assert _eval_steps(first.run_dir) == [20, 40, 60, 70, 80, 90, 100]
    # and a longer cadence: the next multiple of 40 past 60 is 80, not 70 (the old 60 + 10)
    again = toy_config(tmp_path, total_steps=160, eval_every=40)
    assert Runner(again, ToyExperiment(again), resume_dir=first.run_dir).run()["status"] == "completed"
    assert _eval_steps(first.run_dir) == [20, 40, 60, 70, 80, 90, 100, 120, 160]


def test_a_resume_that_changes_checkpoint_every_checkpoints_at_the_next_multiple_of_the_new_one(tmp_path):
    # the scores fall after the first evaluation: no new best forces a checkpoint off the schedule
    toy = {"scores": [5, 1]}
    cfg = toy_config(tmp_path, total_steps=60, checkpoint_every=60, keep_checkpoints=20, toy=toy)
    first = Runner(cfg, ToyExperiment(cfg))
    assert first.run()["status"] == "completed"
    assert _ckpt_steps(first.run_dir) == [20, 60]  # the best (20), the schedule (60)
    more = toy_config(tmp_path, total_steps=100, checkpoint_every=10, keep_checkpoints=20, toy=toy)
    assert Runner(more, ToyExperiment(more), resume_dir=first.run_dir).run()["status"] == "completed"
    assert _ckpt_steps(first.run_dir) == [20, 60, 70, 80, 90, 100]


def test_an_unchanged_resume_from_a_scheduled_checkpoint_keeps_the_uninterrupted_schedule(tmp_path):
    """A checkpoint keeps `next_ckpt` as it was just before it was written; the uninterrupted run
    moves on to the next multiple right after, and so does its resume: the same checkpoints (none
    extra at the first unit after it), evaluations and weights."""
    cfg = toy_config(tmp_path, eval_every=20, checkpoint_every=30, keep_checkpoints=20, toy={"scores": [5, 1]})
    straight_exp = ToyExperiment(cfg)
    straight = Runner(cfg, straight_exp)
    straight.run()
    assert _ckpt_steps(straight.run_dir) == [20, 30, 60, 90, 100]
    # a crash right after the scheduled checkpoint at 30: what the run directory holds then, resumed
    crashed = tmp_path / "crashed"
    shutil.copytree(straight.run_dir, crashed, ignore=shutil.ignore_patterns(".lock"))
    for ckpt in (crashed / "checkpoints").glob("step_*"):
        if checkpoint.step_of(ckpt) > 30:
            shutil.rmtree(ckpt)
    (crashed / "checkpoints" / "latest").write_text("step_30\n")
    resumed_exp = ToyExperiment(cfg)
    assert Runner(cfg, resumed_exp, resume_dir=crashed).run()["global_step"] == 100
    assert _ckpt_steps(crashed) == _ckpt_steps(straight.run_dir)
    assert _eval_steps(crashed) == _eval_steps(straight.run_dir) == [20, 40, 60, 80, 100]
    assert torch.equal(resumed_exp.model.weight, straight_exp.model.weight)
