"""Demonstrations: recorded episodes round-trip through Minari and .npz, arrays and returns intact; nothing downloads."""

import json

import numpy as np
import pytest

from rlgen.envs import make_env_fn
from rlgen.envs.demos import Demos, format_of, random_return, read_demos, record_episodes, write_demos
from rlgen.errors import RlgenError
from rlgen.registry import DEMOS

ARRAYS = ("observations", "actions", "next_observations", "rewards", "terminations", "truncations", "lengths")


class Balancer:
    """Pushes the cart toward where the pole leans: keeps CartPole up for a while, not forever."""

    def __init__(self):
        self.resets = 0

    def predict(self, obs, reward=0.0, deterministic=True):
        return int(obs[2] + 0.5 * obs[3] > 0)

    def reset(self):
        self.resets += 1


@pytest.fixture(scope="module")
def cartpole_demos():
    policy = Balancer()
    demos = record_episodes(policy, make_env_fn("CartPole-v1"), episodes=3, seed=5)
    assert policy.resets == 3
    return demos.with_metadata(env_id="CartPole-v1", random_return=22.0)


def test_recorded_episodes_are_consistent_transitions(cartpole_demos):
    d = cartpole_demos
    assert d.n_episodes == 3 and len(d.observations) == d.lengths.sum()
    off = d.offsets
    for i in range(3):  # within an episode, each s_t+1 is the next row's s_t; the flags end it
        rows = slice(off[i], off[i + 1])
        assert np.array_equal(d.next_observations[rows][:-1], d.observations[rows][1:])
        assert (d.terminations[rows] | d.truncations[rows])[-1] and not (d.terminations[rows] | d.truncations[rows])[:-1].any()
    np.testing.assert_allclose(d.episode_returns, d.lengths)  # CartPole pays 1 per step
    assert d.metadata["expert_return"] == pytest.approx(d.lengths.mean())
    again = record_episodes(Balancer(), make_env_fn("CartPole-v1"), episodes=3, seed=5)
    assert np.array_equal(again.observations, d.observations)  # seeded: the same episodes


@pytest.mark.parametrize("out", ["dataset", "demos.npz"])
def test_demos_round_trip_with_the_same_arrays_and_returns(cartpole_demos, tmp_path, out):
    path = write_demos(cartpole_demos, tmp_path / out, env_id="CartPole-v1")
    back = read_demos(path)
    assert back.metadata["format"] == ("npz" if out.endswith(".npz") else "minari")
    for key in ARRAYS:
        a, b = getattr(cartpole_demos, key), getattr(back, key)
        assert a.shape == b.shape and np.array_equal(a, b), key
    np.testing.assert_array_equal(back.episode_returns, cartpole_demos.episode_returns)
    for key in ("env_id", "expert_return", "random_return"):
        assert back.metadata[key] == cartpole_demos.metadata[key]


def test_the_minari_dataset_is_minaris_own(cartpole_demos, tmp_path):
    import minari

    write_demos(cartpole_demos, tmp_path / "cartpole-expert", env_id="CartPole-v1")
    dataset = minari.MinariDataset(tmp_path / "cartpole-expert" / "data")
    assert dataset.total_episodes == 3 and dataset.total_steps == len(cartpole_demos.observations)
    episodes = list(dataset.iterate_episodes())
    assert [len(e.actions) for e in episodes] == list(cartpole_demos.lengths)
    np.testing.assert_array_equal(episodes[1].observations[:-1], cartpole_demos.select([1]).observations)
    meta = json.loads((tmp_path / "cartpole-expert" / "data" / "metadata.json").read_text())
    assert meta["ref_max_score"] == cartpole_demos.metadata["expert_return"] and meta["ref_min_score"] == 22.0
    # Minari's own normalized score agrees with rlgen's expert ratio
    score = float(minari.get_normalized_score(dataset, np.array([100.0]))[0])
    assert score == pytest.approx(cartpole_demos.score(100.0))


def test_a_local_minari_dataset_id_is_found_without_downloading(cartpole_demos, tmp_path, monkeypatch):
    write_demos(cartpole_demos, tmp_path / "rlgen" / "cartpole-v0", env_id="CartPole-v1")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path))
    monkeypatch.chdir(tmp_path / "rlgen")  # the id is not a path from here
    assert read_demos("rlgen/cartpole-v0").n_episodes == 3
    with pytest.raises(RlgenError, match="demos not found"):
        read_demos("rlgen/missing-v0")  # no download is attempted


def test_a_plain_npz_with_d4rl_names_is_read(tmp_path):
    n = 5
    np.savez(tmp_path / "d4rl.npz", observations=np.arange(2 * n).reshape(n, 2), actions=np.zeros(n, np.int64),
             next_observations=np.arange(2, 2 * n + 2).reshape(n, 2), rewards=np.ones(n),
             terminals=np.array([0, 1, 0, 0, 0]), timeouts=np.zeros(n))
    d = read_demos(tmp_path / "d4rl.npz")
    assert list(d.lengths) == [2, 3] and d.terminations[1] and d.truncations[-1] is np.False_
    with pytest.raises(RlgenError, match="missing arrays next_observations"):
        np.savez(tmp_path / "bad.npz", observations=np.zeros((2, 2)), actions=np.zeros(2), terminals=np.zeros(2),
                 timeouts=np.zeros(2))
        read_demos(tmp_path / "bad.npz")


def test_first_episodes_score_and_errors(cartpole_demos):
    two = cartpole_demos.first(2)
    assert two.n_episodes == 2 and len(two.observations) == cartpole_demos.lengths[:2].sum()
    with pytest.raises(RlgenError, match="only 3"):
        cartpole_demos.first(4)
    expert = cartpole_demos.metadata["expert_return"]
    assert cartpole_demos.score(expert) == pytest.approx(1.0) and cartpole_demos.score(22.0) == pytest.approx(0.0)
    with pytest.raises(RlgenError, match="one row per transition"):
        Demos(np.zeros((3, 1)), np.zeros(2), np.zeros((3, 1)), np.zeros(3), np.zeros(3, bool), np.zeros(3, bool),
              np.array([3]))


def test_writing_never_overwrites_and_unknown_paths_say_how_to_record(cartpole_demos, tmp_path):
    write_demos(cartpole_demos, tmp_path / "d.npz")
    with pytest.raises(RlgenError, match="never overwritten"):
        write_demos(cartpole_demos, tmp_path / "d.npz")
    with pytest.raises(RlgenError, match="rlgen record"):
        format_of(tmp_path / "nothing-here")
    assert set(DEMOS.names()) >= {"minari", "npz"}


def test_random_return_is_seeded():
    a, b = (random_return(make_env_fn("CartPole-v1"), 5, seed=1) for _ in range(2))
    assert a == b and 10 < a < 60
