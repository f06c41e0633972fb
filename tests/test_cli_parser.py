"""The command line's parser: what follows a `--`, a missing command, an empty --by."""

from __future__ import annotations

import pytest

from rlgen.cli import main
from rlgen.cli_parser import parse, parser


def test_overrides_after_a_double_dash_join_the_overrides_after_an_option_too():
    """`train CONFIG -- a=b` took the override, `train CONFIG --run-dir D -- a=b` said "unrecognized
    arguments: -- a=b": argparse leaves the `--` among the arguments it could not place."""
    for argv in (["train", "ppo_cartpole", "--", "seed=1"], ["train", "ppo_cartpole", "--run-dir", "d", "--", "seed=1"]):
        assert parse(parser(), argv).overrides == ["seed=1"], argv


def test_a_double_dash_before_what_is_no_override_is_still_refused(capsys):
    with pytest.raises(SystemExit) as info:
        parse(parser(), ["train", "ppo_cartpole", "--run-dir", "d", "--", "--bogus"])
    assert info.value.code == 2 and "unrecognized arguments: -- --bogus" in capsys.readouterr().err


def test_no_command_is_the_usage_and_one_error_line_on_stderr(capsys):
    """It printed the whole help to stdout and exited 2: an error that a pipe took as output."""
    with pytest.raises(SystemExit) as info:
        main([])
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    usage, error = err.strip().splitlines()
    assert usage.startswith("usage: rlgen") and error.startswith("error: give a COMMAND: train, eval,"), err


@pytest.mark.parametrize("by", ["", ",", " , "])
def test_an_empty_by_is_refused_as_an_empty_metric_is(by, capsys):
    """`--by ''` (an unset shell variable) grouped by every difference, silently."""
    with pytest.raises(SystemExit) as info:
        parse(parser(), ["compare", "runs/x", "--by", by])
    err = capsys.readouterr().err.strip()
    assert info.value.code == 2 and err.startswith("error: argument --by: is empty (an unset shell variable?)"), err
    assert parse(parser(), ["compare", "runs/x", "--by", "seed,optim.lr"]).by == ["seed,optim.lr"]
