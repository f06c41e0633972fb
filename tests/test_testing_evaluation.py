"""`rlgen.testing.check_experiment` holds a kind's evaluation to what `Run.evaluate` promises (every
call plays the episodes of the first): evaluated twice, the global RNGs and `evaluation_state()` put
back in between, it must give the same figures, and the resumed copy must evaluate as the original
does at the same step."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from rlgen.testing import ExperimentCheckError, check_experiment
from tests.runner.toy import ToyExperiment, toy_config


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
