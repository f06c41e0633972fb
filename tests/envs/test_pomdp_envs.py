"""The partially observable tasks (envs/pomdp.py): API checks and known answers."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.env_checker import check_env

from rlgen.envs import ensure_registered
from rlgen.envs.pomdp import CueRecallEnv, HideEntries
from rlgen.errors import RlgenError

POMDP_IDS = ["rlgen/CartPoleNoVel-v1", "rlgen/PendulumNoVel-v1", "rlgen/CueRecall-v0"]


def make(env_id: str, **kwargs) -> gym.Env:
    ensure_registered(env_id)
    return gym.make(env_id, **kwargs)


@pytest.mark.parametrize("env_id", POMDP_IDS)
def test_env_passes_check_env(env_id):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SB3's advice about action-space scaling is not a failure
        check_env(make(env_id), warn=True)


def test_cartpole_novel_shows_position_and_angle_only():
    full, hidden = gym.make("CartPole-v1"), make("rlgen/CartPoleNoVel-v1")
    obs_full, _ = full.reset(seed=3)
    obs, _ = hidden.reset(seed=3)
    np.testing.assert_array_equal(obs, obs_full[[0, 2]])
    for _ in range(5):
        obs_full, *_ = full.step(1)
        obs, *_ = hidden.step(1)
    np.testing.assert_array_equal(obs, obs_full[[0, 2]])
    assert hidden.spec.max_episode_steps == 500


def test_pendulum_novel_hides_angular_velocity():
    full, hidden = gym.make("Pendulum-v1"), make("rlgen/PendulumNoVel-v1")
    np.testing.assert_array_equal(hidden.reset(seed=1)[0], full.reset(seed=1)[0][:2])
    assert hidden.observation_space.shape == (2,)


def test_hide_entries_keeps_the_other_entries_and_bounds():
    env = HideEntries(gym.make("CartPole-v1"), [0, -1])  # negative indices count from the end
    np.testing.assert_array_equal(env.keep, [1, 2])
    np.testing.assert_array_equal(env.observation_space.high, gym.make("CartPole-v1").observation_space.high[[1, 2]])
    assert env.observation(np.array([0.0, 1.0, 2.0, 3.0], np.float32)).tolist() == [1.0, 2.0]


@pytest.mark.parametrize("indices", [[4], [1, 1], [0, 1, 2, 3]])
def test_hide_entries_rejects_bad_indices(indices):
    with pytest.raises(RlgenError):
        HideEntries(gym.make("CartPole-v1"), indices)


@pytest.mark.parametrize("indices", [[1.5], 1, ["a"], [True], "13", [4], [-5]])
def test_hide_entries_refuses_what_is_not_a_list_of_entries_in_one_line(indices):
    """1.5 hid nothing and True hid entry 1, silently; 1 and "a" were TypeErrors from inside."""
    with pytest.raises(RlgenError) as e:
        HideEntries(gym.make("CartPole-v1"), indices)
    assert str(e.value) == f"HideEntries: indices must be a list of whole numbers within -4..3, got {indices!r}"


def test_hide_entries_takes_whole_floats_as_yaml_writes_them():
    np.testing.assert_array_equal(HideEntries(gym.make("CartPole-v1"), [1.0, -1]).keep, [0, 2])
    np.testing.assert_array_equal(HideEntries(gym.make("CartPole-v1"), np.array([1, 3])).keep, [0, 2])  # from Python


def run_episode(env: CueRecallEnv, answer) -> tuple[list[np.ndarray], float, int]:
    obs, _ = env.reset()
    seen, total, steps, done = [obs], 0.0, 0, False
    while not done:
        obs, reward, terminated, truncated, _ = env.step(answer(seen))
        seen.append(obs)
        total += reward
        steps += 1
        done = terminated or truncated
    return seen, total, steps


def test_cue_recall_rewards_only_the_right_answer_after_the_delay():
    env = CueRecallEnv(delay=4, n_cues=3)
    env.reset(seed=0)
    remember = lambda seen: int(np.argmax(seen[0][:3]))  # noqa: E731 — the perfect memory policy
    wrong = lambda seen: (int(np.argmax(seen[0][:3])) + 1) % 3  # noqa: E731
    for _ in range(10):
        seen, total, steps = run_episode(env, remember)
        assert (steps, total) == (5, 1.0)
        assert seen[0][:3].sum() == 1 and seen[0][3] == 0  # the cue, no question
        assert all(not o.any() for o in seen[1:4])  # the delay shows nothing
        assert seen[4][3] == 1 and not seen[4][:3].any()  # the question, no cue
        assert run_episode(env, wrong)[1] == 0.0


def test_cue_recall_without_memory_is_chance():
    env = CueRecallEnv(delay=2, n_cues=2)
    env.reset(seed=0)
    wins = [run_episode(env, lambda seen: 0)[1] for _ in range(400)]
    assert 0.4 < np.mean(wins) < 0.6


def test_cue_recall_delay_is_configurable_through_make():
    env = make("rlgen/CueRecall-v0", delay=20, n_cues=4)
    env.reset(seed=0)
    steps = 0
    while not any(env.step(0)[2:4]):
        steps += 1
    assert steps == 20 and env.action_space.n == 4
    with pytest.raises(RlgenError):
        CueRecallEnv(delay=0)


@pytest.mark.parametrize("kwargs, says", [
    ({"delay": 2.5}, "env.kwargs.delay: CueRecall takes a whole number >= 1, got 2.5"),  # was trained as delay 2
    ({"n_cues": 2.5}, "env.kwargs.n_cues: CueRecall takes a whole number >= 2, got 2.5"),  # was Box's TypeError
    ({"delay": 0}, "env.kwargs.delay: CueRecall takes a whole number >= 1, got 0"),
    ({"delay": True}, "env.kwargs.delay: CueRecall takes a whole number >= 1, got True"),
    ({"n_cues": "3"}, "env.kwargs.n_cues: CueRecall takes a whole number >= 2, got '3'"),
])
def test_cue_recall_refuses_what_is_not_a_count_naming_the_kwarg(kwargs, says):
    with pytest.raises(RlgenError) as caught:
        make("rlgen/CueRecall-v0", **kwargs)
    assert str(caught.value) == says


def test_cue_recall_takes_a_whole_float_as_yaml_writes_it():
    env = make("rlgen/CueRecall-v0", delay=3.0, n_cues=2.0)
    assert env.unwrapped.delay == 3 and env.action_space.n == 2
