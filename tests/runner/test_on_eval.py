"""A caller's `on_eval` hook that raises: the run fails with the hook's error, but keeps a checkpoint
of the evaluation it was called after (a new best as the best), as Ctrl-C does, so its summary
names no checkpoint that is missing and the run resumes or opens from there."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from rlgen import checkpoint
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _fails_at(step: int):
    def on_eval(at: int, metrics: dict) -> bool:
        if at == step:
            raise ZeroDivisionError("the caller's own bug")
        return False

    return on_eval


def test_a_hook_failing_at_a_new_best_keeps_that_best_and_the_run_resumes(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=100, toy={"scores": [1, 2, 3]})
    runner = Runner(cfg, ToyExperiment(cfg), on_eval=_fails_at(20))
    with pytest.raises(ZeroDivisionError):
        runner.run()
    summary = json.loads((runner.run_dir / "summary.json").read_text())
    assert summary["status"] == "failed" and summary["best"]["global_step"] == 20
    ckpts = runner.run_dir / "checkpoints"
    best, latest = checkpoint.best(ckpts), checkpoint.latest(ckpts)
    assert best is not None and latest is not None and checkpoint.step_of(best) == checkpoint.step_of(latest) == 20

    resumed = Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    assert resumed["status"] == "completed" and resumed["global_step"] == 100


def test_a_hook_failing_after_another_evaluation_checkpoints_where_it_failed(tmp_path):
    # 40 is no new best and no scheduled checkpoint: what Ctrl-C there would keep
    cfg = toy_config(tmp_path, checkpoint_every=100, toy={"scores": [5, 3]})
    runner = Runner(cfg, ToyExperiment(cfg), on_eval=_fails_at(40))
    with pytest.raises(ZeroDivisionError):
        runner.run()
    ckpts = runner.run_dir / "checkpoints"
    assert checkpoint.step_of(checkpoint.latest(ckpts)) == 40 and checkpoint.step_of(checkpoint.best(ckpts)) == 20
    assert json.loads((runner.run_dir / "summary.json").read_text())["best"]["global_step"] == 20


@pytest.mark.parametrize("stop, status", [(KeyboardInterrupt, "interrupted"), (SystemExit, "failed")])
def test_a_hook_that_interrupts_or_exits_keeps_a_checkpoint_and_the_run_resumes(tmp_path, stop, status):
    def on_eval(at: int, metrics: dict) -> bool:
        raise stop()

    cfg = toy_config(tmp_path, checkpoint_every=100)  # the first evaluation, at 20, comes before any checkpoint
    runner = Runner(cfg, ToyExperiment(cfg), on_eval=on_eval)
    with pytest.raises(stop):
        runner.run()
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == status
    assert checkpoint.step_of(checkpoint.latest(runner.run_dir / "checkpoints")) == 20
    resumed = Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    assert resumed["status"] == "completed" and resumed["global_step"] == 100


class NumpyMetricsToy(ToyExperiment):
    """Evaluation figures as a plugin's numpy and torch code gives them (`arr.mean()` on float32)."""

    def evaluate(self, episodes=None, video_dir=None) -> dict:
        return {**super().evaluate(), "eval/f32": np.float32(0.5), "eval/i64": np.int64(3),
                "eval/t": torch.tensor(0.25), "eval/a": np.array(1.5), "eval/name": "x", "eval/flag": np.bool_(True),
                "eval/curve": np.zeros(3)}  # an array of several numbers is no summary value


def test_numpy_and_0d_tensor_figures_reach_the_hook_and_the_summary_as_python_numbers(tmp_path):
    seen = []
    cfg = toy_config(tmp_path)
    summary = Runner(cfg, NumpyMetricsToy(cfg), on_eval=lambda step, m: seen.append(m) and False).run()
    want = {"eval/f32": 0.5, "eval/i64": 3, "eval/t": 0.25, "eval/a": 1.5, "eval/name": "x", "eval/flag": True}
    written = json.loads((Path(summary["run_dir"]) / "summary.json").read_text())["final"]
    for final in (seen[-1], summary["final"], written):
        assert {k: final.get(k) for k in want} == want and "eval/curve" not in final
        assert [type(final[k]) for k in want] == [float, int, float, float, str, bool]
