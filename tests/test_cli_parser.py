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


@pytest.mark.parametrize("argv", [["--foo"], ["--foo", "list"], ["--seeds=0,1", "train", "ppo_cartpole"]])
def test_an_unknown_option_before_the_command_is_named_with_rlgens_help(argv, capsys):
    """It said "give a COMMAND" (none after it), or pointed at the command's help as if its own."""
    with pytest.raises(SystemExit) as info:
        parse(parser(), argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == "" and err.strip() == (
        f"error: unrecognized argument {argv[0]}: rlgen itself takes only -h and --version; a command's options go "
        "after the command (see `rlgen -h`)")


def test_an_unknown_option_after_the_command_keeps_the_commands_help(capsys):
    with pytest.raises(SystemExit):
        parse(parser(), ["list", "--foo"])
    assert capsys.readouterr().err.strip() == "error: unrecognized arguments: --foo (see `rlgen list -h`)"


def test_version_prints_the_installed_version_on_stdout(capsys):
    from importlib.metadata import version

    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0 and capsys.readouterr().out == f"rlgen {version('rlgen')}\n"
