"""A study continued with something changed: a retried trial whose config changed since it began,
a space Optuna cannot change within a study, seeds that failed, a worker stopped by SIGTERM."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from rlgen.cli import main

from .queue_toy import write_config


def sweep_file(tmp_path: Path, space: dict[str, Any], n_trials: int = 1, **toy: Any) -> Path:
    base = write_config(tmp_path, **toy)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({"config": str(base), "study": "q", "n_trials": n_trials,
                                    "sampler": {"type": "random", "seed": 0}, "pruner": {"type": "none"},
                                    "space": space}))
    return path


def trials(tmp_path: Path) -> tuple[dict[str, Any], list[Any]]:
    study = optuna.load_study(study_name="q", storage=f"sqlite:///{tmp_path / 'runs' / 'q' / 'study.db'}")
    return study.user_attrs, study.trials


X = {"x": {"type": "float", "low": 1.0, "high": 10.0}}


def test_a_trial_stopped_by_sigterm_is_retried_under_its_config_only(tmp_path, capsys):
    """SIGTERM ends the worker with 143 (as one run); the retry resumes the run only under the
    config that built its checkpoint, as `rlgen train --resume` would: under another it fails with
    that reason, and the run's files stay as they were."""
    once = str(tmp_path / "once")
    path = sweep_file(tmp_path, X, die_at=30, die_once=once, die_signal="SIGTERM")
    assert main(["sweep", str(path)]) == 143
    run_dir = Path(trials(tmp_path)[1][0].user_attrs["run_dir"])
    files = {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    write_config(tmp_path, die_at=30, die_once=once, die_signal="SIGTERM", shape={"type": "b", "size": 2})
    capsys.readouterr()
    assert main(["sweep", str(path)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"cannot resume {run_dir} with shape.type, shape.size changed" in err
    assert "trial 0's config changed since it began, so it stays failed" in err
    assert [t.state for t in trials(tmp_path)[1]] == [TrialState.FAIL, TrialState.FAIL]
    assert {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"} == files


@pytest.mark.parametrize("before, after, said", [
    ({"type": "categorical", "choices": {"a": {"type": "a"}, "b": {"type": "b"}}},
     {"type": "categorical", "choices": {"a": {"type": "a"}, "b": {"type": "b"}, "c": {"type": "c"}}},
     "space.shape: study 'q' drew it as categorical [a, b], this sweep file as categorical [a, b, c]"),
    ({"type": "int", "low": 1, "high": 8}, {"type": "int", "low": 1, "high": 8, "log": True},
     "space.shape.size: study 'q' drew it as int 1 to 8, this sweep file as int 1 to 8, log"),
])
def test_a_space_optuna_cannot_change_in_a_study_is_refused_before_a_trial(tmp_path, capsys, before, after, said):
    key = "shape" if before["type"] == "categorical" else "shape.size"
    assert main(["sweep", str(sweep_file(tmp_path, {key: before}))]) == 0
    held = trials(tmp_path)
    capsys.readouterr()
    assert main(["sweep", str(sweep_file(tmp_path, {key: after})), "--n-trials", "2"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {said}; within one study Optuna lets only a range's low and high change" in err
    assert trials(tmp_path) == held  # no trial taken, no setup written
    # a range's ends may move: the study goes on
    if before["type"] == "int":
        assert main(["sweep", str(sweep_file(tmp_path, {key: {**before, "high": 9}})), "--n-trials", "2"]) == 0


def test_a_seed_queue_whose_seeds_failed_ends_with_exit_code_2_and_the_last_error(tmp_path, capsys):
    config = write_config(tmp_path, train={"total_steps": 20, "eval_every": 10, "progress": False,
                                           "early_stop": {"metric": "eval/nothing"}})
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("error: 2 of 2 seeds failed (0, 1); the last, seed 1: the run logged no 'eval/nothing': set "
            "train.early_stop.metric to one it logs") in err
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "qtoy").glob("*/summary.json")]
    assert len(summaries) == 2  # the runs themselves trained; their queue values are what failed
