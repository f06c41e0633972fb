"""Image observations in layouts SB3 guesses wrong: channel-last frames stacked past their height,
float frames channels last, 2-D frames without a channel axis.

4 stacked (8, 10, 3) frames are (8, 10, 12), which SB3 reads as 8 channels of 10x12. A new run is
refused with the fixes (fewer frames, fewer channels, larger frames); a run an earlier rlgen trained
on the stacked layout keeps its pipeline: it opens, evaluates and resumes."""

import gymnasium as gym
import numpy as np
import pytest
import yaml
from stable_baselines3.common.vec_env import DummyVecEnv, VecTransposeImage, is_vecenv_wrapped

import rlgen
from rlgen.agents.rl.sb3_bridge import BackboneExtractor
from rlgen.agents.rl.vec import stacked_frames_problem, wrap_vec_env
from rlgen.cli import main
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError

CNN = {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1], "padding": [1], "hidden": 8}
REFUSAL = ("env.frame_stack: 4 stacked (8, 10, 3) frames are (8, 10, 12), and SB3 reads a stack whose 12 channels "
           "are not its smallest axis as channels first, so the CNN would read rows as channels; stack fewer frames, "
           "or make the channels fewer (GrayscaleObservation: {keep_dim: true}) or the frames larger "
           "(ResizeObservation)")


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


def _config(tmp_path, wrappers=(), total=32):
    return {"name": "small_frames", "kind": "rl", "seed": 1,
            "env": {"id": "rlgen_test/SmallFrames-v0", "n_envs": 2, "frame_stack": 4, "wrappers": list(wrappers)},
            "agent": {"algo": "ppo", "policy": {"backbone": CNN}, "hyperparams": {"n_steps": 16, "batch_size": 32}},
            "train": {"total_steps": total, "eval_every": 32, "eval_episodes": 1, "progress": False},
            "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}}


def _box(shape, dtype=np.uint8):
    return gym.spaces.Box(0, 255, shape, dtype)


@pytest.mark.parametrize("space, k, problem", [
    (_box((8, 10, 3)), 4, REFUSAL),
    (_box((8, 10, 3)), 2, None),  # (8, 10, 6): still channels last by SB3's reading, transposed right
    (_box((84, 84, 1)), 4, None),  # Atari's (84, 84, 4): transposed right
    (_box((3, 84, 84)), 4, None),  # channels first: stacked on the channel axis, (12, 84, 84), read right
    (_box((8, 10, 1)), 4, None),  # grayscale: (8, 10, 4), read as channels last, right
    (_box((8, 10, 3)), None, None),  # no frame stack
    (gym.spaces.Box(0.0, 1.0, (8, 10, 3), np.float32), 4, None),  # no image for SB3: float_frames_problem's
])
def test_a_stack_sb3_reads_in_another_layout_is_named_with_the_fixes(space, k, problem):
    assert stacked_frames_problem(space, k) == problem


def _stacked(env, cfg, k):
    vec = wrap_vec_env(DummyVecEnv([lambda: env]), cfg)
    obs = vec.reset()
    for _ in range(k - 1):
        obs = vec.step(np.zeros(1, int))[0]
    return vec, obs[0]


def test_channel_last_frames_stack_as_they_always_did():
    """The pipeline runs trained before were built on: VecFrameStack on the last axis, nothing transposed beneath."""
    vec, obs = _stacked(Frames(), EnvConfig(id="rlgen_test/SmallFrames-v0", frame_stack=4), 4)
    assert vec.observation_space.shape == obs.shape == (8, 10, 12) and not is_vecenv_wrapped(vec, VecTransposeImage)
    assert [int(obs[1, 1, 3 * i]) for i in range(4)] == [0, 1, 2, 3]


def test_a_new_run_stacking_small_channel_last_frames_is_refused(tmp_path, capsys):
    path = tmp_path / "small_frames.yaml"
    path.write_text(yaml.safe_dump(_config(tmp_path)))
    assert main(["train", str(path)]) == 2
    assert capsys.readouterr().err.strip() == f"error: {REFUSAL}"
    assert not (tmp_path / "small_frames").exists()  # refused at setup: no run directory


def test_channels_first_planes_stacked_past_their_height_are_refused_too():
    """BinaryFrames of MinAtar are channels first: 4 stacked (4, 10, 10) are (16, 10, 10), read as channels last."""
    problem = stacked_frames_problem(_box((4, 10, 10)), 4)
    assert problem is not None and "(16, 10, 10)" in problem and "as channels last" in problem
    assert stacked_frames_problem(_box((4, 10, 10)), 2) is None  # (8, 10, 10): read right


def test_a_run_trained_on_the_stacked_layout_opens_evaluates_and_resumes(tmp_path, monkeypatch):
    import rlgen.agents.rl.setup_checks as setup_checks

    with monkeypatch.context() as older_rlgen:  # one that trained these stacks without a word
        older_rlgen.setattr(setup_checks, "stacked_frames_problem", lambda space, k: None)
        run_dir = rlgen.train(_config(tmp_path)).run_dir
    with rlgen.load_run(run_dir) as run:
        agent = run.agent()
        assert agent.model.observation_space.shape == (8, 10, 12)  # what it was trained on
        assert agent.predict(Frames().reset()[0]) in (0, 1)
        assert np.isfinite(run.evaluate(1)["eval/return_mean"])
    resumed = rlgen.train(overrides=["train.total_steps=64"], resume=run_dir)
    assert resumed.summary["status"] == "completed" and resumed.summary["global_step"] == 64


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
