"""The history window (agents/rl/history.py) and its mask through the policy's extractor."""

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rlgen.agents.rl.history import VecHistory, shift_in
from rlgen.agents.rl.sb3_bridge import BackboneExtractor


class Countdown(gym.Env):
    """Observation base + 10 * episode + t; reward t after the step to t; the episode ends at t = length."""

    def __init__(self, base: float, length: int):
        self.base, self.length = base, length
        self.observation_space = gym.spaces.Box(-1e6, 1e6, (1,), np.float32)
        self.action_space = gym.spaces.Discrete(3)
        self.episode, self.t = -1, 0

    def _obs(self):
        return np.array([self.base + 10 * self.episode + self.t], np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.episode, self.t = self.episode + 1, 0
        return self._obs(), {}

    def step(self, action):
        self.t += 1
        return self._obs(), float(self.t), self.t == self.length, False, {}


def row(obs: float, action: int | None = None, reward: float = 0.0) -> list[float]:
    """One window row with previous action and reward: [obs, one-hot action (3), reward, valid]."""
    onehot = [0.0] * 3
    if action is not None:
        onehot[action] = 1.0
    return [obs, *onehot, reward, 1.0]


PAD = [0.0] * 6


def vec(lengths=(2, 3), **history) -> VecHistory:
    fns = [lambda i=i, n=n: Countdown(1000.0 * i, n) for i, n in enumerate(lengths)]
    return VecHistory(DummyVecEnv(fns), **history)


def test_shift_in_drops_the_oldest_row_and_clears_at_starts():
    window = np.arange(12, dtype=np.float32).reshape(2, 3, 2)  # (N=2, k=3, D=2)
    out = shift_in(window, np.array([[-1, -1], [-2, -2]], np.float32), np.array([False, True]))
    np.testing.assert_array_equal(out[0], [[2, 3], [4, 5], [-1, -1]])
    np.testing.assert_array_equal(out[1], [[0, 0], [0, 0], [-2, -2]])


def test_windows_follow_each_env_across_episode_boundaries():
    env = vec(length=3, actions=True, rewards=True)
    assert env.observation_space.shape == (3, 6)
    obs = env.reset()
    np.testing.assert_array_equal(obs[0], [PAD, PAD, row(0)])
    np.testing.assert_array_equal(obs[1], [PAD, PAD, row(1000)])

    obs, _, dones, _ = env.step(np.array([1, 2]))
    np.testing.assert_array_equal(obs[0], [PAD, row(0), row(1, 1, 1.0)])
    np.testing.assert_array_equal(obs[1], [PAD, row(1000), row(1001, 2, 1.0)])
    assert not dones.any()

    obs, _, dones, infos = env.step(np.array([2, 0]))  # env 0 ends its first episode here
    assert dones.tolist() == [True, False]
    np.testing.assert_array_equal(infos[0]["terminal_observation"], [row(0), row(1, 1, 1.0), row(2, 2, 2.0)])
    np.testing.assert_array_equal(obs[0], [PAD, PAD, row(10)])  # a new episode: nothing of the old one
    np.testing.assert_array_equal(obs[1], [row(1000), row(1001, 2, 1.0), row(1002, 0, 2.0)])

    obs, _, dones, infos = env.step(np.array([0, 1]))  # env 1 ends; its window was full
    assert dones.tolist() == [False, True]
    np.testing.assert_array_equal(infos[1]["terminal_observation"],
                                  [row(1001, 2, 1.0), row(1002, 0, 2.0), row(1003, 1, 3.0)])
    np.testing.assert_array_equal(obs[0], [PAD, row(10), row(11, 0, 1.0)])
    np.testing.assert_array_equal(obs[1], [PAD, PAD, row(1010)])


def test_observations_only_window_is_obs_and_flag():
    env = vec(lengths=(2,), length=2)
    assert env.observation_space.shape == (2, 2)
    env.reset()
    env.step(np.array([0]))
    obs, *_ = env.step(np.array([0]))
    np.testing.assert_array_equal(obs[0], [[0, 0], [10, 1]])
    obs, *_ = env.step(np.array([0]))
    np.testing.assert_array_equal(obs[0], [[10, 1], [11, 1]])


def test_box_actions_are_shown_raw():
    base = DummyVecEnv([lambda: gym.make("Pendulum-v1")])
    env = VecHistory(base, length=2, actions=True)
    assert env.observation_space.shape == (2, 3 + 1 + 1)
    env.reset()
    obs, *_ = env.step(np.array([[1.5]], np.float32))
    assert obs[0, -1, 3] == pytest.approx(1.5) and obs[0, -1, 4] == 1.0


class Shown(gym.Env):
    """Observes `values` in turn from `space`, one per step."""

    def __init__(self, space: gym.Space, values: list):
        self.observation_space, self.action_space, self.values = space, gym.spaces.Discrete(2), values

    def reset(self, *, seed=None, options=None):
        self.t = 0
        return np.asarray(self.values[0]), {}

    def step(self, action):
        self.t += 1
        return np.asarray(self.values[self.t]), 0.0, False, False, {}


@pytest.mark.parametrize("space, values, onehots", [
    # each entry one-hot from its own start: -1 of [-1, 1] is column 0, 8 of [5, 8] column 3
    (gym.spaces.MultiDiscrete([3, 4], start=[-1, 5]), [[-1, 8], [1, 5]], [[1, 0, 0, 0, 0, 0, 1], [0, 0, 1, 1, 0, 0, 0]]),
    (gym.spaces.Discrete(3, start=-2), [-2, 0], [[1, 0, 0], [0, 0, 1]]),
])
def test_discrete_observations_are_one_hot_from_their_start(space, values, onehots):
    env = VecHistory(DummyVecEnv([lambda: Shown(space, values)]), length=2)
    assert env.observation_space.shape == (2, len(onehots[0]) + 1)
    first = env.reset()
    np.testing.assert_array_equal(first[0, -1], [*onehots[0], 1])
    second, *_ = env.step(np.array([0]))
    np.testing.assert_array_equal(second[0], [[*onehots[0], 1], [*onehots[1], 1]])


# --- the mask through the extractor ---------------------------------------------------------------


def window_space(steps: int, features: int) -> gym.spaces.Box:
    return gym.spaces.Box(-10, 10, (steps, features + 1), np.float32)  # + the validity flag


def padded(real: torch.Tensor, steps: int, junk: float = 0.0) -> torch.Tensor:
    """(B, n, F) real steps -> (B, steps, F + 1) left-padded window, padding filled with `junk`."""
    batch, n, features = real.shape
    out = torch.full((batch, steps, features + 1), junk)
    out[:, :, -1] = 0.0
    out[:, steps - n :, :-1] = real
    out[:, steps - n :, -1] = 1.0
    return out


@pytest.mark.parametrize("backbone", [{"type": "lstm", "hidden_size": 8}, {"type": "gru", "hidden_size": 8},
                                      {"type": "transformer", "d_model": 8, "n_heads": 2, "ff_dim": 16}])
def test_extractor_ignores_the_padding_before_the_episode_start(backbone):
    torch.manual_seed(0)
    extractor = BackboneExtractor(window_space(6, 3), backbone, masked=True)
    real = torch.randn(4, 2, 3)  # two real steps, four of padding
    clean = extractor(padded(real, 6))
    junk = extractor(padded(real, 6, junk=5.0))
    torch.testing.assert_close(junk, clean)
    torch.testing.assert_close(clean, extractor.net(real))  # the same as the unpadded episode
    # the mask does the work: the same net given the junk without its mask gives other features
    assert not torch.allclose(extractor.net(padded(real, 6, junk=5.0)[..., :-1]), clean, atol=1e-3)


@pytest.mark.parametrize("causal", [True, False])
def test_window_step_t_never_sees_step_t_plus_1(causal):
    """The window at step t (left-padded) gives what step t of the whole episode gives, since a causal
    transformer's step t sees neither the padding nor steps t+1, ...; without the causal mask it differs."""
    torch.manual_seed(0)
    spec = {"type": "transformer", "d_model": 8, "n_heads": 2, "ff_dim": 16, "causal": causal}
    extractor = BackboneExtractor(window_space(5, 3), spec, masked=True)
    episode = torch.randn(1, 5, 3)
    at_t = extractor(padded(episode[:, :3], 5))  # the window at t = 2: [pad, pad, o0, o1, o2]
    extractor.net.pool = "sequence"
    whole = extractor.net(episode)  # (1, 5, 8): every step of the full episode
    assert torch.allclose(at_t, whole[:, 2], atol=1e-5) == causal


class _Recorder(torch.nn.Module):
    """A plugin backbone that records the input shape it was built for; `sequence` is its trait."""

    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        self.in_shape, self.out_dim = in_shape, 2
        self.head = torch.nn.Linear(in_shape[-1], 2)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.head(x if x.dim() == 2 else x[:, -1])


class _SequenceRecorder(_Recorder):
    sequence = True


@pytest.mark.parametrize("cls, in_shape", [(_SequenceRecorder, (6, 3)), (_Recorder, (24,))])
def test_a_plugin_backbone_gets_windows_by_its_sequence_trait(cls, in_shape):
    """Not by its name: a registered class declaring `sequence = True` reads (T, F) windows, any
    other backbone the flattened window."""
    from rlgen.registry import BACKBONES

    BACKBONES.register("test_recorder", cls)
    try:
        extractor = BackboneExtractor(window_space(6, 3), {"type": "test_recorder"}, masked=True)
    finally:
        BACKBONES.unregister("test_recorder")
    assert extractor.net.in_shape == in_shape and extractor.masked == (len(in_shape) == 2)
    assert extractor(padded(torch.randn(4, 2, 3), 6)).shape == (4, 2)


class _NoMaskSequence(torch.nn.Module):
    """A plugin sequence backbone as the README's contract describes one: forward(x), no `mask`."""

    sequence = True

    def __init__(self, in_shape: tuple[int, ...]):
        super().__init__()
        self.in_shape, self.out_dim = tuple(in_shape), 2
        self.head = torch.nn.Linear(in_shape[-1], 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x.mean(1))


def test_a_sequence_backbone_without_mask_reads_the_flag_as_a_feature():
    """It was handed `mask=` all the same: a TypeError at the first rollout. Now it reads the
    window whole, its validity flag the last feature of each step, as an mlp reads it."""
    from rlgen.registry import BACKBONES

    BACKBONES.register("test_no_mask", _NoMaskSequence)
    try:
        extractor = BackboneExtractor(window_space(6, 3), {"type": "test_no_mask"}, masked=True)
    finally:
        BACKBONES.unregister("test_no_mask")
    assert extractor.net.in_shape == (6, 4) and not extractor.masked
    window = padded(torch.randn(4, 2, 3), 6)
    torch.testing.assert_close(extractor(window), extractor.net(window))


def test_a_plugin_sequence_backbone_without_mask_trains_on_a_window(tmp_path, quiet):
    from rlgen.cli import main

    spec = "{type: 'tests.agents.test_history_window:_NoMaskSequence'}"
    assert main(["train", "ppo_lstm_cartpole_novel", *quiet, f"logging.dir={tmp_path}", "env.n_envs=2",
                 "train.total_steps=128", "train.eval_every=128", "train.eval_episodes=1",
                 "agent.hyperparams.batch_size=64", f"agent.policy.backbone={spec}"]) == 0
