"""What a seed queue (`rlgen train CONFIG --seeds ... --storage URL`) prints: names and paths as
given (never read as rich markup), and its table of seeds whole off a terminal."""

from __future__ import annotations

from rlgen.cli import main

from .queue_toy import write_config

ONE_EVAL = {"train": {"total_steps": 10, "eval_every": 10, "progress": False}}


def test_a_seed_queue_shows_its_name_and_run_directories_as_given(tmp_path, capsys):
    """`[/x]` closes no tag: rich raised MarkupError where the queue's lines were printed unescaped."""
    root = tmp_path / "q[/x]" / "r[bold]"
    root.mkdir(parents=True)
    url = f"sqlite:///{root / 'queue.db'}"
    assert main(["train", str(write_config(root, **ONE_EVAL)), "--seeds", "0", "--storage", url,
                 "--study", "s[/x]"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "seed queue s[/x] in sqlite:///" in err
    (run,) = (root / "runs" / "qtoy").iterdir()
    assert f"seed 0 complete, eval/return_mean best 1 ({run})" in err


def test_a_seed_queues_table_is_whole_off_a_terminal(tmp_path, capsys):
    """`rlgen train ... --storage URL 2> log.txt`: the state column held at rich's 80 columns."""
    stop = {"train": {**ONE_EVAL["train"], "early_stop": {"metric": "eval/a_metric_the_run_does_not_log"}}}
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    assert main(["train", str(write_config(tmp_path, **stop)), "--seeds", "0", "--storage", url]) == 2
    assert "│ failed: the run logged no 'eval/a_metric_the_run_does_not_log': set" in capsys.readouterr().err
