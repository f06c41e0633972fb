"""The command line on top of the API: `rlgen list` from the registries, readable errors."""

from __future__ import annotations

import subprocess
import sys

from rlgen.cli import main


def test_list_shows_every_table_with_descriptions():
    out = subprocess.run([sys.executable, "-m", "rlgen", "list"], capture_output=True, text=True, check=True,
                         env={"COLUMNS": "200", "PATH": ""}).stdout
    for section in ("configs", "kinds", "sources", "games", "backbones", "wrappers", "envs"):
        assert f"\n{section}" in f"\n{out}", section
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "PPO on CartPole-v1" in lines["ppo_cartpole"] or "demo" in lines["ppo_cartpole"]
    assert "SB3 algorithm" in lines["rl"] and "generator" in lines["gan"]
    assert "8 Gaussians on a circle" in lines["ring8"]
    assert "f ~ U[" in lines["sine"]  # markup-like brackets in a docstring survive
    assert "Transformer" in lines["transformer"] and "HideEntries" in lines
    assert "rlgen/CartPoleNoVel-v1" in out


def test_a_mistyped_bundled_config_gets_a_suggestion(capsys):
    assert main(["train", "ppo_cartpol"]) == 2
    err = capsys.readouterr()
    text = err.out + err.err
    assert "config file not found: ppo_cartpol (did you mean 'ppo_cartpole'?)" in " ".join(text.split())


def test_output_in_a_pipe_with_no_color_is_plain_and_whole(tmp_path):
    """NO_COLOR and a pipe: no escape sequences, no progress-bar line, every listing entry on one
    line with its whole description (nothing padded or cut by a terminal width)."""
    import os

    from rlgen.api import bundled_configs
    from rlgen.listing import config_description

    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "80", "WANDB_MODE": "disabled"}
    listing = subprocess.run([sys.executable, "-m", "rlgen", "list"], capture_output=True, text=True, check=True, env=env)
    assert "\x1b" not in listing.stdout + listing.stderr
    lines = listing.stdout.splitlines()
    assert lines[0] == "configs" and all(line == line.rstrip() for line in lines)
    for name, path in bundled_configs().items():
        (line,) = [x for x in lines if x.split()[:1] == [name]]
        assert line.split(None, 1)[1] == config_description(path).replace("\\[", "[")
    train = subprocess.run([sys.executable, "-m", "rlgen", "train", "ppo_cartpole", f"logging.dir={tmp_path}",
                            "train.total_steps=1024", "train.eval_every=512", "train.eval_episodes=2"],
                           capture_output=True, text=True, env=env)
    assert train.returncode == 0, train.stderr
    assert "\x1b" not in train.stdout + train.stderr and "━" not in train.stderr  # no bar drawn in a pipe
    assert [line.split()[:3] for line in train.stderr.splitlines() if line.startswith("eval")] == [
        ["eval", "step", "512"], ["eval", "step", "1,024"]]


# --- bad input refused while the arguments are read: one line, exit 2, nothing run or written ---------

import pytest  # noqa: E402


@pytest.mark.parametrize("args, phrase", [
    (["sweep", "sweeps/ppo_cartpole", "--n-trials", "0"], "argument --n-trials: must be 1 or more, got 0"),
    (["sweep", "sweeps/ppo_cartpole", "--n-trials", "-1"], "argument --n-trials: must be 1 or more, got -1"),
    (["sweep", "sweeps/ppo_cartpole", "--study", "../../esc"], "argument --study: '../../esc' is not a study name"),
    (["sweep", "sweeps/ppo_cartpole", "--study", ".."], "'..' is not a study name"),
    (["eval", "RUN", "--episodes", "99999999999999999999"], "must be at most 1,000,000, got 99999999999999999999"),
    (["record", "RUN", "--out", "z.npz", "--episodes", "1000001"], "argument --episodes: must be at most 1,000,000"),
    (["record", "RUN", "--out", "z.npz", "--episodes", "0"], "argument --episodes: must be 1 or more"),
    (["record", "RUN", "--out", "z.npz", "--episodes", "1", "--seed", "-1"], "a seed is 0 to 4,294,967,295, got -1"),
    (["record", "RUN", "--out", "z.npz", "--seed", "4294967296"], "a seed is 0 to 4,294,967,295"),
    (["tournament", "RUN", "--games", "99999999"], "argument --games: must be at most 1,000,000"),
    (["train", "ppo_cartpole", "--seeds", "0,1", "--parallel", "1000001"], "argument --parallel: must be at most"),
    (["train", "ppo_cartpole", "--run-dir", ""], "argument --run-dir: is empty"),
    (["train", "ppo_cartpole", "--run-dir", "  "], "argument --run-dir: is empty"),
    (["compare", "RUN", "--out", ""], "argument --out: is empty"),
    (["export", "RUN", "--format", "sb3", "-o", ""], "argument -o/--out: is empty"),
    (["import-zoo", "ppo", "CartPole-v1", "--file", ""], "argument --file: is empty"),
    (["eval", "RUN", "--checkpoint", ""], "argument --checkpoint: is empty"),
    (["compare", "RUN", "--threshold", "nan"], "argument --threshold: expected a finite number, got 'nan'"),
])
def test_bad_counts_seeds_and_empty_values_are_refused_as_arguments(args, phrase, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and phrase in " ".join(err.split()), err
    assert not any(tmp_path.iterdir())


def test_a_non_ascii_digit_is_not_a_move_and_q_quits_with_exit_0(monkeypatch, capsys):
    from io import StringIO

    import numpy as np
    from rich.console import Console

    from rlgen.agents.selfplay import play

    console = Console(file=StringIO(), width=200, color_system=None)
    answers = iter(["²", "٣", "3"])  # str.isdigit takes both; int("²") raises
    assert play._ask_move(np.ones(9, bool), lambda prompt: next(answers), console) == 2
    assert console.file.getvalue().count("is not a move") == 2
    with pytest.raises(play.Quit):
        play._ask_move(np.ones(9, bool), lambda prompt: "q", console)

    class Exp:
        label, checkpoint = "fake", "best"

        def close(self):
            pass

    def quit_at_once(exp, seat):
        raise play.Quit

    monkeypatch.setattr(play, "restore", lambda *a, **k: Exp())
    monkeypatch.setattr(play, "play_human", quit_at_once)
    assert main(["play", "RUN"]) == 0
    err = capsys.readouterr().err
    assert "you quit" in err and "aborted" not in err


def test_every_command_of_the_parser_has_its_function_and_no_other():
    from rlgen.cli import COMMANDS, _parser

    assert set(_parser()._subparsers._group_actions[0].choices) == set(COMMANDS)


def test_every_command_has_help_with_examples_of_itself(capsys):
    """README: `rlgen --help`, and every command has -h with examples."""
    from rlgen.cli import _parser

    commands = list(_parser()._subparsers._group_actions[0].choices)
    assert {"train", "eval", "inspect", "export", "import-zoo", "record", "compare", "sweep", "play", "tournament",
            "list"} <= set(commands)
    for command in commands:
        with pytest.raises(SystemExit) as done:
            main([command, "-h"])
        assert done.value.code == 0
        shown = capsys.readouterr().out
        examples = shown.split("\nexamples:\n", 1)[-1].splitlines() if "\nexamples:\n" in shown else []
        assert any(line.split()[:2] == ["rlgen", command] for line in examples), f"rlgen {command} -h: no example"


def test_list_all_names_the_atari_ids_when_ale_py_is_installed():
    """ale_py registers its ids only when imported: `--all` imports it, as a config naming one does."""
    import importlib.util

    import pytest

    if importlib.util.find_spec("ale_py") is None:
        pytest.skip("rlgen[atari] not installed")
    out = subprocess.run([sys.executable, "-m", "rlgen", "list", "--all"], capture_output=True, text=True,
                         check=True, env={"COLUMNS": "200", "PATH": "", "NO_COLOR": "1"}).stdout
    assert "ALE/Pong-v5" in out and "PongNoFrameskip-v4" in out
    plain = subprocess.run([sys.executable, "-m", "rlgen", "list"], capture_output=True, text=True, check=True,
                           env={"COLUMNS": "200", "PATH": "", "NO_COLOR": "1"}).stdout
    assert "ALE/Pong-v5" not in plain  # the default listing keeps gymnasium's own families and rlgen's


def test_list_all_with_a_broken_ale_py_lists_the_rest(monkeypatch):
    """ale_py installed but failing to import (a missing system library): listed without ALE's ids."""
    import importlib
    import importlib.util

    from rlgen import listing

    real_import, real_find = importlib.import_module, importlib.util.find_spec

    def broken(name, *args):
        if name == "ale_py":
            raise ImportError("libSDL2-2.0.so.0: cannot open shared object file")
        return real_import(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "ale_py" else real_find(name, *a))
    monkeypatch.setattr(importlib, "import_module", broken)
    assert "CartPole-v1" in listing.env_ids(True)


def test_a_plugins_env_ids_are_listed_with_its_name_whatever_their_form(monkeypatch):
    """An id without a namespace is listed too, and marked with its distribution as other tables
    mark a plugin's names; rlgen's and gymnasium's own carry no mark."""
    import gymnasium as gym

    from rlgen import listing, registry

    registry.load_env_packages()
    monkeypatch.setitem(gym.registry, "PluginCorridor-v0", gym.spec("CartPole-v1"))
    monkeypatch.setitem(registry._env_id_packages, "PluginCorridor-v0", registry.Entry("plugin", "plugin.envs", "aaa-plugin"))
    ids = listing.plain_listing().split("envs (gymnasium ids)\n")[1].split("  (every id")[0].split(", ")
    assert "PluginCorridor-v0 [aaa-plugin]" in ids
    assert "rlgen/Identity-v0" in ids and "CartPole-v1" in ids


def test_a_key_given_twice_with_other_values_is_warned_of(tmp_path, capsys):
    """OmegaConf keeps the last value: train.total_steps=5 train.total_steps=6 trained 6 without a word."""
    args = ["train", "ppo_cartpole", "--run-dir", str(tmp_path / "run"), "train.total_steps=5", "seed=1",
            "train.total_steps=6", "seed=1", "logging.wandb.mode=disabled", "train.progress=false"]
    assert main(args) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: train.total_steps is given 2 times (5, then 6): the last, 6, is used" in err
    assert "seed is given" not in err  # the same value twice changes nothing


def test_import_zoo_makes_the_folder_of_its_output_as_export_does_and_refuses_a_file_in_the_way(tmp_path, capsys):
    convert = ["import-zoo", "ppo", "CartPole-v1", "--file", str(tmp_path / "mine.yml")]
    (tmp_path / "mine.yml").write_text("CartPole-v1:\n  n_timesteps: 1e4\n  policy: MlpPolicy\n")
    out = tmp_path / "new" / "deeper" / "ppo.yaml"
    assert main([*convert, "-o", str(out)]) == 0
    assert "name: zoo_ppo_CartPole-v1" in out.read_text()
    (tmp_path / "afile").write_text("mine\n")
    capsys.readouterr()
    assert main([*convert, "-o", str(tmp_path / "afile" / "x.yaml")]) == 2
    assert capsys.readouterr().err.strip() == (f"error: -o {tmp_path / 'afile' / 'x.yaml'}: {tmp_path / 'afile'} is a "
                                               "file, so no folder can hold the config: give another path")
    assert (tmp_path / "afile").read_text() == "mine\n"
