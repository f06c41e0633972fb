"""What `rlgen record` prints: the env the demonstrations were recorded in, also where the written
dataset keeps no env id (Minari keeps none for an env registered with a class)."""

from __future__ import annotations

import gymnasium as gym
from gymnasium.envs.classic_control.cartpole import CartPoleEnv

import rlgen
from rlgen.cli import main

ENV_ID = "rlgen_test/ClassCartPole-v0"
QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
TINY = [f"env.id={ENV_ID}", "env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
        "train.total_steps=32", "train.eval_every=32", "train.eval_episodes=1", *QUIET]


class ClassCartPole(CartPoleEnv):
    """CartPole registered by its class, not by an import string: no spec Minari can keep."""


def test_a_minari_record_of_an_env_registered_by_class_names_the_env(tmp_path, capsys):
    if ENV_ID not in gym.registry:
        gym.register(ENV_ID, entry_point=ClassCartPole, max_episode_steps=50)
    run_dir = rlgen.train("ppo_cartpole", [*TINY, f"logging.dir={tmp_path}"]).run_dir
    out = tmp_path / "demos"
    assert main(["record", str(run_dir), "--out", str(out), "--episodes", "1"]) == 0
    assert f"steps of {ENV_ID} -> {out}" in capsys.readouterr().err
