"""`rlgen compare`'s outputs besides the numbers: the table's title whole in a file, W&B's mode,
project and failure to start, and --leet and --project refused before any file is written."""

from __future__ import annotations

import os

import pytest

from rlgen.cli import main
from rlgen.compare_report import table_title
from rlgen.config import WandbConfig

EVALS = [[(1000, 100.0, 1.0), (2000, 300.0, 2.0)], [(1000, 200.0, 1.5), (2000, 400.0, 3.0)]]
PNG = "compare_eval_return_mean.png"


@pytest.fixture
def runs(make_run, tmp_path):
    for seed, evals in enumerate(EVALS):
        make_run("ppo_a", seed, evals)
    return tmp_path / "ppo_a"


def _one_error_line(capsys, phrase: str) -> None:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and phrase in err, err


def test_the_tables_title_is_one_whole_line_in_a_file(runs, capsys):
    from rich.text import Text

    from rlgen.compare import compare, read_runs

    one = str(next(runs.iterdir()))  # one run: a narrow table (no intervals), narrower than its title
    assert main(["compare", one]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    _, stats = compare(read_runs([one]), "eval/return_mean")
    assert first.rstrip() == Text.from_markup(table_title(stats, "eval/return_mean")).plain  # not folded to the table


def test_leet_into_a_file_is_refused_before_the_png_is_written(runs, tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    for leet in ("afile", "afile/sub"):
        assert main(["compare", str(runs), "--leet", str(tmp_path / leet)]) == 2
        _one_error_line(capsys, f"--leet {tmp_path / leet}: {tmp_path / 'afile'} is a file")
    assert not (tmp_path / PNG).exists()


def test_project_without_wandb_is_refused(runs, tmp_path, capsys):
    assert main(["compare", str(runs), "--project", "foo"]) == 2
    _one_error_line(capsys, "--project names the W&B project of --wandb: give --wandb, or drop --project")
    assert not (tmp_path / PNG).exists()


@pytest.mark.parametrize("args, env, phrase", [
    (["--project", "a/b"], None, "--project a/b: Invalid project name 'a/b'"),
    ([], "bogus", "WANDB_MODE=bogus: Input should be 'online', 'offline'"),
    ([], "", "WANDB_MODE='': Input should be 'online', 'offline'"),  # set though empty: W&B reads it
])
def test_a_bad_wandb_project_or_mode_is_refused_before_any_work(runs, tmp_path, monkeypatch, capsys, args, env, phrase):
    if env is not None:
        monkeypatch.setenv("WANDB_MODE", env)
    assert main(["compare", str(runs), "--wandb", *args]) == 2
    _one_error_line(capsys, phrase)
    assert not (tmp_path / PNG).exists() and not (tmp_path / "wandb").exists()


def test_a_mode_given_to_wandb_wins_over_wandb_mode_and_disabled_says_so(runs, tmp_path, monkeypatch, capsys):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "disabled")  # as tests/conftest.py sets it
    assert main(["compare", str(runs), "--wandb"]) == 0  # a bare --wandb takes WANDB_MODE's
    assert "W&B comparison run: none (WANDB_MODE=disabled turns W&B off" in capsys.readouterr().err
    assert not (tmp_path / "wandb").exists()
    assert main(["compare", str(runs), "--wandb", "offline"]) == 0
    wandb.teardown()  # the W&B service writes the run asynchronously
    (folder,) = (tmp_path / "wandb").glob("offline-run-*")
    assert f"W&B comparison run: {folder}" in capsys.readouterr().err


def test_a_mode_given_to_wandb_wins_over_a_wandb_mode_that_wandb_refuses(runs, tmp_path, monkeypatch, capsys):
    import wandb

    wandb.teardown()  # W&B reads its environment once, when first set up in a process
    monkeypatch.setenv("WANDB_MODE", "Offline")
    assert main(["compare", str(runs), "--wandb", "offline"]) == 0
    wandb.teardown()  # the W&B service writes the run asynchronously
    (folder,) = (tmp_path / "wandb").glob("offline-run-*")
    assert f"W&B comparison run: {folder}" in capsys.readouterr().err
    assert os.environ["WANDB_MODE"] == "Offline"  # set for wandb.init alone


def test_wandb_that_cannot_start_is_one_line_after_the_table_within_trainings_timeout(runs, tmp_path, monkeypatch,
                                                                                     capsys):
    import wandb

    started = {}

    def unreachable(**kwargs):
        started.update(kwargs)
        raise wandb.errors.CommError("Timed out while retrying: no such host\nConsider increasing the init_timeout")

    monkeypatch.setattr(wandb, "init", unreachable)
    assert main(["compare", str(runs), "--wandb", "online"]) == 2
    out, err = capsys.readouterr()
    assert "all runs" in out and (tmp_path / PNG).is_file()  # the table and the PNG come first
    assert started["mode"] == "online" and started["settings"].init_timeout == WandbConfig().init_timeout
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: W&B did not start in online mode (CommError: Timed out while retrying: no such "
                           "host);") and "`wandb login`" in last and "--wandb offline" in last
