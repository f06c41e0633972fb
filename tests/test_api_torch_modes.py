"""The caller's global torch modes (a float64 default dtype, autograd off, inference mode) stay the
caller's: training and evaluating a run use torch's defaults within, as in a fresh process, and
give the caller's modes back after."""

from __future__ import annotations

import contextlib

import pytest
import torch

import rlgen
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config

GAN = ["train.total_steps=40", "train.eval_every=40", "eval.samples=100", "logging.wandb.mode=disabled",
       "train.progress=false", "logging.console=false"]


@contextlib.contextmanager
def float64_default():
    torch.set_default_dtype(torch.float64)
    try:
        yield
    finally:
        torch.set_default_dtype(torch.float32)


CALLERS = {"float64": float64_default, "no_grad": torch.no_grad, "inference_mode": torch.inference_mode}


def _modes():
    return torch.get_default_dtype(), torch.is_grad_enabled(), torch.is_inference_mode_enabled()


def _toy_weights(tmp_path, name):
    cfg = toy_config(tmp_path)
    exp = ToyExperiment(cfg)
    Runner(cfg, exp, run_dir=tmp_path / name).run()
    return exp.model.weight.detach().clone()


@pytest.mark.parametrize("caller", CALLERS)
def test_a_run_trains_as_in_a_fresh_process_whatever_torch_modes_the_caller_set(tmp_path, caller):
    fresh = _toy_weights(tmp_path, "fresh")
    with CALLERS[caller]():
        theirs = _modes()
        trained = _toy_weights(tmp_path, "run")  # was: float64 weights, or "does not require grad"
        assert _modes() == theirs
    assert trained.dtype == torch.float32 and torch.equal(trained, fresh)


def test_a_bundled_run_trains_and_evaluates_under_a_callers_float64_without_grad(tmp_path):
    fresh = rlgen.train("gan_ring8", GAN, run_dir=tmp_path / "fresh")
    with float64_default(), torch.no_grad():
        run = rlgen.train("gan_ring8", GAN, run_dir=tmp_path / "run")  # was: mat1 and mat2 must have the same dtype
        evaluated = rlgen.load_run(run.run_dir).evaluate()
        assert _modes() == (torch.float64, False, False)
    same = {k: v for k, v in run.summary["final"].items() if k != "eval/wall_time_s"}
    assert same == {k: v for k, v in fresh.summary["final"].items() if k != "eval/wall_time_s"}
    assert evaluated == rlgen.load_run(fresh.run_dir).evaluate()
