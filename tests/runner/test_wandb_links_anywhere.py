"""W&B's own links (rlgen/rundir.py WANDB_LINKS) are known wherever the run directory lies from
the path a command was given: a folder of runs, or the run's wandb/ folder, given by mistake, gets
the plain "not a run directory", as it does without W&B, and a link out of a run rlgen does not
know is refused at any depth."""

import pytest

from rlgen import rundir
from rlgen.cli import main
from rlgen.errors import RlgenError


def _run_with_wandb(folder, tmp_path):
    """A run directory holding what W&B's offline mode leaves: links to its own folder, and its
    core log's link to the W&B cache of the machine that wrote it (outside the run)."""
    run = folder / "20260101-000000-s0-0123abcd"
    offline = run / "wandb" / "offline-run-20260101_000000-x"
    (offline / "logs").mkdir(parents=True)
    (run / "config.yaml").write_text("name: x\n")
    (offline / "logs" / "debug-core.log").symlink_to(tmp_path / "wandb-cache" / "core-debug-20260101_000000.log")
    (run / "wandb" / "latest-run").symlink_to(offline.name)
    (run / "wandb" / "debug.log").symlink_to(tmp_path / "elsewhere" / "debug.log")
    return run


def test_wandbs_links_are_known_from_a_folder_of_runs_and_from_inside_one(tmp_path):
    folder = tmp_path / "runs" / "x"
    run = _run_with_wandb(folder, tmp_path)
    for given in (tmp_path / "runs", folder, run, run / "wandb", run / "wandb" / "offline-run-20260101_000000-x"):
        rundir.check_links(given)
    (run / "metrics.jsonl").symlink_to(tmp_path / "victim.txt")  # not W&B's: refused from anywhere above
    for given in (folder, run):
        with pytest.raises(RlgenError, match="metrics.jsonl is a symbolic link"):
            rundir.check_links(given)


@pytest.mark.parametrize("command", [["eval", "--episodes", "1"], ["export", "--format", "onnx"],
                                     ["record", "--episodes", "1", "--out", "demos"]])
def test_a_folder_of_wandb_runs_is_said_to_be_no_run_directory(tmp_path, capsys, monkeypatch, command):
    monkeypatch.chdir(tmp_path)
    run = _run_with_wandb(tmp_path / "runs" / "x", tmp_path)
    for given in ("runs/x", f"runs/x/{run.name}/wandb"):
        assert main([command[0], given, *command[1:]]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert f"{given} is not a run directory (no config.yaml)" in err and "symbolic link" not in err, err
    assert not (tmp_path / "demos").exists()


def test_a_folder_that_is_no_run_is_told_so_before_its_links_are_looked_at(tmp_path):
    """A folder of runs holding a link out that is not W&B's: the command was given the wrong
    folder, and says that, not that the folder has a link."""
    from rlgen.checkpoint import select

    folder = tmp_path / "runs" / "x"
    run = _run_with_wandb(folder, tmp_path)
    (run / "notes.txt").symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(RlgenError, match="is not a run directory \\(no config.yaml\\)"):
        select(folder)
    with pytest.raises(RlgenError, match="symbolic link"):
        select(run)  # the run itself is still refused for its link out
