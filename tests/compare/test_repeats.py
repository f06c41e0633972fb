"""A seed trained twice with one config (a rerun, or a copy gathered from another folder) is one
sample, not two: `rlgen compare` counts the newest run of it in each group and names the others."""

from __future__ import annotations

import json
import os

import pytest

from rlgen.cli import main
from rlgen.compare import compare, read_runs

from .conftest import write_run

# finals 200, 300 and 400
EVALS = [[(1000, 100.0, 1.0), (2000, 200.0, 2.0)], [(1000, 300.0, 1.0), (2000, 300.0, 2.0)],
         [(1000, 300.0, 1.0), (2000, 400.0, 2.0)]]


@pytest.fixture
def folders(tmp_path):
    """Folder a: seeds 0 and 1; folder b: seed 1 again, written later."""
    a0 = write_run(tmp_path / "a", "ppo", 0, EVALS[0])
    a1 = write_run(tmp_path / "a", "ppo", 1, EVALS[1])
    b1 = write_run(tmp_path / "b", "ppo", 1, EVALS[2])
    for age, run in enumerate([a0, a1, b1]):
        os.utime(run / "metrics.jsonl", (1000 + age, 1000 + age))
    return [str(tmp_path / "a"), str(tmp_path / "b")], (a0.resolve(), a1.resolve(), b1.resolve())


def test_a_repeated_seed_counts_once_the_newest_and_the_other_is_named(folders, capsys):
    paths, (a0, a1, b1) = folders
    (group,), (stats,) = compare(read_runs(paths), "eval/return_mean")
    assert sorted(r.path for r in group.runs) == [a0, b1]
    assert stats.n_runs == 2 and stats.final.mean == pytest.approx(300)
    assert stats.final.std == pytest.approx(141.42, abs=0.01)  # 200 and 400; with the repeat's 300 counted: 100
    err = capsys.readouterr().err
    assert "left out 1 run(s) that repeat a seed of the same config" in err and f"{a1} (seed 1)" in err
    assert "--include-repeats" in err
    (group,), (stats,) = compare(read_runs(paths), "eval/return_mean", repeats=True)
    assert stats.n_runs == 3 and stats.final.std == pytest.approx(100)
    assert f"counting 1 run(s) that repeat a seed of the same config in their group as independent runs: {a1}" \
        in capsys.readouterr().err


def test_the_newest_is_by_when_the_run_last_trained_not_by_its_folder(folders):
    paths, (a0, a1, b1) = folders
    os.utime(a1 / "metrics.jsonl", (2000, 2000))  # seed 1 in folder a trained last
    (group,), _ = compare(read_runs(paths), "eval/return_mean")
    assert sorted(r.path for r in group.runs) == [a0, a1]


def test_a_finished_run_beats_a_newer_unfinished_repeat(folders):
    paths, (a0, a1, b1) = folders
    (b1 / "summary.json").write_text(json.dumps({"status": "interrupted"}))
    (group,), _ = compare(read_runs(paths), "eval/return_mean", unfinished=True)
    assert sorted(r.path for r in group.runs) == [a0, a1]


def test_only_the_same_seed_of_the_same_config_in_one_group_is_a_repeat(tmp_path, folders, capsys):
    paths, (a0, a1, b1) = folders
    # grouped by folder, each group holds seed 1 once
    groups, _ = compare(read_runs(paths), "eval/return_mean", by=["logging.dir"])
    assert [len(g.runs) for g in groups] == [2, 1]
    # seed 1 with another backbone, pooled by --by kind: another config, so no repeat
    tf = write_run(tmp_path / "c", "ppo", 1, EVALS[0], backbone="transformer")
    (group,), _ = compare(read_runs([paths[0], str(tf)]), "eval/return_mean", by=["kind"])
    assert len(group.runs) == 3
    assert "repeat a seed" not in capsys.readouterr().err


def test_cli_leaves_repeats_out_and_counts_them_when_asked(folders, capsys):
    paths, (a0, a1, b1) = folders
    assert main(["compare", *paths]) == 0
    err = capsys.readouterr().err
    assert "2 run(s) in 1 group(s)" in err and f"{a1} (seed 1)" in err
    assert main(["compare", *paths, "--include-repeats"]) == 0
    assert "3 run(s) in 1 group(s)" in capsys.readouterr().err
