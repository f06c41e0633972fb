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
