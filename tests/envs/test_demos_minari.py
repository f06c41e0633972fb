"""Minari datasets rlgen writes, as Minari itself sees them: their id (listed and loaded from
Minari's datasets folder), the env spec `recover_environment()` rebuilds, and an empty dataset."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from rlgen.envs import EPISODE_STEP_CAP, make_env_fn, step_capped
from rlgen.envs.demo_formats import minari_dataset_id
from rlgen.envs.demos import read_demos, write_demos
from rlgen.envs.recording import record_episodes
from rlgen.errors import RlgenError

minari = pytest.importorskip("minari")

FLAT = ["FlattenObservation"]  # Blackjack's Tuple observations as a Box


class Stick:
    """Blackjack's action 0: every hand is one step."""

    def predict(self, obs, reward=0.0, deterministic=True):
        return 0

    def reset(self):
        pass


@pytest.fixture(scope="module")
def blackjack():
    """Blackjack (no step limit of its own) recorded as `rlgen record` plays it: capped by rlgen."""
    capped = make_env_fn("Blackjack-v1", step_capped("Blackjack-v1", {}, FLAT), FLAT)
    assert capped().spec.max_episode_steps == EPISODE_STEP_CAP  # what the recording env carries
    return record_episodes(Stick(), capped, episodes=3).with_metadata(env_id="Blackjack-v1", random_return=-1.0)


def write(demos, path):
    """`write_demos` with the spaces of the env as recorded, as `rlgen record` gives them."""
    env = make_env_fn(demos.metadata["env_id"], {}, FLAT if demos.metadata["env_id"] == "Blackjack-v1" else [])()
    return write_demos(demos, path, observation_space=env.observation_space, action_space=env.action_space)


@pytest.fixture
def datasets(tmp_path, monkeypatch):
    """Minari's datasets folder, empty, in a temporary directory."""
    root = tmp_path / "minari_datasets"
    root.mkdir()
    monkeypatch.setenv("MINARI_DATASETS_PATH", str(root))
    return root


# --- the dataset's id ----------------------------------------------------------------------------


@pytest.mark.parametrize("folder", ["rlgen/acro-v0", "acro-v3", "rlgen/team/acro-v12"])
def test_a_dataset_recorded_into_minaris_folder_is_listed_and_loaded_by_its_id(blackjack, datasets, folder):
    write(blackjack, datasets / folder)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Minari warns of, and leaves out, a dataset whose folder is not its id
        assert list(minari.list_local_datasets()) == [folder]
        dataset = minari.load_dataset(folder)
    assert dataset.spec.dataset_id == folder and dataset.total_episodes == 3
    assert read_demos(folder).n_episodes == 3  # rlgen finds it by its id too


def test_a_relative_out_inside_minaris_folder_is_named_by_its_path_there(blackjack, datasets, monkeypatch):
    monkeypatch.chdir(datasets / "..")
    write(blackjack, Path(datasets.name) / "rlgen" / "rel-v1")
    assert list(minari.list_local_datasets()) == ["rlgen/rel-v1"]


@pytest.mark.parametrize("folder, like", [
    ("rlgen/acro", "rlgen/acro-v0"),     # Minari's load_dataset crashes on an id without a version
    ("rlgen/fl.v2", "rlgen/fl_v2-v0"),   # '.' is no character of a Minari id
    ("x/acro-v0", "rlgen/acro-v0"),      # a namespace is two characters or more
    ("team/acro-v0-vx", "team/acro-v0-vx-v0"),
])
def test_a_folder_in_minaris_folder_that_is_no_id_is_refused_before_anything_is_written(blackjack, datasets, folder,
                                                                                           like):
    with pytest.raises(RlgenError) as e:
        write(blackjack, datasets / folder)
    message = str(e.value)
    assert "NAMESPACE/NAME-vN" in message and f"(like {datasets / like})" in message and "\n" not in message
    assert str(datasets / folder) in message
    assert list(datasets.iterdir()) == []  # nothing, not even the namespace folder
    assert minari.list_local_datasets() == {}


@pytest.mark.parametrize("folder, dataset_id", [
    ("acro", "rlgen/acro-v0"),
    ("fl-v3", "rlgen/fl-v3"),           # named with a version already: kept, not fl-v3-v0
    ("fl.v2", "rlgen/fl_v2-v0"),        # '.' is no character of a Minari id
    ("my demos (2)", "rlgen/my_demos__2_-v0"),
])
def test_a_dataset_elsewhere_is_named_rlgen_slash_its_folder_with_a_version(blackjack, datasets, tmp_path, folder,
                                                                              dataset_id):
    write(blackjack, tmp_path / "demos" / folder)
    spec = minari.MinariDataset(tmp_path / "demos" / folder / "data").spec  # parses the id: Malformed raised here
    assert spec.dataset_id == dataset_id and spec.total_episodes == 3


def test_a_folder_of_no_name_makes_no_id():
    with pytest.raises(RlgenError, match="name the folder NAME-vN"):
        minari_dataset_id(Path("/"))


# --- the env spec recover_environment() rebuilds -------------------------------------------------


def _time_limits(env):
    limits = []
    while hasattr(env, "env"):
        if type(env).__name__ == "TimeLimit":
            limits.append(env._max_episode_steps)
        env = env.env
    return limits


def test_rlgens_step_cap_is_not_written_as_the_envs_time_limit(blackjack, tmp_path):
    old = json.loads(blackjack.metadata["env_spec"])
    assert old["max_episode_steps"] is None  # the recording env's cap is not the env's
    old["max_episode_steps"] = EPISODE_STEP_CAP  # as rlgen recorded it before
    for demos, name in ((blackjack, "new"), (blackjack.with_metadata(env_spec=json.dumps(old)), "old")):
        dataset = minari.MinariDataset(write(demos, tmp_path / name) / "data")
        assert dataset.spec.env_spec.max_episode_steps is None, name
        env = dataset.recover_environment()
        assert _time_limits(env) == [] and env.spec.kwargs == {"sab": True, "natural": False}, name
    # an env's own limit, or one the config gives, stays: only rlgen's cap on an env without one goes
    for env_id, limit, own in (("CartPole-v1", 500, True), ("CartPole-v1", EPISODE_STEP_CAP, False),
                               ("Blackjack-v1", 50, False)):
        made = make_env_fn(env_id, {} if own else {"max_episode_steps": limit}, FLAT if env_id == "Blackjack-v1" else [])
        demos = record_episodes(Stick(), made, episodes=1).with_metadata(env_id=env_id)
        dataset = minari.MinariDataset(write(demos, tmp_path / f"{env_id}-{limit}") / "data")
        assert dataset.spec.env_spec.max_episode_steps == limit
        assert _time_limits(dataset.recover_environment()) == [limit]


def test_old_and_new_blackjack_demos_match_the_uncapped_training_env(blackjack, tmp_path, capsys):
    from tests.agents.imitation.test_bc import _load

    old = json.loads(blackjack.metadata["env_spec"]) | {"max_episode_steps": EPISODE_STEP_CAP}
    paths = [write(blackjack, tmp_path / "new"), write(blackjack, tmp_path / "new.npz"),
             write(blackjack.with_metadata(env_spec=json.dumps(old)), tmp_path / "old.npz")]
    for path in paths:
        _load(path, "Blackjack-v1", wrappers=FLAT)
        assert capsys.readouterr().err == "", path  # no "recorded with another time limit" warning
    _load(paths[0], "Blackjack-v1", wrappers=FLAT, kwargs={"max_episode_steps": 9})
    assert "max_episode_steps None" in capsys.readouterr().err  # a real difference still warns


# --- an empty dataset ----------------------------------------------------------------------------


def test_a_minari_dataset_of_no_episodes_says_so(tmp_path):
    import gymnasium as gym
    from minari.dataset.minari_storage import MinariStorage

    data = tmp_path / "empty" / "data"
    data.mkdir(parents=True)  # what Minari's own writer leaves for no episodes: metadata and an empty HDF5 file
    storage = MinariStorage.new(data, observation_space=gym.spaces.Box(-1, 1, (3,), np.float32),
                                action_space=gym.spaces.Discrete(2), data_format="hdf5")
    storage.update_metadata({"dataset_id": "rlgen/empty-v0"})
    with pytest.raises(RlgenError) as e:
        read_demos(tmp_path / "empty")
    message = str(e.value)
    assert "holds no episodes" in message and "total_episodes 0" in message and "\n" not in message


def test_record_refuses_a_folder_that_makes_no_id_before_it_opens_the_run(datasets, tmp_path):
    """The refusal comes before any episode is played (or the run is even opened): here the run
    does not exist, and the folder is what is named."""
    import rlgen

    with pytest.raises(RlgenError, match=r"is no Minari id: name the folder NAMESPACE/NAME-vN"):
        rlgen.record(tmp_path / "no_run_here", 1, datasets / "rlgen" / "acro")
    with pytest.raises(RlgenError, match="exists already; demos are never overwritten"):
        (tmp_path / "taken.npz").write_bytes(b"x")
        rlgen.record(tmp_path / "no_run_here", 1, tmp_path / "taken.npz")


def test_without_minari_a_dataset_folder_gets_the_install_hint(monkeypatch, tmp_path):
    """Minari needs Python >= 3.11: the id check must not reach for it before the hint does."""
    import sys

    from rlgen.envs.demos import check_demos_target

    monkeypatch.setitem(sys.modules, "minari", None)
    with pytest.raises(RlgenError, match=r"pip install 'minari\[hdf5\]'"):
        check_demos_target(tmp_path / "ds-out")
