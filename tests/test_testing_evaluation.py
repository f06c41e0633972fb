"""`rlgen.testing.check_experiment` holds a kind's evaluation to what `Run.evaluate` promises (every
call plays the episodes of the first): evaluated twice, the global RNGs and `evaluation_state()` put
back in between, it must give the same figures, and the resumed copy must evaluate as the original
does at the same step. The metric a config naming none early-stops on, its config model's
`early_stop_default`, must be among them (a kind whose evaluation lacked it passed)."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pytest
import torch

from rlgen.testing import ExperimentCheckError, check_experiment
from tests.runner.toy import ToyConfig, ToyExperiment, toy_config


class DrawsGlobal(ToyExperiment):
    """Evaluation noise from the global RNGs: the same on every call once they are put back."""

    def evaluate(self, episodes: int | None = None, video_dir: Any = None) -> dict[str, float]:
        return {"eval/score": float(torch.rand(1)) + float(np.random.rand())}


class DrawsTrainingRng(ToyExperiment):
    """Evaluates on inputs drawn from the generator training draws from (saved, so it resumes)."""

    def setup(self, ctx):
        super().setup(ctx)
        self.noise = torch.Generator().manual_seed(ctx.seed)

    def train_unit(self):
        torch.randn(1, generator=self.noise)
        return super().train_unit()

    def evaluate(self, episodes=None, video_dir=None):
        x = torch.randn(4, 2, generator=self.noise)
        return {"eval/score": float(self.model(x).sum().detach())}

    def state_dict(self):
        return {**super().state_dict(), "noise": self.noise.get_state()}

    def load_state_dict(self, state):
        super().load_state_dict(state)
        self.noise.set_state(state["noise"])


class DrawsEntropy(ToyExperiment):
    """Evaluation noise from a fresh unseeded generator: other figures on every call."""

    def evaluate(self, episodes=None, video_dir=None):
        return {"eval/score": float(np.random.default_rng().normal())}


class EvalRng(ToyExperiment):
    """An evaluation generator of its own, given back by evaluation_state() and put back by
    load_evaluation_state(); `entropy`: seeded from the OS, so a resumed copy evaluates otherwise."""

    entropy = False

    def setup(self, ctx):
        super().setup(ctx)
        self.eval_rng = np.random.default_rng(None if self.entropy else ctx.seed + 1)

    def evaluate(self, episodes=None, video_dir=None):
        clock = float(np.random.default_rng().random())  # a wall-clock figure: not compared
        return {"eval/score": float(self.eval_rng.normal()), "eval/wall_time_s": clock}

    def evaluation_state(self):
        return self.eval_rng.bit_generator.state

    def load_evaluation_state(self, state):
        self.eval_rng.bit_generator.state = state


class EvalRngFromEntropy(EvalRng):
    entropy = True


@pytest.mark.parametrize("kind", [DrawsGlobal, EvalRng])
def test_an_evaluation_drawing_from_what_is_put_back_passes(tmp_path, kind):
    """The global RNGs, or a generator of its own in evaluation_state(); a wall-clock figure may differ."""
    assert check_experiment(kind, toy_config(tmp_path)).eval_names == (
        ("eval/score",) if kind is DrawsGlobal else ("eval/score", "eval/wall_time_s"))


@pytest.mark.parametrize("kind", [DrawsTrainingRng, DrawsEntropy])
def test_an_evaluation_that_differs_from_call_to_call_is_caught(tmp_path, kind):
    with pytest.raises(ExperimentCheckError) as e:
        check_experiment(kind, toy_config(tmp_path))
    text = str(e.value)
    assert e.value.problems[0].startswith("evaluate() gives eval/score = ")
    assert e.value.problems[0].endswith(" the first") and " the second time, " in e.value.problems[0]
    assert "with the global RNGs and evaluation_state() put back" in text
    assert "such as the training RNG or an unseeded generator" in text


def test_a_resumed_copy_that_evaluates_otherwise_is_caught(tmp_path):
    with pytest.raises(ExperimentCheckError) as e:
        check_experiment(EvalRngFromEntropy, toy_config(tmp_path))
    assert e.value.problems[0].startswith("evaluate() gives eval/score = ")
    assert " after resume, " in e.value.problems[0] and e.value.problems[0].endswith(" without")
    assert "state_dict() leaves out, or load_state_dict() does not restore" in str(e.value)
    # exact=False: a kind known not to resume exactly is not held to it; its evaluation still repeats
    assert check_experiment(EvalRngFromEntropy, toy_config(tmp_path), exact=False).exact is False


class StopsOnAccuracy(ToyConfig):
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/accuracy", "max")  # the toy never logs it


class StopsOnScore(ToyConfig):
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/score", "max")


class UnloggedDefault(ToyExperiment):
    config_model = StopsOnAccuracy


class LoggedDefault(ToyExperiment):
    config_model = StopsOnScore


def _naming_no_metric(tmp_path) -> dict[str, Any]:
    raw = toy_config(tmp_path).model_dump(mode="json")
    del raw["train"]["early_stop"]  # the kind's default fills it in
    return raw


def test_an_early_stop_default_the_evaluation_never_returns_is_named(tmp_path):
    with pytest.raises(ExperimentCheckError) as e:
        check_experiment(UnloggedDefault, _naming_no_metric(tmp_path))
    assert e.value.problems == [
        "evaluate() does not return 'eval/accuracy', its config_model's early_stop_default, on which a config that "
        "names no train.early_stop.metric early-stops and picks its best checkpoint; return it from every "
        "evaluation, or make early_stop_default one it returns (eval/negated, eval/score)"]


@pytest.mark.parametrize("kind, named", [(LoggedDefault, False), (UnloggedDefault, True)])
def test_an_early_stop_default_is_judged_where_the_config_stops_on_it(tmp_path, kind, named):
    """A config that names another metric does not use the default, which a kind may log only under
    settings that its check(cfg) requires of a config stopping on it (teams' eval/score_min)."""
    config = toy_config(tmp_path) if named else _naming_no_metric(tmp_path)
    assert check_experiment(kind, config).eval_names == ("eval/negated", "eval/score")
