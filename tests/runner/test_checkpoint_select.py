"""Which checkpoint `rlgen.load_run` and `rlgen eval/play/tournament/export/record` open:
`--checkpoint best|latest|step_N`, and by default the best of a finished run."""

from __future__ import annotations

import json
import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

import rlgen
from rlgen import checkpoint
from rlgen.cli import main
from rlgen.errors import RlgenError


def _fake_run(root: Path, status: str | None, best_step: int | None = 100) -> Path:
    run = root / "run"
    for step in (100, 200, 300):
        (run / "checkpoints" / f"step_{step}").mkdir(parents=True)
        (run / "checkpoints" / f"step_{step}" / checkpoint.STATE).write_bytes(b"x")
    (run / "checkpoints" / checkpoint.LATEST).write_text("step_300")
    if best_step is not None:
        (run / "checkpoints" / "best").mkdir()
        (run / "checkpoints" / "best" / checkpoint.STATE).write_bytes(b"x")
        (run / "checkpoints" / "best" / "step").write_text(str(best_step))
    (run / "config.yaml").write_text("name: x\n")
    if status is not None:
        (run / "summary.json").write_text(json.dumps({"status": status}))
    return run


@pytest.mark.parametrize("status, expected", [("completed", "best"), ("stopped_early", "best"), ("pruned", "best"),
                                              ("failed", "latest"), (None, "latest")])
def test_the_default_is_best_for_a_finished_run_and_latest_otherwise(tmp_path, status, expected):
    run = _fake_run(tmp_path, status)
    run_dir, target, label = checkpoint.select(run)
    assert run_dir == run and label == expected
    assert target == (run / "checkpoints" / "best" if expected == "best" else run)


def test_an_unreadable_summary_is_said_not_passed_over(tmp_path, capsys):
    run = _fake_run(tmp_path, "completed")
    (run / "summary.json").write_text("garbage")
    assert checkpoint.select(run)[2] == "latest"
    err = " ".join(capsys.readouterr().err.split())
    assert "summary.json is unreadable" in err and "ask for checkpoint best" in err
    assert "--checkpoint" not in err  # said the same to rlgen.load_run and to the commands: neither's spelling


def test_a_summary_nested_too_deeply_is_said_not_a_traceback(tmp_path, capsys):
    run = _fake_run(tmp_path, "completed")
    (run / "summary.json").write_text("[" * 100_000 + "]" * 100_000)  # json raises RecursionError
    assert checkpoint.select(run)[2] == "latest"
    err = " ".join(capsys.readouterr().err.split())
    assert "summary.json is unreadable (ValueError: nested too deeply to parse)" in err


@contextmanager
def _fed_fifo(path: Path, text: str) -> Iterator[None]:
    """A fifo at `path` that gives `text` to a reader: a read that should not happen returns it (and
    the test fails) rather than waiting for ever; at the end a reader of our own frees the writer."""
    os.mkfifo(path)
    writer = threading.Thread(target=path.write_text, args=(text,), daemon=True)
    writer.start()
    try:
        yield
    finally:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        writer.join()
        os.close(fd)


def test_a_summary_that_is_a_fifo_is_unreadable_not_waited_on(tmp_path, capsys):
    run = _fake_run(tmp_path, None)
    with _fed_fifo(run / "summary.json", json.dumps({"status": "completed"})):
        assert checkpoint.select(run)[2] == "latest"
    err = " ".join(capsys.readouterr().err.split())
    assert "summary.json is unreadable (not a regular file)" in err


def test_a_best_step_file_that_is_a_fifo_is_not_waited_on(tmp_path):
    run = _fake_run(tmp_path, "completed", best_step=None)
    best = run / "checkpoints" / "best"
    best.mkdir()
    with _fed_fifo(best / "step", "100"):
        assert checkpoint.candidates(best) == ([best], -1)


def test_a_path_too_long_to_look_up_is_one_line_naming_it(tmp_path):
    path = tmp_path / ("a" * 300)  # over NAME_MAX (255): Path.is_file() raises ENAMETOOLONG rather than saying False
    with pytest.raises(RlgenError, match=f"^cannot open {path}: File name too long; give a run directory"):
        rlgen.load_run(path)


def test_a_finished_run_without_best_opens_its_latest(tmp_path):
    run = _fake_run(tmp_path, "completed", best_step=None)
    assert checkpoint.select(run) == (run, run, "latest")


@pytest.mark.parametrize("named, why", [
    (None, r"checkpoints/best \(step 100\) was kept under an earlier train.early_stop, and summary.json names none"),
    (200, r"checkpoints/best holds step 100, but summary.json names step 200 as the best"),
])
def test_a_best_that_summary_json_does_not_name_is_never_opened_as_the_best(tmp_path, named, why):
    """A resume under another early_stop rule leaves the old rule's best/ until its first checkpoint."""
    run = _fake_run(tmp_path, "completed")
    (run / "summary.json").write_text(json.dumps({"status": "completed", "best": {"global_step": named}}))
    assert checkpoint.select(run) == (run, run, "latest")
    with pytest.raises(checkpoint.CheckpointChoiceError, match=f"^{run} has no best checkpoint: {why}; use "
                                                               "checkpoint='latest' or 'step_N'$"):
        checkpoint.select(run, "best")
    (run / "summary.json").write_text(json.dumps({"status": "completed", "best": {"global_step": 100}}))
    assert checkpoint.select(run) == (run, run / "checkpoints" / "best", "best")  # the one it names


def test_each_choice_names_its_checkpoint(tmp_path):
    run = _fake_run(tmp_path, "completed")
    ckpts = run / "checkpoints"
    assert checkpoint.select(run, "latest") == (run, run, "latest")
    assert checkpoint.select(run, "best") == (run, ckpts / "best", "best")
    assert checkpoint.select(run, "step_200") == (run, ckpts / "step_200", "step_200")
    assert checkpoint.select(run, "200") == (run, ckpts / "step_200", "step_200")
    assert checkpoint.select(run, str(ckpts / "step_100")) == (run, ckpts / "step_100", "step_100")
    assert checkpoint.select(ckpts / "step_300") == (run, ckpts / "step_300", "step_300")  # a checkpoint dir: itself
    assert checkpoint.select(ckpts / "best") == (run, ckpts / "best", "best")


def test_a_bad_choice_is_one_readable_error(tmp_path):
    run = _fake_run(tmp_path, "completed")
    with pytest.raises(RlgenError, match=r"no checkpoint 'step_999' .* it has step_100, step_200, step_300, best"):
        checkpoint.select(run, "step_999")
    with pytest.raises(RlgenError, match="checkpoint='newest' is not a checkpoint of .*; use 'best', 'latest' or "
                       "'step_N'"):
        checkpoint.select(run, "newest")
    with pytest.raises(RlgenError, match="give either a checkpoint directory"):
        checkpoint.select(run / "checkpoints" / "step_100", "best")
    other = _fake_run(tmp_path / "other", "completed")
    with pytest.raises(RlgenError, match="is not a checkpoint of"):
        checkpoint.select(run, str(other / "checkpoints" / "step_100"))
    without_best = _fake_run(tmp_path / "nobest", "completed", best_step=None)
    with pytest.raises(RlgenError, match="has no best checkpoint"):
        checkpoint.select(without_best, "best")


@pytest.mark.parametrize("choice, at, api, cli", [
    ("newest", "run", "checkpoint='newest' is not a checkpoint of", "--checkpoint newest is not a checkpoint of"),
    ("best", "nobest/run", "use checkpoint='latest' or 'step_N'", "use --checkpoint latest or step_N"),
    ("step_9", "run", "(checkpoint takes 'best', 'latest' or 'step_N')",
     "(--checkpoint takes best, latest or step_N)"),
    ("best", "run/checkpoints/step_100", "or checkpoint='best', not both", "or --checkpoint best, not both"),
])
def test_a_bad_choice_names_the_callers_own_parameter(tmp_path, capsys, choice, at, api, cli):
    """rlgen.load_run(path, checkpoint=...) has no --checkpoint option; the commands have no checkpoint=."""
    _fake_run(tmp_path, "completed")
    _fake_run(tmp_path / "nobest", "completed", best_step=None)
    with pytest.raises(checkpoint.CheckpointChoiceError) as e:
        rlgen.load_run(tmp_path / at, checkpoint=choice)
    assert api in str(e.value) and "--checkpoint" not in str(e.value)
    assert main(["eval", str(tmp_path / at), "--checkpoint", choice]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert cli in err and "checkpoint=" not in err


def test_a_bad_choice_crosses_to_another_process_as_worded(tmp_path):
    import pickle

    with pytest.raises(checkpoint.CheckpointChoiceError) as e:
        checkpoint.select(_fake_run(tmp_path, "completed"), "newest")
    back = pickle.loads(pickle.dumps(e.value))
    assert isinstance(back, RlgenError) and str(back) == str(e.value)


QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> rlgen.Run:
    """A run whose best evaluation is not its last: the early-stop metric is minimised, and an
    untrained CartPole policy falls soonest."""
    root = tmp_path_factory.mktemp("select")
    return rlgen.train("ppo_cartpole", [*QUIET, f"logging.dir={root}", "seed=3", "train.total_steps=4096",
                                        "train.eval_every=1024", "train.eval_episodes=2", "train.early_stop.target=null",
                                        "train.early_stop.mode=min"])


def test_load_run_opens_the_best_of_a_finished_run(finished):
    best, last = finished.summary["best"]["global_step"], finished.summary["global_step"]
    assert best != last  # the point of the test: otherwise choose another seed
    with rlgen.load_run(finished.run_dir) as run:
        assert run.evaluate()  # the experiment is loaded
        assert (run.checkpoint, run.global_step) == ("best", best)
    with rlgen.load_run(finished.run_dir, checkpoint="latest") as run:
        run.evaluate()
        assert (run.checkpoint, run.global_step) == ("latest", last)
    with rlgen.load_run(finished.run_dir, checkpoint=f"step_{last}") as run:
        run.evaluate()
        assert run.global_step == last


def test_eval_says_which_checkpoint_it_opened(finished, capsys):
    best, last = finished.summary["best"]["global_step"], finished.summary["global_step"]
    assert main(["eval", str(finished.run_dir), "--episodes", "1"]) == 0
    assert f"at step {best:,} (best checkpoint)" in capsys.readouterr().out  # the figures: stdout
    assert main(["eval", str(finished.run_dir), "--episodes", "1", "--checkpoint", "latest"]) == 0
    assert f"at step {last:,} (latest checkpoint)" in capsys.readouterr().out
    assert main(["eval", str(finished.run_dir), "--checkpoint", "step_7"]) == 2
    assert "no checkpoint 'step_7'" in capsys.readouterr().err


def test_record_and_export_take_the_choice(finished, tmp_path):
    from rlgen.envs.demos import read_demos

    rlgen.record(finished.run_dir, 1, tmp_path / "best.npz")
    rlgen.record(finished.run_dir, 1, tmp_path / "latest.npz", checkpoint="latest")
    best, latest = read_demos(tmp_path / "best.npz"), read_demos(tmp_path / "latest.npz")
    assert best.metadata["expert_return"] != latest.metadata["expert_return"]  # minimised vs trained further
    assert main(["export", str(finished.run_dir), "--format", "torchscript", "-o", str(tmp_path / "x"),
                 "--checkpoint", "latest"]) == 0
    with rlgen.load_run(finished.run_dir) as run:  # a Run is open at one checkpoint: another is refused
        with pytest.raises(RlgenError, match="open at its best checkpoint already"):
            rlgen.record(run, 1, tmp_path / "other.npz", checkpoint="latest")
    assert not (tmp_path / "other.npz").exists()


def test_a_damaged_best_falls_back_only_when_it_was_not_asked_for(finished, tmp_path, capsys):
    import shutil

    run_dir = tmp_path / "run"
    shutil.copytree(finished.run_dir, run_dir, ignore=shutil.ignore_patterns(".lock"))
    state = run_dir / "checkpoints" / "best" / checkpoint.STATE
    data = state.read_bytes()
    state.unlink()  # best/ may share its file with a step directory: write a new one
    state.write_bytes(data[:64])
    with rlgen.load_run(run_dir) as run:
        run.evaluate()
        assert (run.checkpoint, run.global_step) == ("latest", finished.summary["global_step"])
    assert "checksum does not match" in capsys.readouterr().err
    with pytest.raises(RlgenError, match="best is corrupted"), rlgen.load_run(run_dir, checkpoint="best") as run:
        run.evaluate()


def test_a_run_inside_a_folder_named_checkpoints_and_a_step_given_from_inside_open(finished, tmp_path, monkeypatch):
    import shutil

    run_dir = tmp_path / "checkpoints" / "r1"
    shutil.copytree(finished.run_dir, run_dir, ignore=shutil.ignore_patterns(".lock"))
    best, last = finished.summary["best"]["global_step"], finished.summary["global_step"]
    with rlgen.load_run(run_dir) as run:
        run.experiment  # noqa: B018 - loads the checkpoint
        assert (run.checkpoint, run.global_step) == ("best", best)
    with rlgen.load_run(run_dir, checkpoint="latest") as run:
        run.experiment  # noqa: B018
        assert run.global_step == last
    monkeypatch.chdir(run_dir / "checkpoints")
    with rlgen.load_run(f"step_{last}") as run:
        run.experiment  # noqa: B018
        assert (run.checkpoint, run.global_step, run.run_dir.resolve()) == (f"step_{last}", last, run_dir.resolve())


def test_a_step_pruned_from_the_last_k_but_kept_as_best_opens(tmp_path):
    from tests.runner.toy import ToyExperiment, toy_config
    from rlgen.runner import Runner

    cfg = toy_config(tmp_path, keep_checkpoints=1, toy={"scores": [1, 9, 2, 3, 4]})  # best at 40
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    assert not (runner.run_dir / "checkpoints" / "step_40").exists()
    run_dir, target, label = checkpoint.select(runner.run_dir, "step_40")
    assert (target.name, label) == ("best", "step_40") and checkpoint.load(target)["global_step"] == 40
    with pytest.raises(RlgenError, match="no checkpoint 'step_60'"):
        checkpoint.select(runner.run_dir, "step_60")


def test_record_reads_its_demos_back_in_the_format_it_wrote(finished, tmp_path):
    """A format that claims no path (`matches` False: chosen by name only) still reads back."""
    from rlgen.envs.demo_formats import NpzFormat
    from rlgen.registry import DEMOS

    class ByNameOnly(NpzFormat):
        def matches(self, path):
            return False

    DEMOS.register("by_name_only", ByNameOnly)
    try:
        out = tmp_path / "demos.dat"
        assert main(["record", str(finished.run_dir), "--episodes", "1", "--out", str(out), "--format", "by_name_only"]) == 0
        assert out.is_file()
    finally:
        DEMOS.unregister("by_name_only")


@pytest.mark.parametrize("values, why", [
    ([], "the run never evaluated its early-stop metric"),
    (["NaN", "Infinity"], r"its early-stop metric eval/return_mean was NaN or inf at every evaluation \(2\), and such "
                          "a value is never the best"),
    (['{"_type": "image", "path": "/x.png", "caption": ""}'] * 2,
     r"its early-stop metric eval/return_mean is not a number \(a picture\) at any evaluation \(2\), and only a number "
     "can be the best"),
])
def test_no_best_says_whether_the_metric_was_never_evaluated_or_never_finite(tmp_path, values, why):
    run = _fake_run(tmp_path, "completed", best_step=None)
    (run / "config.yaml").write_text("name: x\ntrain: {early_stop: {metric: eval/return_mean, mode: max}}\n")
    rows = [f'{{"global_step": {100 * (i + 1)}, "loss/total": 1.0}}\n{{"global_step": {100 * (i + 1)}, '
            f'"eval/return_mean": {v}}}\n' for i, v in enumerate(values)]
    (run / "metrics.jsonl").write_text("".join(rows) or '{"global_step": 100, "loss/total": 1.0}\n')
    with pytest.raises(RlgenError, match=rf"has no best checkpoint \(checkpoints/best\): {why}; use checkpoint='latest'"):
        checkpoint.select(run, "best")
