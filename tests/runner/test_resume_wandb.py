"""A resumed run continues its own W&B run: the same id wherever its directory went, and a summary
of the whole run, not of the resumed part alone."""

import json
import shutil
import subprocess
import sys

import pytest

from rlgen import rundir
from rlgen.logging import Logger
from rlgen.run_files import RunFiles
from rlgen.run_state import RunState
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config
from tests.wandb_log import merged


@pytest.fixture
def offline(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))  # artifact staging, not ~/.local


def _folders(run_dir):
    """The run's W&B run folders, oldest first."""
    return sorted((run_dir / "wandb").glob("offline-run-*"))


def _records(folder):
    """Every record of one offline W&B run folder (tests.wandb_log.wandb_records reads a run that has one)."""
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(folder)],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _run_id(folder):
    (run,) = [r["run"] for r in _records(folder) if r["type"] == "run"][:1]
    return run["run_id"]


def _train(cfg, **kw):
    import wandb

    runner = Runner(cfg, ToyExperiment(cfg), **kw)
    runner.run()
    # W&B's service may still be writing the run's log when run.finish() returns (it does when the
    # process exits): the run folder is complete, to copy or read back, once the service is gone
    wandb.teardown()
    return runner


# --- the summary -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, scores, resumed_summary", [
    ("max", [1, 5, 2, 3, 4], {"max": 5, "last": 4}),  # the best (5, at step 40) came before the resume
    ("min", [9, 1, 4, 3, 2], {"min": 1, "last": 2}),
])
def test_a_resumed_runs_summary_keeps_the_best_from_before_the_resume(tmp_path, offline, mode, scores,
                                                                      resumed_summary):
    stop = {"metric": "eval/score", "mode": mode}
    first = _train(toy_config(tmp_path, total_steps=60, early_stop=stop, toy={"scores": scores}))
    _train(toy_config(tmp_path, total_steps=100, early_stop=stop, toy={"scores": scores}), resume_dir=first.run_dir)
    before, after = _folders(first.run_dir)
    assert merged(_records(before), "summary")["eval/score"] == {mode: scores[1], "last": scores[2]}
    # what `wandb sync` gives the W&B run last: the resumed process's summary, as an uninterrupted run's
    assert merged(_records(after), "summary")["eval/score"] == resumed_summary
    straight = _train(toy_config(tmp_path / "straight", early_stop=stop, toy={"scores": scores}))
    (folder,) = _folders(straight.run_dir)
    assert merged(_records(folder), "summary")["eval/score"] == resumed_summary


def test_a_resume_interrupted_before_its_first_evaluation_keeps_the_summary(tmp_path, offline):
    """The pair is written as the resumed W&B run starts, from the rows metrics.jsonl keeps."""
    scores = {"scores": [1, 5, 2]}
    first = _train(toy_config(tmp_path, total_steps=60, toy=scores))
    stopped = _train(toy_config(tmp_path, total_steps=100, checkpoint_every=1000,
                                toy={**scores, "on_unit": "sigterm", "signal_at": 70}), resume_dir=first.run_dir)
    assert stopped.summary["status"] == "interrupted" and stopped.summary["global_step"] == 70
    assert merged(_records(_folders(first.run_dir)[-1]), "summary")["eval/score"] == {"max": 5, "last": 2}


def test_a_resumed_wandb_summary_starts_with_the_restored_best_and_target(tmp_path, offline):
    """The scorer writes best/* and target/* only when they change: a resumed W&B run (its own
    offline folder) had none unless a new best came, and then no target/*."""
    import wandb

    cfg = toy_config(tmp_path, early_stop={"metric": "eval/score", "target": 4})
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    files = RunFiles(cfg, run_dir, rank=0)
    restored = RunState(best=5.0, best_step=40, target_reached={"global_step": 40, "wall_time_s": 1.5})
    logger = Logger([])
    files.open(logger, resumed=True, state=restored)
    files.close(logger, {"eval/score": 5.0, "eval/negated": -5.0}, restored.best, 0)
    wandb.teardown()
    summary = merged(_records(_folders(run_dir)[-1]), "summary")
    assert {k: v for k, v in summary.items() if k.startswith(("best/", "target/"))} == {
        "best/metric": "eval/score", "best/value": 5, "best/global_step": 40,
        "target/value": 4, "target/global_step": 40, "target/wall_time_s": 1.5}


# --- the id ----------------------------------------------------------------------------------------


def test_a_new_run_keeps_its_wandb_id_in_its_directory(tmp_path, offline):
    runner = _train(toy_config(tmp_path))
    assert (runner.run_dir / rundir.WANDB_ID).read_text() == f"{runner.run_dir.name}\n{runner.run_dir.resolve()}\n"
    (folder,) = _folders(runner.run_dir)
    assert _run_id(folder) == runner.run_dir.name


@pytest.mark.parametrize("new_name", ["renamed_s2", "20991231-235959-s2-0123abcd"])  # a run id's shape too
@pytest.mark.parametrize("made_before_the_file", [False, True])
def test_a_renamed_or_moved_run_directory_resumes_its_own_wandb_run(tmp_path, offline, new_name, made_before_the_file):
    """`cp -r runs/x/<id> runs7/renamed_s2; rlgen train --resume runs7/renamed_s2`: the same W&B run
    and model artifact, not a second one named after the new directory. A run made before rlgen
    kept the id of every run (no wandb_id file) takes it from its W&B run folder's name."""
    first = _train(toy_config(tmp_path / "runs", total_steps=60, toy={"scores": [1, 5, 2]}))
    old_id = first.run_dir.name
    if made_before_the_file:
        (first.run_dir / rundir.WANDB_ID).unlink(missing_ok=True)  # (kept: an rlgen that keeps it)
    moved = tmp_path / "runs7" / new_name
    shutil.copytree(first.run_dir, moved, symlinks=True, ignore=shutil.ignore_patterns(".lock"))
    shutil.rmtree(first.run_dir)  # moved, not copied: W&B's latest-run link now leads nowhere
    _train(toy_config(tmp_path / "runs", total_steps=100, toy={"scores": [1, 5, 2]}), resume_dir=moved)
    folders = _folders(moved)
    assert len(folders) == 2 and all(f.name.split("-", 3)[3].startswith(old_id) for f in folders), folders
    assert [_run_id(f) for f in folders] == [old_id, old_id]
    assert (moved / rundir.WANDB_ID).read_text() == f"{old_id}\n{moved.resolve()}\n"  # where it is now
    artifacts = {r["artifact"]["name"] for r in _records(folders[-1]) if r["type"] == "artifact"}
    assert artifacts == {f"model-{old_id}"}


def test_a_copy_resumed_beside_its_original_starts_a_wandb_run_of_its_own(tmp_path, offline):
    """A copy (its original still there, with the same id) is a fork: resumed, it must not append to
    the original's W&B run. The original resumed afterwards keeps its own."""
    first = _train(toy_config(tmp_path / "runs", total_steps=60, toy={"scores": [1, 5, 2]}))
    old_id = first.run_dir.name
    copy = tmp_path / "runs" / "fork"
    shutil.copytree(first.run_dir, copy, symlinks=True, ignore=shutil.ignore_patterns(".lock"))
    _train(toy_config(tmp_path / "runs", total_steps=100, toy={"scores": [1, 5, 2]}), resume_dir=copy)
    new_id = (copy / rundir.WANDB_ID).read_text().splitlines()[0]
    assert new_id.startswith("fork-") and new_id != old_id
    assert [_run_id(f) for f in _folders(copy)] == [old_id, new_id]
    assert rundir.wandb_id(first.run_dir) == old_id


def test_a_run_without_the_file_takes_the_id_of_its_first_wandb_run_folder(tmp_path):
    """Only names are read (a folder's own name may end in -<n> after the id; wandb/latest-run is a
    link); without a W&B run folder a directory named by rlgen keeps its name, any other gets a new id."""
    run = tmp_path / "renamed"
    for folder, log in [("offline-run-20261201_215812-20261201-215811-s2-22014f8e-1", "20261201-215811-s2-22014f8e"),
                        ("offline-run-20261202_090000-renamed-0dae060e", "renamed-0dae060e"),
                        ("run-20261201_215812-20261201-215811-s2-22014f8e", "20261201-215811-s2-22014f8e"),
                        ("offline-run-20261130_000000-nolog", None)]:
        (run / "wandb" / folder).mkdir(parents=True)
        if log:
            (run / "wandb" / folder / f"run-{log}.wandb").write_bytes(b"")
    (run / "wandb" / "latest-run").symlink_to(tmp_path / "elsewhere")
    assert rundir.wandb_id(run) == "20261201-215811-s2-22014f8e"
    assert rundir.wandb_id(run) == "20261201-215811-s2-22014f8e"  # kept in wandb_id from now on
    named = tmp_path / "20261201-215811-s2-22014f8e"
    named.mkdir()
    assert rundir.wandb_id(named) == named.name
    mine = [tmp_path / parent / "mine" for parent in ("x", "y")]
    for d in mine:
        d.mkdir(parents=True)
    ids = [rundir.wandb_id(d) for d in mine]
    assert ids[0] != ids[1] and all(i.startswith("mine-") for i in ids)
    assert [rundir.wandb_id(d) for d in mine] == ids


def test_a_resumed_runs_wandb_summary_keeps_its_best_and_target(tmp_path, offline):
    """End to end: the runner hands RunFiles its restored state, so the resumed W&B run, which
    sees no new best and no new target, still has both in its summary."""
    stop = {"metric": "eval/score", "target": 4}
    scores = {"scores": [1, 1, 5, 2]}  # the best (5) and the target at step 60, the first run's last
    first = _train(toy_config(tmp_path, total_steps=60, early_stop=stop, toy=scores))
    _train(toy_config(tmp_path, total_steps=100, early_stop=stop, toy=scores), resume_dir=first.run_dir)
    summary = merged(_records(_folders(first.run_dir)[-1]), "summary")
    assert (summary["best/value"], summary["best/global_step"], summary["best/metric"]) == (5, 60, "eval/score")
    assert (summary["target/value"], summary["target/global_step"]) == (4, 60)
