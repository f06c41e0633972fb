"""MinAtar through rlgen: its gymnasium ids, its channel-last boolean frames read by the CNN
backbone, PPO and DQN on them, and its observations as a data source."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlgen
from rlgen.agents.rl.sb3_bridge import BackboneExtractor
from rlgen.envs import check_env_id, ensure_registered
from rlgen.envs.datasets import make_source
from rlgen.envs.minatar import GAMES

pytest.importorskip("minatar")

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
SMALL_CNN = {"type": "cnn", "channels": [16], "kernels": [3], "strides": [1], "hidden": 32}


@pytest.mark.parametrize("game", list(GAMES))
def test_every_game_is_registered_with_its_minimal_action_set(game):
    assert check_env_id(f"MinAtar/{game}-v1") is None
    env = gym.make(ensure_registered(f"MinAtar/{game}-v1"))
    obs, _ = env.reset(seed=0)
    assert obs.shape[:2] == (10, 10) and obs.dtype == np.bool_
    env.close()


def test_a_misspelt_game_gets_a_suggestion():
    assert "did you mean 'MinAtar/Breakout-v1'" in check_env_id("MinAtar/Breakot-v1")


def test_the_cnn_reads_channel_last_boolean_frames_as_channels_first():
    space = gym.spaces.Box(0.0, 1.0, (10, 10, 4), dtype=bool)  # as minatar.gym declares it
    torch.manual_seed(0)
    extractor = BackboneExtractor(space, SMALL_CNN)
    assert extractor.net.in_shape == (4, 10, 10) and extractor.features_dim == 32
    frames = torch.rand(5, 10, 10, 4) > 0.7  # (B, H, W, C) bool
    by_hand = extractor.net(frames.permute(0, 3, 1, 2).float())  # (B, C, H, W) floats
    assert torch.equal(extractor(frames.float()), by_hand)  # SB3 hands bool observations over as floats
    assert torch.equal(extractor.net(frames.permute(0, 3, 1, 2)), by_hand)  # the CNN takes bool itself


@pytest.mark.parametrize("algo,extra", [
    ("ppo", ["agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64"]),
    ("dqn", ["agent.hyperparams={learning_starts: 64, buffer_size: 1000, batch_size: 32, train_freq: 4}"]),
])
def test_ppo_and_dqn_train_a_cnn_on_minatar(algo, extra, tmp_path):
    run = rlgen.train("ppo_minatar_breakout", [*QUIET, f"logging.dir={tmp_path}", f"agent.algo={algo}", "env.n_envs=2",
                                               "agent.policy.net_arch=null", "train.total_steps=256",
                                               "train.eval_every=256", "train.eval_episodes=2", *extra])
    assert run.summary["status"] == "completed" and run.summary["global_step"] >= 256
    with rlgen.load_run(run.run_dir) as trained:
        env = gym.make(ensure_registered("MinAtar/Breakout-v1"))
        obs, _ = env.reset(seed=1)
        assert env.action_space.contains(int(trained.agent().predict(obs)))


def test_observations_become_a_channels_first_image_source():
    source = make_source("observations", env_id="MinAtar/SpaceInvaders-v1", n_frames=50, seed=3)
    assert source.shape == (6, 10, 10) and source.modality == "image"
    x, y = source.sample(8, np.random.default_rng(0))
    assert x.dtype == np.float32 and set(np.unique(x)) <= {0.0, 1.0} and y is None
    again = make_source("observations", env_id="MinAtar/SpaceInvaders-v1", n_frames=50, seed=3)
    assert np.array_equal(source.x, again.x)  # the same frames for the same seed


def test_vector_observations_are_points():
    source = make_source("observations", env_id="CartPole-v1", n_frames=20)
    assert source.shape == (4,) and source.modality == "points"


def test_our_ids_are_minatars_own():
    """rlgen registers MinAtar's ids by import path (no seaborn import at startup): the same ids
    and arguments as minatar.gym.register_envs."""
    import minatar.gym

    ensure_registered("MinAtar/Breakout-v1")
    ours = {i: (s.entry_point, s.kwargs) for i, s in gym.registry.items() if i.startswith("MinAtar/")}
    for env_id in ours:
        del gym.registry[env_id]
    try:
        minatar.gym.register_envs()
        theirs = {i: (s.entry_point, s.kwargs) for i, s in gym.registry.items() if i.startswith("MinAtar/")}
    finally:
        for env_id in theirs:
            del gym.registry[env_id]
        from rlgen.envs.minatar import register

        register()
    assert ours == theirs
