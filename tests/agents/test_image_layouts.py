"""Image observations in layouts SB3 guesses wrong: channel-last frames stacked past their height,
float frames channels last, 2-D frames without a channel axis."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecTransposeImage, is_vecenv_wrapped

import rlgen
from rlgen.agents.rl.sb3_bridge import BackboneExtractor
from rlgen.agents.rl.vec import wrap_vec_env
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError

CNN = {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1], "padding": [1], "hidden": 8}


class Frames(gym.Env):
    """(H, W, C) frames, channel last; frame t is t everywhere, so a stack shows its order."""

    action_space = gym.spaces.Discrete(2)

    def __init__(self, shape=(8, 10, 3)):
        self.observation_space = gym.spaces.Box(0, 255, shape, np.uint8)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def step(self, action):
        self.t += 1
        return self._frame(), float(action == self.t % 2), False, self.t >= 12, {}

    def _frame(self):
        frame = np.full(self.observation_space.shape, self.t, np.uint8)
        frame[0, 0, 0] = 200 * (self.t % 2)
        return frame


if "rlgen_test/SmallFrames-v0" not in gym.registry:
    gym.register(id="rlgen_test/SmallFrames-v0", entry_point=Frames)


def _stacked(shape, k):
    vec = wrap_vec_env(DummyVecEnv([lambda: Frames(shape)]), EnvConfig(id="rlgen_test/SmallFrames-v0", frame_stack=k))
    obs = vec.reset()
    for _ in range(k - 1):
        obs = vec.step(np.zeros(1, int))[0]
    return vec, obs[0]


def test_small_channel_last_frames_stack_channels_first():
    """4 stacked (8, 10, 3) frames were (8, 10, 12): SB3 took the 8 rows for channels and left them
    so, and the CNN convolved over 10x12 "pictures" of the wrong axes, silently."""
    vec, obs = _stacked((8, 10, 3), 4)
    assert vec.observation_space.shape == obs.shape == (12, 8, 10)
    assert [int(obs[3 * i + 1, 1, 1]) for i in range(4)] == [0, 1, 2, 3]  # oldest to newest, 3 channels each


def test_stacks_sb3_already_transposes_keep_their_pipeline():
    """Atari's (84, 84, 1) frames stacked 4 are (84, 84, 4), which SB3 transposes right: runs trained
    so must open and act as before."""
    vec, obs = _stacked((84, 84, 1), 4)
    assert obs.shape == (84, 84, 4) and not is_vecenv_wrapped(vec, VecTransposeImage)


def test_a_run_on_stacked_small_frames_agrees_with_its_agent_and_exports(tmp_path):
    import onnxruntime as ort

    from rlgen.agents.rl.agent import _Feed
    from rlgen.agents.rl.export import DeterministicPolicy
    from rlgen.export import export

    config = {"name": "small_frames", "kind": "rl", "seed": 1,
              "env": {"id": "rlgen_test/SmallFrames-v0", "n_envs": 2, "frame_stack": 4},
              "agent": {"algo": "ppo", "policy": {"backbone": CNN}, "hyperparams": {"n_steps": 16, "batch_size": 32}},
              "train": {"total_steps": 32, "eval_every": 32, "eval_episodes": 1, "progress": False},
              "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}}
    run_dir = rlgen.train(config).run_dir
    (onnx_path,) = export(run_dir, "onnx", tmp_path / "onnx")
    (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    with rlgen.load_run(run_dir) as run:
        agent = run.agent()
        assert agent.model.observation_space.shape == (12, 8, 10)
        # the graph takes the stacks as the pipeline gives them, channels first already: no permute
        # (a permuted stack is still reshaped to (12, 8, 10) and acts, wrongly, without a word)
        assert not DeterministicPolicy.of(run.experiment).channels_last
        env = Frames()
        pipeline = wrap_vec_env(feed := _Feed(env.observation_space, env.action_space), run.config.env)
        rng = np.random.default_rng(0)
        frame, _ = env.reset(seed=0)
        stacks, actions = [], []
        for t in range(10):
            frame = frame.copy()
            frame[2:5, 3:7] = rng.integers(0, 256, (3, 4, 3))
            feed.obs = frame[None]
            stacks.append(np.array((pipeline.reset() if t == 0 else pipeline.step(np.zeros(1, int))[0])[0]))
            actions.append(agent.predict(frame))
    stacks, actions = np.stack(stacks), np.asarray(actions)
    np.testing.assert_array_equal(agent.model.predict(stacks, deterministic=True)[0], actions)
    np.testing.assert_array_equal(ort.InferenceSession(str(onnx_path)).run(None, {"obs": stacks})[0], actions)
    with torch.no_grad():
        np.testing.assert_array_equal(torch.jit.load(str(ts_path))(torch.as_tensor(stacks)).numpy(), actions)


def test_float_frames_channels_last_are_refused_with_the_fix():
    """AtariPreprocessing(scale_obs, grayscale_newaxis) gives (84, 84, 1) floats: read as 84 channels."""
    from rlgen.agents.rl.vec import float_frames_problem

    class Space:  # what the check reads of a vector env
        def __init__(self, shape):
            self.observation_space = gym.spaces.Box(0.0, 1.0, shape, np.float32)

    problem = float_frames_problem(Space((84, 84, 1)), "cnn")
    assert problem is not None and "84 channels of 84x1" in problem and "drop AtariPreprocessing's scale_obs" in problem
    assert float_frames_problem(Space((84, 84, 1)), "mlp") is None  # flattened: no axes to mistake
    assert float_frames_problem(Space((3, 9, 9)), "cnn") is None  # a board's planes, channels first: as given
    assert BackboneExtractor(gym.spaces.Box(0.0, 1.0, (3, 9, 9), np.float32), CNN).in_shape == (3, 9, 9)


def test_two_dimensional_frames_name_their_shape_and_the_channel_axis():
    space = gym.spaces.Box(0, 255, (84, 84), np.uint8)  # AtariPreprocessing without grayscale_newaxis
    with pytest.raises(RlgenError, match=r"2-D frames \(84, 84\) with no channel axis; .*grayscale_newaxis: true"):
        BackboneExtractor(space, CNN)
