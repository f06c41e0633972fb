"""Agent.predict on a uint8 image policy: SB3 divides image observations by 255 whatever their dtype,
so a float frame already scaled to [0, 1] (or values past 255) would reach the CNN as a near-black
(or out-of-range) frame without a word. Such a frame is one RlgenError line; whole numbers in
[0, 255] in another dtype are the env's pixels and act as the uint8 frame does."""

import gymnasium as gym
import numpy as np
import pytest

import rlgen
from rlgen.agents.rl.experiment import RLExperiment
from rlgen.errors import RlgenError
from rlgen.runner import Runner
from tests.agents.rl_helpers import rl_config
from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/TinyImage-v0: (8, 7, 3) uint8 frames

CNN = {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1], "hidden": 8}
PPO = {"n_steps": 8, "batch_size": 16, "n_epochs": 1}


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pix")
    cfg = rl_config(tmp, "ppo", "rlgen_test/TinyImage-v0", n_envs=2, total=16, hyperparams=PPO,
                    agent={"algo": "ppo", "policy": {"backbone": CNN}, "hyperparams": PPO})
    exp = RLExperiment(cfg)
    runner = Runner(cfg, exp)
    runner.run()
    return exp, runner.run_dir


class _Spy:
    """Notes the observation array each `predict` hands the SB3 model."""

    def __init__(self, model):
        self.model, self.policy, self.action_space, self.seen = model, model.policy, model.action_space, []

    def predict(self, obs, **kwargs):
        self.seen.append(np.array(obs))
        return self.model.predict(obs, **kwargs)


def _frame() -> np.ndarray:
    env = gym.make("rlgen_test/TinyImage-v0")
    obs, _ = env.reset(seed=3)
    env.close()
    return obs


BAD = [(lambda f: f / 255.0, r"got float64 values in \[0, 1\]: pass the frames unscaled"),
       (lambda f: np.full(f.shape, 300.0, np.float32), r"got float32 values in \[300, 300\]"),
       (lambda f: f - 0.5, r"got float64 values in \[-0\.5, ")]
EXPECTED = r"^predict: expected uint8 pixels in \[0, 255\], as the env gives them; "


@pytest.mark.parametrize("bad, got", BAD)
def test_a_float_frame_that_is_not_the_envs_pixels_is_refused(image_run, bad, got):
    agent = image_run[0].agent()
    with pytest.raises(RlgenError, match=EXPECTED + got):
        agent.predict(bad(_frame()))


def test_whole_number_pixels_in_another_dtype_act_as_the_uint8_frame(image_run):
    frame = _frame()
    agent = image_run[0].agent()
    agent.model = spy = _Spy(agent.model)
    for obs in (frame, frame.astype(np.float32), frame.astype(np.int64)):
        agent.reset()
        agent.predict(obs)
    assert all(seen.dtype == np.uint8 and np.array_equal(seen, spy.seen[0]) for seen in spy.seen)


def test_a_loaded_run_refuses_the_scaled_frame_too(image_run):
    with rlgen.load_run(image_run[1]) as run:
        with pytest.raises(RlgenError, match=r"expected uint8 pixels in \[0, 255\]"):
            run.agent().predict(_frame() / 255.0)


def test_whole_floats_in_0_1_are_a_scaled_frame_and_refused():
    """BinaryFrames' {0, 255} divided by 255 is whole numbers {0., 1.}: it was cast to pixels 0 / 1,
    which SB3 divided by 255 again, and the policy acted on a black frame without a word."""
    from rlgen.agents.rl.agent import _in_space_dtype

    space = gym.spaces.Box(0, 255, (4, 10, 10), np.uint8)  # BinaryFrames' channels-first frames
    frame = np.zeros(space.shape, np.uint8)
    frame[1, 2, 3] = 255
    with pytest.raises(RlgenError, match=r"got float32 values in \[0, 1\]: pass the frames unscaled"):
        _in_space_dtype(space, frame.astype(np.float32) / 255)
    assert np.array_equal(_in_space_dtype(space, frame.astype(np.float32)), frame)
    assert _in_space_dtype(space, np.zeros(space.shape)).dtype == np.uint8  # a black frame is one either way


@pytest.mark.parametrize("bad", [0.5, 300.0, -1])
def test_a_boolean_space_takes_0_and_1_only(bad):
    from rlgen.agents.rl.agent import _in_space_dtype

    space = gym.spaces.Box(0, 1, (10, 10, 4), bool)  # MinAtar's frames
    obs = np.zeros(space.shape)
    obs[0, 0, 0] = bad
    with pytest.raises(RlgenError, match=r"^predict: expected booleans \(0 or 1\), as the env gives them"):
        _in_space_dtype(space, obs)
    obs[0, 0, 0] = 1
    assert _in_space_dtype(space, obs).dtype == np.bool_
