"""Demonstrations that cannot be read as they are: each is one RlgenError line naming the file (and the
key or field), and from the CLI exit 2 with no run directory. Inputs are tiny CartPole-shaped
datasets made here: `.npz` files of numpy arrays, and Minari datasets made with Minari's own
`create_dataset_from_buffers` in a temporary MINARI_DATASETS_PATH."""

import json

import numpy as np
import pytest

import rlgen.envs.demos as demos_module
from rlgen.cli import main
from rlgen.envs.demos import Demos, read_demos
from rlgen.errors import RlgenError
from tests.agents.imitation.test_bc import _load

EPISODES, LENGTH = 2, 5


def _cartpole_rows(final: bool = True) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per episode (observations, actions) inside CartPole's spaces: LENGTH actions, and LENGTH + 1
    observations (Minari's layout: the final one too), or LENGTH without the final one."""
    rng = np.random.default_rng(0)
    return [(rng.uniform(-0.05, 0.05, (LENGTH + final, 4)).astype(np.float32), rng.integers(0, 2, LENGTH))
            for _ in range(EPISODES)]


def _npz(tmp_path, name="demos", **changes) -> str:
    """A demos .npz of `_cartpole_rows` with `changes` to its entries (None drops one)."""
    rows = _cartpole_rows()
    ends = np.zeros(LENGTH, bool)
    ends[-1] = True
    arrays = {"observations": np.concatenate([obs[:-1] for obs, _ in rows]),
              "next_observations": np.concatenate([obs[1:] for obs, _ in rows]),
              "actions": np.concatenate([act for _, act in rows]), "rewards": np.ones(EPISODES * LENGTH),
              "terminations": np.tile(ends, EPISODES), "truncations": np.zeros(EPISODES * LENGTH, bool),
              "env_id": np.asarray("CartPole-v1"), "expert_return": np.asarray(5.0)}
    arrays.update({k: np.asarray(v) for k, v in changes.items() if v is not None})
    path = tmp_path / f"{name}.npz"
    np.savez(path, **{k: v for k, v in arrays.items() if changes.get(k, 0) is not None})
    return str(path)


def _one_line(error: pytest.ExceptionInfo, *names: str) -> str:
    message = str(error.value)
    assert "\n" not in message and all(name in message for name in names), message
    return message


def test_a_well_formed_npz_loads(tmp_path, capsys):
    demos = _load(_npz(tmp_path), "CartPole-v1")
    assert demos.n_episodes == EPISODES and demos.references["expert_return"] == 5.0
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("key, value, says", [
    ("expert_return", [1.0, 2.0], "an array of shape (2,), not one number"),
    ("expert_return", "abc", "'abc' (str), not a number"),
    ("expert_return", np.nan, "nan, not a finite number"),  # refused as the config's demos.expert_return refuses it
    ("random_return", -np.inf, "-inf, not a finite number"),
    ("random_return", "x", "'x' (str), not a number"),
    ("env_spec", "not json", "is not a readable EnvSpec JSON: not JSON"),
    ("env_spec", '{"id": "CartPole-v1", "additional_wrappers": [1, 2]}', "additional_wrappers[0] 1 is not a wrapper"),
    ("env_spec", '{"id": "CartPole-v1", "additional_wrappers": [{"kwargs": {}}]}', "is not a wrapper spec"),
    ("env_spec", '["CartPole-v1"]', "not an EnvSpec JSON object"),
    ("env_id", 5, "not one string"),
])
def test_npz_metadata_that_is_not_one_value_of_its_kind_is_one_line_naming_the_file_and_key(tmp_path, key, value, says):
    path = _npz(tmp_path, **{key: value})
    with pytest.raises(RlgenError) as e:
        _load(path, "CartPole-v1")
    _one_line(e, path, f"'{key}'", says)


# --- what a plugin format's reader returns ---------------------------------------------------------


class _Reader:
    """A demo format whose read() returns `made()`, as a plugin's might."""

    def __init__(self, made):
        self.made = made

    def read(self, path):
        return self.made()


@pytest.mark.parametrize("key, value, says", [
    ("rewards", np.array(["a"] * EPISODES * LENGTH), "'rewards' holds text values, not numbers"),
    ("rewards", np.r_[np.ones(7), np.inf, np.ones(2)], "'rewards' holds inf at row 7 (1 such rows); rewards must be finite"),
    ("terminations", np.full(EPISODES * LENGTH, 0.5), "'terminations' holds 0.5 at row 0 (10 such rows); episode flags "
                                                      "are booleans (or 0 and 1)"),
    ("truncations", np.array(["no"] * EPISODES * LENGTH), "'truncations' holds text values, not numbers"),
])
def test_npz_rewards_and_flags_that_are_not_numbers_name_the_file_and_key(tmp_path, key, value, says):
    """Before, text rewards were a ValueError traceback, and flags of 0.5 or text read as episode ends."""
    path = _npz(tmp_path, **{key: value})
    with pytest.raises(RlgenError) as e:
        read_demos(path)
    _one_line(e, path, says)


def test_npz_flags_of_zero_and_one_are_read_as_booleans(tmp_path):
    ends = np.tile(np.r_[np.zeros(LENGTH - 1), 1.0], EPISODES)  # D4RL writes float 0/1 flags
    assert read_demos(_npz(tmp_path, terminations=ends)).n_episodes == EPISODES


def _uneven() -> Demos:
    return Demos(np.zeros((3, 4)), np.zeros(2), np.zeros((3, 4)), np.zeros(3), np.zeros(3, bool), np.zeros(3, bool),
                 np.array([3]))


def _one_step(**metadata) -> Demos:
    return Demos(np.zeros((1, 4)), np.zeros(1), np.zeros((1, 4)), np.zeros(1), np.ones(1, bool), np.zeros(1, bool),
                 np.array([1]), metadata)


@pytest.mark.parametrize("made, says", [
    (_uneven, "3 observations but {'actions': 2,"),
    (lambda: _one_step(random_return=[0.0, 1.0]), "metadata random_return is [0.0, 1.0] (list), not a number"),
    (lambda: _one_step(env_spec='{"id": 3}'),
     "metadata env_spec is not a readable EnvSpec JSON: its id 3 is not a string"),
])
def test_what_a_plugin_format_reads_wrongly_names_the_demos(tmp_path, monkeypatch, made, says):
    monkeypatch.setattr(demos_module, "demo_format", lambda name: _Reader(made))
    with pytest.raises(RlgenError) as e:
        read_demos(tmp_path / "theirs.dat", "theirs")
    assert _one_line(e, says).startswith(f"demos {tmp_path / 'theirs.dat'}: ")


# --- Minari datasets ------------------------------------------------------------------------------


@pytest.fixture
def minari(tmp_path, monkeypatch):
    """Minari, with its datasets folder in `tmp_path`."""
    module = pytest.importorskip("minari")
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "datasets"))
    return module


def _minari_dataset(minari, dataset_id, env, episodes, rewards=None, terminations=None) -> str:
    """A Minari dataset made by Minari from `episodes` [(observations, actions)], every episode ending
    in termination (or with `terminations`) and rewarded 1 a step (or `rewards`); returns its id."""
    from minari.data_collector import EpisodeBuffer

    buffers = [EpisodeBuffer(id=i, observations=obs, actions=act,
                             rewards=[1.0] * len(act) if rewards is None else rewards,
                             terminations=[False] * (len(act) - 1) + [True] if terminations is None else terminations,
                             truncations=[False] * len(act))
               for i, (obs, act) in enumerate(episodes)]
    minari.create_dataset_from_buffers(dataset_id, buffers, env=env, eval_env=env, algorithm_name="hand",
                                       author="rlgen", author_email="rlgen@example.com", code_permalink="none",
                                       description="test")
    return dataset_id


def test_a_minari_cartpole_dataset_made_here_loads(minari):
    dataset_id = _minari_dataset(minari, "test/good-v0", "CartPole-v1", _cartpole_rows())
    assert _load(dataset_id, "CartPole-v1").n_episodes == EPISODES


def test_minari_tuple_observations_are_refused_like_dict_ones(minari):
    hands = [((np.array([14, 20]), np.array([10, 10]), np.array([0, 0])), np.array([0])) for _ in range(2)]
    dataset_id = _minari_dataset(minari, "test/blackjack-v0", "Blackjack-v1", hands)
    with pytest.raises(RlgenError) as e:
        read_demos(dataset_id)
    _one_line(e, dataset_id, "tuple observations (Tuple(Discrete(32), Discrete(11), Discrete(2))) are not supported",
              "flatten them (gymnasium's FlattenObservation)")


def test_a_minari_episode_without_its_final_observation_names_the_dataset_and_episode(minari):
    dataset_id = _minari_dataset(minari, "test/nofinal-v0", "CartPole-v1", _cartpole_rows(final=False))
    with pytest.raises(RlgenError) as e:
        read_demos(dataset_id)
    _one_line(e, dataset_id, f"episode 0 has {LENGTH} actions but {LENGTH} observations",
              "one more observation than actions (the final one)")


@pytest.mark.parametrize("changes, says", [
    ({"rewards": np.array([b"a"] * LENGTH)}, "'rewards' holds bytes values, not numbers; it needs one number per"),
    ({"rewards": np.full(LENGTH, np.nan)}, "'rewards' holds nan at row 0 (10 such rows); rewards must be finite"),
    ({"terminations": np.array([b"x"] * LENGTH)}, "'terminations' holds bytes values, not numbers; it needs one boolean"),
])
def test_minari_rewards_and_flags_that_are_not_numbers_name_the_dataset_and_the_field(minari, changes, says):
    """Read as they were, text rewards were a ValueError traceback (leaving a run directory behind),
    nan ones trained on with a nan expert return, and text flags read as episode ends."""
    dataset_id = _minari_dataset(minari, "test/values-v0", "CartPole-v1", _cartpole_rows(), **changes)
    with pytest.raises(RlgenError) as e:
        read_demos(dataset_id)
    _one_line(e, dataset_id, says)


@pytest.mark.parametrize("field, value, says", [
    ("ref_max_score", "abc", "'abc' (str), not a number"),
    ("ref_min_score", [1, 2], "[1, 2] (list), not a number"),
    ("ref_max_score", float("nan"), "nan, not a finite number"),
])
def test_a_minari_reference_score_that_is_not_a_number_names_metadata_json_and_the_field(minari, tmp_path, field,
                                                                                        value, says):
    dataset_id = _minari_dataset(minari, "test/refs-v0", "CartPole-v1", _cartpole_rows())
    file = tmp_path / "datasets" / dataset_id / "data" / "metadata.json"
    file.write_text(json.dumps({**json.loads(file.read_text()), field: value}))
    with pytest.raises(RlgenError) as e:
        read_demos(dataset_id)
    _one_line(e, str(file), field, says)


# --- from the command line ------------------------------------------------------------------------


def test_the_cli_refuses_bad_demos_with_exit_2_one_line_and_no_run_directory(tmp_path, capsys):
    path = _npz(tmp_path, expert_return=np.nan)
    runs = tmp_path / "runs"
    assert main(["train", "bc_cartpole", f"demos.path={path}", f"logging.dir={runs}", "logging.wandb.mode=disabled",
                 "train.progress=false", "logging.console=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "Traceback" not in err and path in err and "'expert_return' is nan" in err
    assert not runs.exists()


# --- demos against the config ---------------------------------------------------------------------


def test_demos_without_rewards_warn_even_when_the_expert_return_is_known(tmp_path, capsys):
    _load(_npz(tmp_path, rewards=None), "CartPole-v1")  # expert_return 5 in the file: the ratio is defined
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("warning") == 1 and "hold no rewards (zeros stand in)" in err and "5" in err


def test_demos_without_rewards_are_refused_where_env_history_shows_rewards(tmp_path, capsys):
    path = _npz(tmp_path, rewards=None)
    with pytest.raises(RlgenError) as e:  # BC would fit windows of zero rewards, the env shows real ones
        _load(path, "CartPole-v1", history={"length": 3, "rewards": True})
    assert _one_line(e, path, "env.history.rewards").startswith("demos.path: ")
    _load(path, "CartPole-v1", history={"length": 3})  # windows without rewards: the zeros are never read
    runs = tmp_path / "runs"
    assert main(["train", "bc_cartpole", f"demos.path={path}", "demos.episodes=null", "env.history={length: 3, "
                 "rewards: true}", "agent.policy.backbone={type: gru, hidden_size: 8}", f"logging.dir={runs}",
                 "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]) == 2
    assert "holds no rewards" in capsys.readouterr().err and not runs.exists()


def test_more_episodes_than_the_demos_hold_names_demos_episodes(tmp_path, capsys):
    path, runs = _npz(tmp_path), tmp_path / "runs"
    assert main(["train", "bc_cartpole", f"demos.path={path}", f"demos.episodes={EPISODES + 1}", f"logging.dir={runs}",
                 "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"demos.episodes: {EPISODES + 1} episodes asked for, but {path} holds only {EPISODES}" in err
    assert f"lower demos.episodes to {EPISODES} or fewer, or record more" in err and "demos: " not in err
    assert not runs.exists()
