"""A resume with a larger budget of a run that an evaluation ended says what ended it: the caller's
on_eval hook (a sweep's pruner) for a pruned run, train.early_stop for one that stopped early."""

import pytest

from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _resumed_with_a_larger_budget(tmp_path, capsys, **ended_by):
    stop = {"metric": "eval/score", "target": 1.0}
    cfg = toy_config(tmp_path, early_stop=stop, toy={"scores": [0, 2]})
    runner = Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "run", **ended_by)
    status = runner.run()["status"]
    capsys.readouterr()
    larger = toy_config(tmp_path, total_steps=200, early_stop=stop, toy={"scores": [0, 2]})
    assert Runner(larger, ToyExperiment(larger), resume_dir=runner.run_dir).run()["status"] == status
    return status, " ".join(capsys.readouterr().err.split())


def test_a_pruned_run_resumed_with_a_larger_budget_names_its_on_eval_hook(tmp_path, capsys):
    status, said = _resumed_with_a_larger_budget(tmp_path, capsys, on_eval=lambda step, metrics: True)
    assert status == "pruned"
    assert "this run was pruned by its on_eval hook (a sweep's pruner) at step 20" in said
    assert "train.early_stop: eval/score" not in said  # was: blamed the early-stop rule, which never stopped it


@pytest.mark.parametrize("hook", [None, lambda step, metrics: False])
def test_a_run_that_stopped_early_resumed_with_a_larger_budget_names_train_early_stop(tmp_path, capsys, hook):
    status, said = _resumed_with_a_larger_budget(tmp_path, capsys, on_eval=hook)
    assert status == "stopped_early"
    assert ("this run stopped early at step 40 (train.early_stop: eval/score), so a larger train.total_steps alone "
            "trains no more; change train.early_stop (its target or patience) to continue it") in said
