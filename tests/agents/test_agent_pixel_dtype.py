"""Agent.predict on a uint8 image policy: SB3 divides image observations by 255 whatever their dtype,
so a frame already scaled to [0, 1] (or values past 255) would reach the CNN as a near-black (or
out-of-range) frame without a word. Such a frame, in any dtype, and booleans are one RlgenError line;
whole numbers in [0, 255] in another dtype are the env's pixels and act as the uint8 frame does."""

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


def _binary_frame() -> np.ndarray:
    frame = np.zeros((4, 10, 10), np.uint8)  # BinaryFrames' channels-first frames: 0 or 255
    frame[1, 2, 3] = 255
    return frame


IMAGE = gym.spaces.Box(0, 255, (4, 10, 10), np.uint8)
SCALED = r"got {} values in \[0, 1\]: pass the frames unscaled \(SB3 divides images by 255 itself\)$"


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int16])
def test_values_0_and_1_are_a_scaled_frame_whatever_their_dtype(dtype):
    """BinaryFrames' {0, 255} divided by 255 is 0 and 1: cast to pixels 0 / 1, SB3 divided them by
    255 again and the policy acted on a black frame without a word, as it would for the same values
    in an int array (the dtype a frame comes in says nothing of its scale)."""
    from rlgen.agents.rl.agent import _in_space_dtype

    with pytest.raises(RlgenError, match=EXPECTED + SCALED.format(np.dtype(dtype).name)):
        _in_space_dtype(IMAGE, (_binary_frame() // 255).astype(dtype))
    assert np.array_equal(_in_space_dtype(IMAGE, _binary_frame().astype(dtype)), _binary_frame())  # unscaled: pixels


@pytest.mark.parametrize("lit", [True, False])
def test_booleans_are_never_pixels(lit):
    from rlgen.agents.rl.agent import _in_space_dtype

    frame = _binary_frame().astype(bool) if lit else np.zeros(IMAGE.shape, bool)
    with pytest.raises(RlgenError, match=EXPECTED + r"got bool values in \[0, [01]\]: booleans are no pixels; "
                                                    r"pass the env's frames$"):
        _in_space_dtype(IMAGE, frame)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_a_black_frame_is_one_in_any_dtype(dtype):
    from rlgen.agents.rl.agent import _in_space_dtype

    out = _in_space_dtype(IMAGE, np.zeros(IMAGE.shape, dtype))
    assert out.dtype == np.uint8 and not out.any()


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
