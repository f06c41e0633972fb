"""`rlgen.testing.check_experiment` on toy kinds with known faults: each fault is caught, with a
message that names it. The built-in kinds are checked in their own test modules (tests/agents/...),
each by one `test_honours_the_experiment_protocol`."""

import math
import threading

import numpy as np
import pytest
import torch

from rlgen.errors import ConfigError, RlgenError
from rlgen.testing import CheckReport, ExperimentCheckError, check_experiment
from tests.runner.toy import ForgetfulToy, ToyExperiment, toy_config


def test_a_kind_that_resumes_exactly_passes(tmp_path):
    report = check_experiment(ToyExperiment, toy_config(tmp_path), units=3)
    assert isinstance(report, CheckReport)
    assert report.units == 5 and report.exact and report.seconds > 0
    assert report.metric_names == ("loss/total",) and report.eval_names == ("eval/negated", "eval/score")


class ToldToy(ToyExperiment):
    """Records what each setup was told: a new run, or a resume (RunContext.resumed)."""

    told: list = []

    def setup(self, ctx):
        ToldToy.told.append(ctx.resumed)
        super().setup(ctx)


def test_the_resumed_copy_is_set_up_as_a_resume(tmp_path):
    ToldToy.told = []
    check_experiment(ToldToy, toy_config(tmp_path))
    assert ToldToy.told == [False, True]  # the original, then the copy that gets its checkpoint


def test_a_kind_is_named_by_import_path_and_the_config_given_as_a_mapping(tmp_path):
    raw = toy_config(tmp_path).model_dump(mode="json")
    report = check_experiment("tests.runner.toy:ToyExperiment", raw, ["toy.unit=3"])
    assert report.kind == "'toy' (tests.runner.toy:ToyExperiment)"


def test_the_callers_rng_and_threads_are_left_as_they_were(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    threads = torch.get_num_threads()
    check_experiment(ToyExperiment, toy_config(tmp_path))
    assert torch.equal(torch.rand(3), expected) and torch.get_num_threads() == threads


def test_an_optimizer_left_out_of_load_state_dict_is_named(tmp_path):
    with pytest.raises(ExperimentCheckError) as e:
        check_experiment(ForgetfulToy, toy_config(tmp_path))
    text = str(e.value)
    assert "kind 'toy' (tests.runner.toy:ForgetfulToy)" in text
    # the root cause first: what load_state_dict did not put back, by its path in the state
    assert e.value.problems[0] == "opt.state.0 not restored by load_state_dict (in the saved state only)"
    assert "opt.state.0.exp_avg differs after resume (max abs diff" in text
    assert "model.weight differs after resume (max abs diff" in text
    assert "state_dict() leaves out, or load_state_dict() does not restore" in text


class UnsavedNoise(ToyExperiment):
    """Its inputs come from a generator that state_dict leaves out (as SB3 leaves out its envs):
    complete in structure, not exact in values."""

    def setup(self, ctx):
        super().setup(ctx)
        self.noise = torch.Generator().manual_seed(ctx.seed)

    def train_unit(self):
        x = torch.randn(8, 2, generator=self.noise)
        loss = ((self.model(x) - x.sum(1, keepdim=True)) ** 2).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.global_step += self.cfg.toy.unit
        return {"loss/total": loss.item()}


def test_exact_false_checks_only_the_structure_and_says_so(tmp_path):
    with pytest.raises(ExperimentCheckError, match=r"metric loss/total is .* after resume, .* without"):
        check_experiment(UnsavedNoise, toy_config(tmp_path))
    report = check_experiment(UnsavedNoise, toy_config(tmp_path), exact=False)
    assert report.exact is False
    with pytest.raises(ExperimentCheckError, match=r"opt.state.0 not restored by load_state_dict"):
        check_experiment(ForgetfulToy, toy_config(tmp_path), exact=False)  # a missing entry is structure


def test_a_nan_metric_is_reported_with_its_name_and_unit(tmp_path):
    with pytest.raises(ExperimentCheckError, match=r"unit 2: metric 'loss/total' is nan, not a finite number"):
        check_experiment(ToyExperiment, toy_config(tmp_path, toy={"nan_at": 20}))


class NoStateDict:
    """A kind that forgot state_dict: the runner could never checkpoint it."""

    config_model = ToyExperiment.config_model
    __init__, setup, train_unit = ToyExperiment.__init__, ToyExperiment.setup, ToyExperiment.train_unit
    evaluate, load_state_dict, close = ToyExperiment.evaluate, ToyExperiment.load_state_dict, ToyExperiment.close


def test_a_missing_protocol_method_is_named_before_anything_runs(tmp_path):
    with pytest.raises(ExperimentCheckError, match=r"NoStateDict: 1 problem:\n  - state_dict\(\) is missing"):
        check_experiment(NoStateDict, toy_config(tmp_path))


class Unsaveable(ToyExperiment):
    def state_dict(self):
        return {**super().state_dict(), "extra": {"lock": threading.Lock()}}


def test_state_that_cannot_be_checkpointed_is_named_by_its_path(tmp_path):
    with pytest.raises(ExperimentCheckError, match=r"extra\.lock \(lock\) cannot be saved in a checkpoint"):
        check_experiment(Unsaveable, toy_config(tmp_path))


class StepStandsStill(ToyExperiment):
    def train_unit(self):
        metrics = super().train_unit()
        self.global_step -= self.cfg.toy.unit
        return metrics


class BadNames(ToyExperiment):
    def train_unit(self):
        return {"total_loss": super().train_unit()["loss/total"]}


class BadCheck(ToyExperiment):
    @classmethod
    def check(cls, cfg):
        return "all fine"


class Rejects(ToyExperiment):
    @classmethod
    def check(cls, cfg):
        return ["toy.unit: must be even"]


@pytest.mark.parametrize("kind, message", [
    (StepStandsStill, r"unit 1: global_step went from 0 to 0; it must grow"),
    (BadNames, r"metric 'total_loss' does not start with one of the shared prefixes \(eval/, "),
    (BadCheck, r"check\(cfg\) returned 'all fine', not a list of strings"),
])
def test_protocol_breaches_are_readable(tmp_path, kind, message):
    with pytest.raises(ExperimentCheckError, match=message):
        check_experiment(kind, toy_config(tmp_path))


class NumpyStep(ToyExperiment):
    """Counts its steps in a numpy integer, as a kind that adds an array's length does."""

    def train_unit(self):
        metrics = super().train_unit()
        self.global_step = np.int64(self.global_step)
        return metrics


def test_a_numpy_integer_global_step_passes_as_the_runner_takes_it(tmp_path):
    assert check_experiment(NumpyStep, toy_config(tmp_path)).exact


def test_a_config_the_kind_rejects_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="toy.unit: must be even"):
        check_experiment(Rejects, toy_config(tmp_path))


def test_evaluate_must_name_its_metrics_eval(tmp_path):
    class EvalLoss(ToyExperiment):
        def evaluate(self, episodes=None, video_dir=None):
            return {"loss/eval": 1.0, "eval/bad": math.inf}

    with pytest.raises(ExperimentCheckError) as e:
        check_experiment(EvalLoss, toy_config(tmp_path))
    assert "metric 'loss/eval' does not start with eval/" in str(e.value)
    assert "metric 'eval/bad' is inf, not a finite number" in str(e.value)


def test_an_error_is_an_rlgen_error():
    assert issubclass(ExperimentCheckError, RlgenError)


def test_a_config_whose_init_names_a_run_that_names_code_is_checked_with_trust(tmp_path):
    """The error said "pass --trust (trust=True)", which check_experiment did not take."""
    import rlgen

    tiny = ["train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1", "env.n_envs=2",
            "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64", "agent.hyperparams.n_epochs=1",
            "train.progress=false", "logging.console=false", "logging.wandb.mode=disabled"]
    wrapper = "env.wrappers=[{gymnasium.wrappers:ClipReward: {min_reward: -1, max_reward: 1}}]"  # code by import path
    source = rlgen.train("ppo_cartpole", [*tiny, wrapper], run_dir=tmp_path / "source").run_dir
    overrides = [*tiny, f"agent.policy.backbone.init={{run: {source}, role: policy, freeze: false}}"]
    with pytest.raises(RlgenError, match="is an import path"):
        check_experiment("rl", "ppo_cartpole", overrides, units=1)
    assert check_experiment("rl", "ppo_cartpole", overrides, units=1, trust=True).units == 3
    with pytest.raises(RlgenError, match="trust"):
        check_experiment("rl", "ppo_cartpole", overrides, units=1, trust="yes")
