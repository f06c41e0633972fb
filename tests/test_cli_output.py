"""What the commands print: paths and labels as given (never read as rich markup), whole lines off
a terminal, a closed stdout or a reader gone (`| head -1`), an output encoding that cannot hold the
text, and run files read as UTF-8 whatever the locale."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rlgen
from rlgen.cli import main

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
TINY = ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32", "train.total_steps=32",
        "train.eval_every=32", "train.eval_episodes=1", *QUIET]
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def odd_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished PPO run whose directory name rich would read as markup, trained through the CLI
    (`[/x]` closes no tag: rich raised MarkupError where the path was printed unescaped)."""
    run_dir = tmp_path_factory.mktemp("odd") / "u[/x]" / "t[bold]"
    assert main(["train", "ppo_cartpole", "--run-dir", str(run_dir), *TINY]) == 0
    return run_dir


def _rlgen(*args: str, env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rlgen", *args], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "WANDB_MODE": "disabled", **(env or {})}, **kwargs)


def test_paths_and_labels_print_as_given(odd_run, tmp_path, capsys):
    assert main(["train", "--resume", str(odd_run), "train.total_steps=64", *QUIET]) == 0
    err = capsys.readouterr().err
    assert f"({odd_run})" in err and f"-> {odd_run}" in err  # "resumed from", the announce line
    out = tmp_path / "q[bold]r.npz"
    assert main(["record", str(odd_run), "--out", str(out), "--episodes", "1"]) == 0
    assert f"-> {out}" in capsys.readouterr().err
    figure = tmp_path / "figs[/v2]" / "c.png"
    assert main(["compare", str(odd_run), "--out", str(figure)]) == 0
    assert f"learning curves: {figure}" in capsys.readouterr().err
    export = tmp_path / "m[bold]x"
    assert main(["export", str(odd_run), "--format", "sb3", "-o", str(export)]) == 0
    assert f"-f '{export}/rl-zoo'" in capsys.readouterr().err  # shell-quoted too: [ is a glob character


def test_a_tournament_table_shows_run_names_as_given(tmp_path, capsys):
    run = rlgen.train("selfplay_tictactoe", ["train.total_steps=64", "train.eval_every=64", "train.eval_episodes=2",
                                             f"logging.dir={tmp_path}", *QUIET]).run_dir
    odd = run.rename(run.with_name("v[bold]w"))  # unescaped, rich showed it as vw
    assert main(["tournament", str(odd), "--games", "2"]) == 0
    assert "selfplay_tictactoe/v[bold]w@" in capsys.readouterr().out


def test_eval_and_inspect_keep_long_lines_whole_off_a_terminal(odd_run, tmp_path, capsys):
    """`rlgen eval RUN > scores.txt`: no line folded at rich's 80 columns."""
    long = tmp_path / ("a_folder_name_long_enough_to_pass_eighty_columns_" * 2) / "run"
    long.parent.mkdir()
    os.symlink(odd_run.resolve(), long)
    assert main(["inspect", str(long)]) == 0
    assert f"(best checkpoint): {long}\n" in capsys.readouterr().out
    assert main(["eval", str(long), "--episodes", "1", "--video"]) == 0
    out = capsys.readouterr().out
    assert f"  video in {long / 'media' / 'videos'}" in out
    assert all(line == line.rstrip() for line in out.splitlines())  # whole, and not padded out either


def test_a_reader_gone_ends_the_command_quietly_with_141(odd_run):
    """The pipe closed before the command writes (`| head -0`): exit 128 + SIGPIPE, no traceback,
    for a plain write (`rlgen list` in a pipe) and for rich's (rich would exit 1)."""
    for args in (["list"], ["inspect", str(odd_run)]):
        proc = subprocess.Popen([sys.executable, "-m", "rlgen", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=ROOT, env={**os.environ, "WANDB_MODE": "disabled"})
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait() == 141, (args, err)
        assert "Traceback" not in err and "Exception ignored" not in err, err


def test_a_closed_stdout_is_one_line_and_exit_2(odd_run):
    done = subprocess.run(f"{sys.executable} -m rlgen list >&-", shell=True, capture_output=True, text=True,
                          cwd=ROOT)
    assert done.returncode == 2, done.stderr
    assert "error: stdout is closed, and this command writes its result there" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_output_encoding_that_cannot_hold_the_text_is_one_line(odd_run):
    for args in (["list"], ["compare", str(odd_run)]):
        done = _rlgen(*args, env={"PYTHONIOENCODING": "ascii"})
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert "error: the output's encoding, ascii, cannot write" in done.stderr
        assert "PYTHONIOENCODING=utf-8" in done.stderr


def test_run_files_are_read_as_utf8_in_any_locale(tmp_path):
    """config.yaml is UTF-8 (OmegaConf writes and reads it so): reading it in a C locale without
    UTF-8 mode (the locale's encoding is ASCII) must not fail on a name like café."""
    run = tmp_path / "runs" / "cafe" / "r1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text("name: café\nseed: 0\n", encoding="utf-8")
    (run / "metrics.jsonl").write_text(json.dumps({"global_step": 1, "eval/return_mean": 1.0}) + "\n")
    (run / "summary.json").write_text(json.dumps({"status": "completed", "note": "é"}))
    (run / "checkpoints" / "latest").write_text("step_1\n")
    code = ("import sys; from rlgen.run_data import read_run; from rlgen.transfer import _run_name; "
            "r = read_run(sys.argv[1]); print(r.config['name'] == 'caf\\u00e9', r.summary['note'] == '\\u00e9', "
            "_run_name(r.path) == 'caf\\u00e9')")  # ASCII: the command line is read in the locale's encoding
    done = subprocess.run([sys.executable, "-c", code, str(run)], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "LC_ALL": "C",
                               "PYTHONIOENCODING": "utf-8"})
    assert done.stdout.split() == ["True", "True", "True"], done.stderr


def test_a_broken_pipe_that_is_not_stdouts_is_an_error_line(monkeypatch, capsys):
    """A SubprocVecEnv worker that died raises BrokenPipeError in the trainer: that exited 141 with
    no word, as if the reader of stdout had gone."""
    from rlgen import cli

    def dead_worker(args):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setitem(cli.COMMANDS, "list", dead_worker)
    assert cli.main(["list"]) == 2
    assert "error:" in capsys.readouterr().err
