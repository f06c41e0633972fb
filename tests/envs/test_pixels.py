"""BinaryFrames: MinAtar-style (H, W, C) boolean frames -> channels-first uint8 images for the CNN."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first

import rlgen
from rlgen.envs.pixels import BinaryFrames
from rlgen.errors import RlgenError
from tests.bench import load


class Blocks(gym.Env):
    """A MinAtar lookalike: 10x10 frames with 4 boolean channels, 3 actions, 20-step episodes."""

    observation_space = gym.spaces.Box(0.0, 1.0, (10, 10, 4), dtype=bool)
    action_space = gym.spaces.Discrete(3)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def step(self, action):
        self.t += 1
        return self._frame(), float(action == 1), self.t >= 20, False, {}

    def _frame(self):
        frame = np.zeros((10, 10, 4), dtype=bool)
        frame[self.t % 10, 3, self.t % 4] = True  # one lit cell, moving through rows and channels
        return frame


def test_frames_become_channels_first_images():
    env = BinaryFrames(Blocks())
    obs, _ = env.reset(seed=0)
    assert obs.shape == (4, 10, 10) and obs.dtype == np.uint8
    assert set(np.unique(obs)) == {0, 255} and obs[0, 0, 3] == 255 and obs.sum() == 255
    assert is_image_space(env.observation_space) and is_image_space_channels_first(env.observation_space)
    check_env(env)


def test_anything_but_a_3d_box_is_refused():
    with pytest.raises(RlgenError, match=r"\(H, W, C\)"):
        BinaryFrames(gym.make("CartPole-v1"))


def test_ppo_with_a_small_cnn_trains_on_binary_frames(tmp_path):
    """The overrides that benchmarks/gpu.py puts on ppo_cnn_pong for MinAtar, on the lookalike."""
    bench = load("gpu")
    gym.register("rlgen_test/Blocks-v0", entry_point=Blocks)
    small = ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
             "train.total_steps=64", "train.eval_every=64", "train.eval_episodes=2", "train.early_stop.target=null"]
    quiet = ["device=cpu", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "logging.console=false",
             "train.progress=false"]
    run = rlgen.train("ppo_cnn_pong", ["env.id=rlgen_test/Blocks-v0", *bench.MINATAR, *small, *quiet])
    assert run.summary["status"] == "completed" and run.summary["global_step"] == 64
    assert run.summary["final"]["eval/length_mean"] == 20


def test_rgb_frame_makes_uint8_rgb_of_floats_grays_and_small_frames():
    from rlgen.envs.pixels import rgb_frame

    floats = np.zeros((10, 10, 3))
    floats[2, 3] = (1.0, 0.5, 0.0)  # MinAtar's rgb_array: floats in [0, 1]
    out = rgb_frame(floats, min_side=64)
    assert out.dtype == np.uint8 and out.shape == (70, 70, 3)  # 7x each cell, nearest neighbour
    assert tuple(out[2 * 7, 3 * 7]) == (255, 128, 0) and tuple(out[2 * 7 + 6, 3 * 7 + 6]) == (255, 128, 0)
    assert out.sum() == 49 * (255 + 128)
    gray = np.arange(6, dtype=np.uint8).reshape(2, 3)
    assert np.array_equal(rgb_frame(gray), np.repeat(gray[..., None], 3, -1))
    assert np.array_equal(rgb_frame(gray[..., None]), rgb_frame(gray))
    big = np.random.default_rng(0).integers(0, 256, (400, 600, 3), dtype=np.uint8)
    assert rgb_frame(big, min_side=64) is not big and np.array_equal(rgb_frame(big, min_side=64), big)
    with pytest.raises(RlgenError, match=r"render\(\) gave float64 of shape \(3,\)"):
        rgb_frame(np.zeros(3))


def test_minatar_films_in_uint8_rgb_a_player_shows(tmp_path):
    """MinAtar renders (10, 10, 3) floats in [0, 1]: RecordVideo wrote them as bytes 0 and 1, black."""
    pytest.importorskip("minatar")
    from rlgen.envs import make_env_fn
    from rlgen.envs.pixels import RgbRender

    env = make_env_fn("MinAtar/Breakout-v1", wrappers=[{"RecordVideo": {"video_folder": str(tmp_path / "v")}}],
                      render_mode="rgb_array")()
    env.reset(seed=0)
    filmed, own = env.env.render(), env.env.env.render()  # what RecordVideo films; the env's own render
    env.close()
    assert isinstance(env.env, RgbRender)  # right beneath RecordVideo: wrappers below see the env's own frames
    assert filmed.dtype == np.uint8 and filmed.shape == (70, 70, 3) and filmed.max() > 100
    assert own.dtype == np.float64 and own.shape == (10, 10, 3)

