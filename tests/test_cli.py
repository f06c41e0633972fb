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
