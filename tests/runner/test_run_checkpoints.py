"""A resume's restore of a checkpoint (`rlgen.run_checkpoints`): the step the kind restores, the best
and early-stop rule it goes on with, and what it says when nothing is left to train."""

import json
from typing import Any

import pytest

from rlgen import checkpoint
from rlgen.errors import RlgenError
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _first_run(tmp_path, **train: Any) -> Runner:
    """A finished toy run of 40 steps whose best by eval/score is at step 40 (score 9)."""
    cfg = toy_config(tmp_path, total_steps=40, toy={"scores": [1, 9]}, **train)
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    assert checkpoint.step_of(runner.run_dir / "checkpoints" / "best") == 40
    return runner


def test_a_resume_under_another_early_stop_metric_drops_the_old_best_at_its_first_checkpoint(tmp_path):
    run_dir = _first_run(tmp_path).run_dir
    best = run_dir / "checkpoints" / "best"
    seen = []  # at each evaluation, before its checkpoint: is the old best/ still there?
    on_eval = lambda step, metrics: seen.append((step, best.exists()))  # noqa: E731
    more = toy_config(tmp_path, total_steps=80, toy={"scores": [1, 9]}, early_stop={"metric": "eval/missing"})
    summary = Runner(more, ToyExperiment(more), resume_dir=run_dir, on_eval=on_eval).run()
    assert seen == [(60, True), (80, False)]  # kept until the first checkpoint the resume writes
    assert summary["best"] == {"metric": "eval/missing", "value": None, "global_step": None}
    assert not best.exists() and checkpoint.select(run_dir)[2] == "latest"


def test_a_resume_under_another_mode_that_fails_before_a_checkpoint_keeps_best_but_it_is_not_opened(tmp_path):
    run_dir = _first_run(tmp_path).run_dir
    more = toy_config(tmp_path, total_steps=80, toy={"scores": [1, 9], "nan_at": 50},
                      early_stop={"metric": "eval/score", "mode": "min"})
    with pytest.raises(RlgenError, match="non-finite loss/total at step 50"):
        Runner(more, ToyExperiment(more), resume_dir=run_dir).run()
    assert checkpoint.step_of(run_dir / "checkpoints" / "best") == 40  # no checkpoint written: no file removed
    assert json.loads((run_dir / "summary.json").read_text())["best"]["global_step"] is None
    with pytest.raises(RlgenError, match=r"has no best checkpoint: checkpoints/best \(step 40\) was kept under an "
                                         "earlier train.early_stop"):
        checkpoint.select(run_dir, "best")


def test_a_completed_run_resumed_under_another_early_stop_says_it_has_no_effect(tmp_path, capsys):
    run_dir = _first_run(tmp_path).run_dir
    summary_before = (run_dir / "summary.json").read_text()
    capsys.readouterr()
    same = toy_config(tmp_path, total_steps=40, toy={"scores": [1, 9]}, early_stop={"metric": "eval/score", "mode": "min"})
    assert Runner(same, ToyExperiment(same), resume_dir=run_dir).run()["status"] == "completed"
    said = " ".join(capsys.readouterr().err.split())
    assert ("nothing is left to train (step 40 of train.total_steps 40), so the changed train.early_stop (mode) has no "
            "effect; raise train.total_steps to train on under it") in said
    assert "afresh" not in said
    assert (run_dir / "summary.json").read_text() == summary_before
    assert checkpoint.step_of(run_dir / "checkpoints" / "best") == 40


class ForgetsItsStep(ToyExperiment):
    """A plugin kind whose load_state_dict restores its weights but not global_step."""

    def load_state_dict(self, state: dict[str, Any]) -> None:
        step = self.global_step
        super().load_state_dict(state)
        self.global_step = step


def test_a_kind_that_does_not_restore_its_step_is_refused_not_trained_again_from_zero(tmp_path):
    run_dir = _first_run(tmp_path).run_dir
    summary_before = (run_dir / "summary.json").read_text()
    more = toy_config(tmp_path, total_steps=80)
    with pytest.raises(RlgenError, match=r"^cannot resume .*: its checkpoint is at step 40, but the toy kind's "
                                         r"load_state_dict left global_step at 0; make it restore global_step"):
        Runner(more, ForgetsItsStep(more), resume_dir=run_dir).run()
    assert (run_dir / "summary.json").read_text() == summary_before
