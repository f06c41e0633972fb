"""What a kind hands the runner is held to the protocol as it trains: a plugin kind whose
train_unit() never moves global_step looped for ever; one that returned a float crashed in the
runner with a TypeError; one that counted global_step in floats wrote checkpoints (step_33.0) that no
later command opened; a metric named None crashed the divergence watch with an AttributeError;
unprefixed metrics were logged where nothing looks for them, silently."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from rlgen.errors import RlgenError, RlgenWarning
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


class Stuck(ToyExperiment):
    def train_unit(self):
        assert self.units_trained < 50, "the runner went on training a unit that never moves global_step"
        out = super().train_unit()
        self.global_step -= self.cfg.toy.unit  # the unit's steps never counted
        return out


class Scalar(ToyExperiment):
    def train_unit(self):
        return super().train_unit()["loss/total"]


class Unprefixed(ToyExperiment):
    def train_unit(self):
        return {**super().train_unit(), "reward": 1.0}

    def evaluate(self, episodes=None, video_dir=None):
        return {**super().evaluate(episodes, video_dir), "regret": 0.5}


class FloatStep(ToyExperiment):
    def train_unit(self):
        out = super().train_unit()
        self.global_step += 0.5
        return out


class NumpyStep(ToyExperiment):
    def train_unit(self):
        out = super().train_unit()
        self.global_step = np.int64(self.global_step)  # a whole number, as the runner counts and checkpoints it
        return out


class NoneKey(ToyExperiment):
    def train_unit(self):
        return {**super().train_unit(), None: 1.0}


class EvalIntKey(ToyExperiment):
    def evaluate(self, episodes=None, video_dir=None):
        return {**super().evaluate(episodes, video_dir), 3: 0.5}


class EvalList(ToyExperiment):
    def evaluate(self, episodes=None, video_dir=None):
        return [0.5]


@pytest.mark.parametrize("kind, says", [
    (Stuck, "kind 'toy': train_unit() left global_step at 0 (now 0); it must grow with every unit, or the run "
            "never ends; rlgen.testing.check_experiment checks a kind"),
    (Scalar, "kind 'toy': train_unit() returned float "),
    (EvalList, "kind 'toy': evaluate() returned list [0.5], not a dict of metrics"),
    (FloatStep, "kind 'toy': train_unit() set global_step to float 10.5, not a whole number; count env steps or "
                "training iterations in an int; rlgen.testing.check_experiment checks a kind"),
    (NoneKey, "kind 'toy': train_unit() gives a metric named NoneType None, not a string; name every metric by a "
              "str; rlgen.testing.check_experiment checks a kind"),
    (EvalIntKey, "kind 'toy': evaluate() gives a metric named int 3, not a string; name every metric by a str;"),
])
def test_a_kind_that_breaks_the_protocol_stops_in_one_line(tmp_path, kind, says):
    cfg = toy_config(tmp_path)
    with pytest.raises(RlgenError) as refused:
        Runner(cfg, kind(cfg)).run()
    assert str(refused.value).startswith(says)
    assert not list(tmp_path.rglob("step_*"))  # refused at the first unit or evaluation, before any checkpoint


def test_a_numpy_integer_global_step_is_a_count(tmp_path):
    cfg = toy_config(tmp_path)
    summary = Runner(cfg, NumpyStep(cfg)).run()
    assert summary["status"] == "completed" and summary["global_step"] == 100


def test_unprefixed_metrics_are_logged_and_warned_of_once_each(tmp_path):
    cfg = toy_config(tmp_path)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        runner = Runner(cfg, Unprefixed(cfg))
        runner.run()
    said = [str(w.message) for w in caught if w.category is RlgenWarning]
    assert len(said) == 2, said
    assert said[0].startswith("kind 'toy': train_unit() gives metric 'reward', outside the shared prefixes (eval/,")
    assert said[1].startswith("kind 'toy': evaluate() gives metric 'regret', outside the shared prefixes (eval/):")
    rows = (runner.run_dir / "metrics.jsonl").read_text()
    assert '"reward": 1.0' in rows and '"regret": 0.5' in rows  # logged all the same
