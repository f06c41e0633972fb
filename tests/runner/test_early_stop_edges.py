"""Early stopping at its edges: an early-stop metric that is NaN, and the evaluation at the end of
the budget, which leaves a run `completed` whether or not the schedule put an evaluation there."""

import json
import math
from pathlib import Path

import pytest
import torch

from rlgen import checkpoint
from rlgen.errors import RlgenError
from rlgen.logging import Image
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config

NAN_SAID = "is NaN at step"


class NanEvals(ToyExperiment):
    """eval/score is NaN at the evaluations numbered in `nan_evals` (0 = the first)."""

    nan_evals: frozenset[int] = frozenset()

    def evaluate(self, episodes=None, video_dir=None):
        i, metrics = self.evals, super().evaluate(episodes, video_dir)
        return {k: math.nan for k in metrics} if i in self.nan_evals else metrics


def nan_toy(cfg, nan_evals):
    exp = NanEvals(cfg)
    exp.nan_evals = frozenset(nan_evals)
    return exp


@pytest.mark.parametrize("mode", ["max", "min"])
def test_a_nan_evaluation_counts_as_no_improvement_is_never_the_best_and_is_said_once(tmp_path, capsys, mode):
    cfg = toy_config(tmp_path, total_steps=1000, early_stop={"metric": "eval/score", "mode": mode, "patience": 2},
                     toy={"scores": [5]})
    summary = Runner(cfg, nan_toy(cfg, range(1, 100))).run()  # 5 at step 20, then NaN
    assert summary["status"] == "stopped_early" and summary["global_step"] == 60  # patience ran out
    assert summary["best"] == {"metric": "eval/score", "value": 5.0, "global_step": 20}
    err = capsys.readouterr().err.replace("\n", " ")
    assert err.count(NAN_SAID) == 1 and "no improvement toward train.early_stop.patience (2)" in err


def test_a_metric_nan_until_it_has_a_number_stops_nothing_then_counts(tmp_path, capsys):
    """A metric undefined for the run (imitation's eval/expert_ratio against an expert no better
    than random) stops nothing, as a metric the run does not log; patience starts at its first number."""
    cfg = toy_config(tmp_path, total_steps=100, early_stop={"metric": "eval/score", "patience": 2})
    summary = Runner(cfg, nan_toy(cfg, range(100))).run()
    assert summary["status"] == "completed" and summary["global_step"] == 100
    assert summary["best"]["value"] is None
    assert capsys.readouterr().err.count(NAN_SAID) == 1

    cfg = toy_config(tmp_path, total_steps=1000, early_stop={"metric": "eval/score", "patience": 2},
                     toy={"scores": [3]})
    summary = Runner(cfg, nan_toy(cfg, {0, 1, 2, 4, 5})).run()  # a number at the 4th evaluation only
    assert summary["status"] == "stopped_early" and summary["global_step"] == 120
    assert summary["best"] == {"metric": "eval/score", "value": 3.0, "global_step": 80}


@pytest.mark.parametrize("eval_every", [25, 30])  # 25: an evaluation falls on step 100; 30: the loop adds one
@pytest.mark.parametrize("rule, scores", [({"patience": 3}, [1]), ({"target": 5}, [1, 1, 1, 9])])
def test_an_evaluation_at_the_budget_leaves_the_run_completed(tmp_path, eval_every, rule, scores):
    def cfg(total):
        return toy_config(tmp_path, total_steps=total, eval_every=eval_every, toy={"scores": scores},
                          early_stop={"metric": "eval/score", **rule})

    runner = Runner(cfg(100), ToyExperiment(cfg(100)))
    summary = runner.run()
    assert summary["status"] == "completed" and summary["global_step"] == 100
    if "target" in rule:
        assert summary["target_reached"]["global_step"] == 100  # recorded all the same
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "completed"
    # it used its whole budget: a larger one trains on, until an evaluation under the same rule stops it
    more = Runner(cfg(200), exp := ToyExperiment(cfg(200)), resume_dir=runner.run_dir)
    assert more.run()["status"] == "stopped_early" and exp.units_trained > 0


@pytest.mark.parametrize("eval_every", [25, 30])
def test_on_eval_at_the_budget_leaves_the_run_completed(tmp_path, eval_every):
    cfg = toy_config(tmp_path, total_steps=100, eval_every=eval_every)
    summary = Runner(cfg, ToyExperiment(cfg), on_eval=lambda step, metrics: step >= 100).run()
    assert summary["status"] == "completed" and summary["global_step"] == 100
    early = Runner(cfg, ToyExperiment(cfg), on_eval=lambda step, metrics: step >= 50).run()
    assert early["status"] == "pruned" and early["global_step"] < 100  # before the budget it still prunes


def test_a_run_an_older_rlgen_stopped_at_its_budget_resumes_as_completed(tmp_path, monkeypatch):
    """Before, an evaluation scheduled at the budget that said stop left the run `stopped_early`."""
    cfg = toy_config(tmp_path, total_steps=100, eval_every=25, early_stop={"metric": "eval/score", "patience": 3})
    evaluate = Runner._evaluate
    monkeypatch.setattr(Runner, "_evaluate", lambda self: evaluate(self) or self.exp.global_step >= 100)
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "stopped_early"
    monkeypatch.setattr(Runner, "_evaluate", evaluate)
    as_it_is = Runner(cfg, exp := ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    assert as_it_is["status"] == "completed" and exp.units_trained == 0
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "completed"
    more = toy_config(tmp_path, total_steps=200, eval_every=25, early_stop={"metric": "eval/score", "patience": 3})
    Runner(more, exp := ToyExperiment(more), resume_dir=runner.run_dir).run()
    assert exp.units_trained > 0  # it used its whole budget: a larger one trains on


def test_min_delta_gains_count_toward_patience_and_keep_the_best(tmp_path):
    """As Keras's and Lightning's EarlyStopping: a gain of min_delta or less is no improvement."""
    scores = [1.0, 1.05, 1.08, 1.5, 2.0, 3.0]
    cfg = toy_config(tmp_path, total_steps=120, toy={"scores": scores},
                     early_stop={"metric": "eval/score", "patience": 2, "min_delta": 0.1})
    summary = Runner(cfg, ToyExperiment(cfg)).run()
    assert summary["status"] == "stopped_early" and summary["global_step"] == 60
    assert summary["best"] == {"metric": "eval/score", "value": 1.0, "global_step": 20}
    plain = toy_config(tmp_path, total_steps=120, toy={"scores": scores},
                       early_stop={"metric": "eval/score", "patience": 2})
    summary = Runner(plain, ToyExperiment(plain)).run()
    assert summary["status"] == "completed" and summary["best"]["value"] == 3.0


def test_a_changed_min_delta_on_resume_is_another_stopping_rule(tmp_path):
    cfg = toy_config(tmp_path, total_steps=200, toy={"scores": [1.0, 1.05, 1.08, 1.5, 2.0, 3.0]},
                     early_stop={"metric": "eval/score", "patience": 2, "min_delta": 0.1})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "stopped_early"
    looser = toy_config(tmp_path, total_steps=200, toy={"scores": [1.0, 1.05, 1.08, 1.5, 2.0, 3.0]},
                        early_stop={"metric": "eval/score", "patience": 2, "min_delta": 0.0})
    Runner(looser, exp := ToyExperiment(looser), resume_dir=runner.run_dir).run()
    assert exp.units_trained > 0  # it goes on under the new rule



@pytest.mark.parametrize("mode, inf", [("max", math.inf), ("min", -math.inf)])
def test_an_infinite_evaluation_is_never_the_best_nor_reaches_the_target(tmp_path, capsys, mode, inf):
    """An env that returns an inf reward scores an inf return: no result, as a NaN is none."""
    cfg = toy_config(tmp_path, total_steps=60, early_stop={"metric": "eval/score", "mode": mode,
                                                            "target": 15 if mode == "max" else -15})
    exp = NanEvals(cfg)
    exp.evaluate = lambda episodes=None, video_dir=None: {"eval/score": inf}
    runner = Runner(cfg, exp)
    summary = runner.run()
    assert summary["status"] == "completed" and summary["global_step"] == 60
    assert summary["best"]["value"] is None and summary.get("target_reached") is None
    assert not (runner.run_dir / "checkpoints" / "best").exists()
    err = " ".join(capsys.readouterr().err.split())
    assert err.count(f"'eval/score' is {inf} at step 20") == 1 and "a NaN or an inf after one counts" in err


class PictureEvals(ToyExperiment):
    """Draws its samples at every evaluation (as a GAN's eval/samples) and gives eval/score as a 0-d tensor."""

    def evaluate(self, episodes=None, video_dir=None):
        metrics = super().evaluate(episodes, video_dir)
        return {**metrics, "eval/score": torch.tensor(metrics["eval/score"]), "eval/samples": Image(Path("s.png"))}


def test_an_early_stop_metric_that_is_no_number_is_said_once_and_named_when_no_best_is_asked_for(tmp_path, capsys):
    """A picture was passed over silently, and --checkpoint best then blamed NaN or inf."""
    cfg = toy_config(tmp_path, total_steps=60, early_stop={"metric": "eval/samples", "patience": 1})
    summary = Runner(cfg, PictureEvals(cfg)).run()
    assert summary["status"] == "completed" and summary["best"]["value"] is None
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("train.early_stop.metric 'eval/samples' is not a number (a picture): no best checkpoint is "
                     "kept and nothing stops early; set it to one of its numeric metrics: eval/negated, "
                     "eval/score") == 1, err
    with pytest.raises(RlgenError, match=r"its early-stop metric eval/samples is not a number \(a picture\) at any "
                                         r"evaluation \(3\), and only a number can be the best"):
        checkpoint.select(Path(summary["run_dir"]), "best")


def test_an_early_stop_metric_given_as_a_0d_tensor_is_scored(tmp_path, capsys):
    cfg = toy_config(tmp_path, total_steps=60, toy={"scores": [1, 3, 2]})
    summary = Runner(cfg, PictureEvals(cfg)).run()
    assert summary["best"] == {"metric": "eval/score", "value": 3.0, "global_step": 40}
    assert "eval/score" not in capsys.readouterr().err
