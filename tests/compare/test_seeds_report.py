"""The table that closes `rlgen train CONFIG --seeds` and the `rlgen compare` line printed under it
follow the config's train.early_stop: its metric, its mode and its target, on every way of running
the seeds (one after another, --parallel processes, a --storage queue)."""

from __future__ import annotations

import shlex

import pytest

from rlgen import compare_report
from rlgen.cli import main
from rlgen.compare import compare_command

from .loss_toy import write_config

WAYS = {"in turn": [], "parallel": ["--parallel", "2"], "queue": ["--storage", "sqlite:///{db}"]}


@pytest.mark.parametrize("way", WAYS)
def test_seeds_table_and_compare_line_follow_a_lower_is_better_metric(way, tmp_path, monkeypatch, capsys):
    tables = []
    shown = compare_report.stats_table
    monkeypatch.setattr(compare_report, "stats_table", lambda stats, *a: tables.append(stats) or shown(stats, *a))
    config = write_config(tmp_path, target=3.0)
    extra = [arg.format(db=tmp_path / "queue.db") for arg in WAYS[way]]
    assert main(["train", str(config), "--seeds", "0,1", *extra]) == 0
    # eval/distance: seed 0 10, 5, 3.33, 2.5 (<= 3 at step 40: stops); seed 1 11, 6, 4.33, 3.5, 3 (step 50)
    ((stats,),) = tables
    assert stats.best.mean == pytest.approx(2.75)  # read as higher-is-better: 10.5, each run's first eval
    assert (stats.reached, stats.steps_to.mean) == (2, 45)  # read as ">= 3": step 10
    err = capsys.readouterr().err
    line = shlex.split(err.split("compare later with: ")[1].splitlines()[0])
    assert line[:2] == ["rlgen", "compare"]
    assert line[-6:] == ["--metric", "eval/distance", "--mode", "min", "--threshold", "3"]
    assert main(line[1:]) == 0  # as printed, it shows the same table
    assert "45 ± 7.071 (2/2)" in capsys.readouterr().out


def test_compare_command_always_names_the_metric_and_mode(tmp_path):
    """`rlgen compare`'s own defaults follow the runs' early stop, which a sweep's metric need not be."""
    run = tmp_path / "a b" / "$x"
    assert compare_command([run]) == f"rlgen compare '{run}' --metric eval/return_mean --mode max"
    assert compare_command([run], "eval/return_mean", "max", 475.0) == \
        f"rlgen compare '{run}' --metric eval/return_mean --mode max --threshold 475"
    assert compare_command([run], "gan/loss_d", "min", 0.125) == \
        f"rlgen compare '{run}' --metric gan/loss_d --mode min --threshold 0.125"
