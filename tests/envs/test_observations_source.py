"""The `observations` source gives what an RL policy on the env sees: a Discrete observation (a
FrozenLake cell) as SB3's one-hot, so an autoencoder's encoder trained on it fits the policy's
extractor; a space it cannot give is one line."""

import gymnasium as gym
import numpy as np
import pytest

from rlgen.agents.rl.sb3_bridge import BackboneExtractor
from rlgen.envs.datasets import as_policy_reads, make_source
from rlgen.errors import RlgenError


def test_a_discrete_observation_arrives_one_hot_as_the_policy_reads_it():
    source = make_source("observations", env_id="FrozenLake-v1", n_frames=64, seed=3)
    env = gym.make("FrozenLake-v1")
    env.action_space.seed(3)
    obs, _ = env.reset(seed=3)
    cells = []  # the same random walk, by cell number
    while len(cells) < 64:
        cells.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    assert source.shape == (16,) and source.modality == "points"
    assert np.array_equal(source.x, np.eye(16, dtype=np.float32)[cells])
    extractor = BackboneExtractor(env.observation_space, {"type": "mlp", "hidden": [8]})
    assert extractor.in_shape == source.shape


def test_multi_discrete_observations_are_one_hots_side_by_side():
    space = gym.spaces.MultiDiscrete([3, 2])
    x = as_policy_reads(np.array([[2, 0], [0, 1]]), space)
    assert np.array_equal(x, np.array([[0, 0, 1, 1, 0], [1, 0, 0, 0, 1]], np.float32))


def test_a_tuple_observation_is_refused_in_one_line():
    with pytest.raises(RlgenError, match=r"^data source 'observations': Blackjack-v1 observes Tuple\(.*give "
                                         r"data\.kwargs\.env_id"):
        make_source("observations", env_id="Blackjack-v1", n_frames=8)


def test_uint8_pictures_arrive_scaled_and_channels_first_as_sb3_hands_them_to_a_policy():
    from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/TinyImage-v0: (8, 7, 3) uint8 frames

    source = make_source("observations", env_id="rlgen_test/TinyImage-v0", n_frames=6, seed=1)
    env = gym.make("rlgen_test/TinyImage-v0")
    env.action_space.seed(1)
    obs, _ = env.reset(seed=1)
    frames = []
    while len(frames) < 6:
        frames.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    assert source.shape == (3, 8, 7) and source.modality == "image"
    assert np.allclose(source.x, np.stack(frames).transpose(0, 3, 1, 2) / 255.0)
    import torch
    from stable_baselines3.common.preprocessing import preprocess_obs
    from stable_baselines3.common.vec_env import DummyVecEnv, VecTransposeImage

    venv = VecTransposeImage(DummyVecEnv([lambda: gym.make("rlgen_test/TinyImage-v0")]))  # as SB3 wraps such an env
    seen = preprocess_obs(torch.as_tensor(venv.transpose_observations(np.stack(frames))), venv.observation_space)
    assert np.allclose(seen.numpy(), source.x)  # what SB3's policy reads
