"""The Python API leaves the caller's process as it found it: training, opening and evaluating a
run keep the caller's global RNGs (all but training, which seeds them as SB3 does) and torch's
thread count; and what a caller passes it (predict's arguments, an on_eval hook's answer, a
relative run_dir) is read as meant or refused in one line."""

from __future__ import annotations

import os
import random
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import rlgen
from rlgen.errors import RlgenError, RlgenWarning
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config

QUIET = ["train.total_steps=512", "train.eval_every=512", "logging.wandb.mode=disabled", "train.progress=false",
         "logging.console=false"]
CALLERS_THREADS = 3  # neither torch's default here nor what a run sets (train.threads, else 1 on the CPU)
OBS = np.array([0.01, 0.2, -0.03, -0.3], np.float32)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), float(torch.rand(1))


def _seed_callers_rngs() -> None:
    random.seed(7)
    np.random.seed(7)
    torch.manual_seed(7)


def _seeded_draws() -> tuple[float, float, float]:
    """What the caller's RNGs, seeded with 7, draw first; they are seeded with 7 again after."""
    _seed_callers_rngs()
    first = _draws()
    _seed_callers_rngs()
    return first


@pytest.fixture
def callers_threads():
    before = torch.get_num_threads()
    torch.set_num_threads(CALLERS_THREADS)
    yield CALLERS_THREADS
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny run trained from Python into a relative run_dir by a caller with 3 threads: the Run
    `rlgen.train` returned, the run's directory, and the thread counts its on_eval hook saw during
    training and the caller had after it."""
    folder, seen = tmp_path_factory.mktemp("runs"), {}
    before, cwd = torch.get_num_threads(), Path.cwd()

    def on_eval(step: int, metrics: dict) -> None:
        seen["during"] = torch.get_num_threads()

    torch.set_num_threads(CALLERS_THREADS)
    try:
        os.chdir(folder)
        run = rlgen.train("ppo_cartpole", QUIET, run_dir="run", on_eval=on_eval)
        seen["after"] = torch.get_num_threads()
    finally:
        os.chdir(cwd)
        torch.set_num_threads(before)
    return run, folder / "run", seen


# --- 1, 2: the caller's RNGs and threads ----------------------------------------------------------


def test_opening_a_run_and_acting_leave_the_callers_rngs_as_they_were(trained):
    first = _seeded_draws()
    run = rlgen.load_run(trained[1])
    run.agent().predict(OBS)
    run.modules()
    assert _draws() == first  # not the run's seed 0's first draws


def test_evaluate_leaves_the_callers_rngs_and_plays_the_same_episodes_each_time(trained):
    run = rlgen.load_run(trained[1])
    first = _seeded_draws()
    once = run.evaluate(episodes=2)
    assert _draws() == first
    np.random.rand(5)  # whatever the caller draws in between
    torch.rand(5)
    assert run.evaluate(episodes=2) == once
    assert rlgen.load_run(trained[1]).evaluate(episodes=2) == once  # another opening of it too


def test_training_uses_its_own_threads_and_gives_the_callers_back(trained):
    assert trained[2] == {"during": 1, "after": CALLERS_THREADS}


def test_a_loaded_run_keeps_the_callers_threads(trained, callers_threads):
    run = rlgen.load_run(trained[1])
    run.agent().predict(OBS)
    assert torch.get_num_threads() == callers_threads
    run.evaluate(episodes=1)
    assert torch.get_num_threads() == callers_threads


def test_the_runner_gives_the_callers_threads_back_when_the_run_fails(tmp_path, callers_threads):
    cfg = toy_config(tmp_path, toy={"nan_at": 20})
    with pytest.raises(RlgenError):
        Runner(cfg, ToyExperiment(cfg)).run()
    assert torch.get_num_threads() == callers_threads


# --- 3, 5: predict's arguments, however passed ------------------------------------------------------


@pytest.mark.parametrize("args, kwargs, says", [
    ((0.0, "false"), {}, "predict: deterministic must be True or False, not str 'false'"),
    ((0.0, 0), {}, "predict: deterministic must be True or False, not int 0"),
    (("x",), {}, "predict: reward must be a finite real number, not str 'x'"),
    ((), {"reward": "x"}, "predict: reward must be a finite real number, not str 'x'"),
    ((), {"reward": np.array([1.0, 2.0])}, "predict: reward must be a finite real number, not ndarray"),
    ((), {"reward": float("nan")}, "predict: reward must be a finite real number, not float nan"),
    ((), {"reward": float("inf")}, "predict: reward must be a finite real number, not float inf"),
    ((), {"reward": True}, "predict: reward must be a finite real number, not bool True"),
    ((0.0, True, None, 5), {}, "predict: too many positional arguments; it takes predict(obs, reward=0.0, "),
    ((), {"deterministc": False}, "predict: got an unexpected keyword argument 'deterministc'; it takes predict("),
])
def test_predict_checks_its_arguments_by_position_and_by_name(trained, args, kwargs, says):
    agent = rlgen.load_run(trained[1]).agent()
    with pytest.raises(RlgenError) as caught:
        agent.predict(OBS, *args, **kwargs)
    assert str(caught.value).startswith(says) and "\n" not in str(caught.value)


@pytest.mark.parametrize("reward", [1, 0.5, np.float32(2.0), np.int64(-1), np.array(1.5), np.array([1.5])])
def test_predict_takes_a_reward_as_any_real_number(trained, reward):
    agent = rlgen.load_run(trained[1]).agent()
    assert agent.predict(OBS, reward) == agent.predict(OBS, reward=reward, deterministic=True)


# --- 4: run directories ------------------------------------------------------------------------------


def test_a_run_trained_or_loaded_by_a_relative_path_is_found_from_anywhere(trained, monkeypatch):
    run, where = trained[0], trained[1]
    assert where.is_absolute() and (where / "config.yaml").is_file()
    monkeypatch.chdir(where.parent)
    loaded = rlgen.load_run(where.name)
    assert loaded.run_dir == where
    monkeypatch.chdir("/")
    assert loaded.agent().predict(OBS) == run.agent().predict(OBS)


def test_a_loaded_run_deleted_before_use_says_so(trained, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(trained[1], copy)
    run = rlgen.load_run(copy)
    shutil.rmtree(copy)
    with pytest.raises(RlgenError, match=r"no longer exists \(moved or deleted\?\)") as caught:
        run.agent()
    assert "saved one yet" not in str(caught.value)


def test_training_into_a_run_names_the_python_way_to_continue_it(trained):
    where = trained[1]
    with pytest.raises(RlgenError) as caught:
        rlgen.train("ppo_cartpole", QUIET, run_dir=where)
    assert f"`rlgen train --resume {where}` (from Python: rlgen.train(resume='{where}'))" in str(caught.value)


# --- 6: filming an evaluation --------------------------------------------------------------------


def _said(caught: list) -> list:
    """The warnings an evaluation gave, less the ResourceWarnings of objects an earlier test in the
    same process left to the garbage collector (a database connection), which it may free meanwhile."""
    return [(w.category, str(w.message)) for w in caught if not issubclass(w.category, ResourceWarning)
            and "was deleted while still open" not in str(w.message)]


def test_filming_into_a_new_folder_warns_of_nothing_and_a_second_film_of_the_overwrite(trained, tmp_path):
    run = rlgen.load_run(trained[1])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.evaluate(episodes=1, video_dir=tmp_path / "films" / "new")
    assert _said(caught) == []  # not gymnasium's "Overwriting existing videos"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run.evaluate(episodes=1, video_dir=tmp_path / "films" / "new")
    said = _said(caught)
    assert said == [(RlgenWarning, f"Run.evaluate: overwrote the video {tmp_path}/films/new/eval-episode-0.mp4 that "
                                   "was there (give another video_dir to keep both)")]


# --- 7: an on_eval hook's answer --------------------------------------------------------------------


@pytest.mark.parametrize("answer, shown", [("no", "str 'no'"), (0.5, "float 0.5"), ({}, "dict {}")])
def test_an_on_eval_hook_answering_neither_true_false_nor_none_is_refused(tmp_path, answer, shown):
    cfg = toy_config(tmp_path)
    runner = Runner(cfg, ToyExperiment(cfg), on_eval=lambda step, metrics: answer)
    with pytest.raises(RlgenError) as caught:
        runner.run()
    assert str(caught.value) == f"on_eval must return True (stop), False or None, not {shown}"


@pytest.mark.parametrize("answer, status", [(None, "completed"), (False, "completed"), (np.bool_(True), "pruned")])
def test_an_on_eval_hook_may_answer_none_false_or_true(tmp_path, answer, status):
    cfg = toy_config(tmp_path)
    assert Runner(cfg, ToyExperiment(cfg), on_eval=lambda step, metrics: answer).run()["status"] == status


def test_a_picture_in_metrics_jsonl_is_named_by_an_absolute_path(tmp_path, monkeypatch):
    """A run whose run_dir was relative named its pictures from the directory it was started in."""
    from rlgen.logging import Image, Video, _jsonable

    monkeypatch.chdir(tmp_path)
    for kind, cls in (("image", Image), ("video", Video)):
        row = _jsonable(cls(Path("run") / "media" / "x"))
        assert row["_type"] == kind and row["path"] == str(tmp_path / "run" / "media" / "x")


def test_the_first_rlgen_import_draws_nothing_from_the_callers_random(tmp_path):
    """rich draws once from `random` when first imported; rlgen imports it with the stream put back."""
    import subprocess
    import sys

    script = ("import random; random.seed(7); a = random.random(); random.seed(7); "
              "import rlgen.api, rlgen.logging, rich.console; print(a == random.random())")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, check=True)
    assert out.stdout.strip() == "True", out.stderr
