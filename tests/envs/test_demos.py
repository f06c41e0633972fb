"""Demonstrations: recorded episodes round-trip through Minari and .npz, arrays and returns intact; nothing downloads."""

import json
import warnings
from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlgen.envs import make_env_fn
from rlgen.envs.demos import Demos, format_of, read_demos, write_demos
from rlgen.envs.recording import random_return, record_episodes
from rlgen.errors import RlgenError, RlgenWarning
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


class _JsonFormat:
    """A plugin's format whose reader expects keys a file may not have."""

    def matches(self, path):
        return path.suffix == ".json"

    def read(self, path):
        return json.loads(path.read_text())["episodes"]

    def write(self, demos, path, **kwargs): ...


def test_a_format_whose_reader_raises_is_one_line_and_no_run(tmp_path, quiet, capsys):
    from rlgen.cli import main

    demos = tmp_path / "demos.json"
    demos.write_text("{}")
    DEMOS.register("test_json", _JsonFormat)
    try:
        assert main(["train", "bc_cartpole", f"demos.path={demos}", f"logging.dir={tmp_path / 'runs'}", *quiet]) == 2
    finally:
        DEMOS.unregister("test_json")
    err = " ".join(capsys.readouterr().err.split())
    assert err.endswith(f"demos {demos}: format 'test_json' could not read it: KeyError: 'episodes'")
    assert "Traceback" not in err and not (tmp_path / "runs").exists()


def test_random_return_is_seeded():
    a, b = (random_return(make_env_fn("CartPole-v1"), 5, seed=1) for _ in range(2))
    assert a == b and 10 < a < 60


class _Sampler:
    """A stochastic policy drawing from all an SB3 agent may sample with: torch's and numpy's global
    RNGs (PPO's distributions, DQN's epsilon coin) and its model's action space (DQN's random actions)."""

    def __init__(self):
        self.model = SimpleNamespace(action_space=gym.spaces.Discrete(2, seed=7))

    def predict(self, obs, reward=0.0, deterministic=True):
        return int(torch.rand(()) < 0.5) ^ int(np.random.rand() < 0.5) ^ int(self.model.action_space.sample())

    def reset(self):
        pass


def test_a_stochastic_recording_is_seeded_per_episode_and_the_callers_rngs_are_kept():
    policy = _Sampler()
    torch.manual_seed(123), np.random.seed(123)
    space = policy.model.action_space.np_random.bit_generator.state
    a = record_episodes(policy, make_env_fn("CartPole-v1"), episodes=2, seed=0, deterministic=False)
    drawn = torch.rand(3), np.random.rand(3)
    torch.manual_seed(123), np.random.seed(123)
    assert torch.equal(drawn[0], torch.rand(3)) and np.array_equal(drawn[1], np.random.rand(3))  # the caller's, as before
    assert policy.model.action_space.np_random.bit_generator.state == space  # the model's too
    b = record_episodes(policy, make_env_fn("CartPole-v1"), episodes=2, seed=0, deterministic=False)
    assert np.array_equal(a.actions, b.actions) and np.array_equal(a.lengths, b.lengths)
    second = record_episodes(_Sampler(), make_env_fn("CartPole-v1"), episodes=1, seed=1, deterministic=False)
    assert np.array_equal(second.actions, a.actions[a.lengths[0]:])  # episode i is seeded seed + i, whatever came before


class _Up:
    """Action 0 (up in CliffWalking, left in FrozenLake): stays on the top row, or at the start, forever."""

    def predict(self, obs, reward=0.0, deterministic=True):
        return 0

    def reset(self):
        pass


def test_episodes_cut_at_the_step_cap_are_warned_of_once(monkeypatch):
    import rlgen.envs as envs
    import rlgen.envs.demos as demos
    import rlgen.envs.recording as recording

    for module in (envs, demos, recording):
        monkeypatch.setattr(module, "EPISODE_STEP_CAP", 20)
    make = make_env_fn("CliffWalking-v1", envs.step_capped("CliffWalking-v1", {}, []))  # no limit of its own
    with pytest.warns(RlgenWarning) as said:
        recorded = record_episodes(_Up(), make, episodes=2)
    assert recorded.lengths.tolist() == [20, 20] and recorded.truncations[[19, 39]].all()
    assert [str(w.message) for w in said] == [
        "env 'CliffWalking-v1' has no step limit of its own: 2 of 2 recorded episodes were cut (truncated) at 20 "
        "steps; choose the limit with env.kwargs.max_episode_steps: N"]
    for module in (envs, demos, recording):
        monkeypatch.setattr(module, "EPISODE_STEP_CAP", 100)
    with warnings.catch_warnings():  # FrozenLake's own limit of 100 is the env's: nothing to say
        warnings.simplefilter("error")
        assert record_episodes(_Up(), make_env_fn("FrozenLake-v1", {"is_slippery": False}), episodes=1).lengths[0] == 100


# --- recording and replaying through the policy's own pipeline ------------------------------------


class _Seen:
    """An SB3 model that notes the tensor its policy reads at each `predict` (after SB3's own transpose)."""

    def __init__(self, model):
        self.model, self.policy, self.action_space, self.seen = model, model.policy, model.action_space, []

    def predict(self, obs, **kwargs):
        self.seen.append(self.policy.obs_to_tensor(obs)[0][0].cpu().numpy().copy())  # its buffer is reused
        return self.model.predict(obs, **kwargs)


@pytest.mark.parametrize("frame_stack", [0, 2])
def test_replayed_image_observations_are_what_the_policy_sees(frame_stack):
    from stable_baselines3 import PPO

    from rlgen.agents.rl.agent import Agent, replay_observations
    from rlgen.agents.rl.vec import make_vec_env
    from rlgen.config import EnvConfig
    from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/TinyImage-v0

    cfg = EnvConfig(id="rlgen_test/TinyImage-v0", frame_stack=frame_stack)  # (8, 7, 3): channels last
    venv = make_vec_env(cfg, seed=0, training=False)
    model = PPO("MlpPolicy", venv, n_steps=8, batch_size=8, seed=0)  # SB3 wraps it in VecTransposeImage
    assert model.observation_space.shape[0] == 3 * max(1, frame_stack)  # channels first
    seen = _Seen(model)
    demos = record_episodes(Agent(seen, cfg), make_env_fn(cfg.id), episodes=2, seed=3)
    raw = make_env_fn(cfg.id)()
    before, after = replay_observations(cfg, raw.observation_space, raw.action_space, demos.observations,
                                        demos.actions, demos.next_observations, demos.rewards, demos.lengths)
    assert before.shape[1:] == model.observation_space.shape and after.shape == before.shape
    np.testing.assert_array_equal(before, np.stack(seen.seen))  # BC trains on exactly what predict reads
    venv.close()


def test_recording_a_maskable_policy_passes_the_env_action_masks():
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rlgen.agents.rl.agent import Agent
    from rlgen.config import EnvConfig
    from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/OneLegalAction-v0

    cfg = EnvConfig(id="rlgen_test/OneLegalAction-v0")
    model = MaskablePPO("MlpPolicy", DummyVecEnv([make_env_fn(cfg.id)]), n_steps=16, batch_size=16, seed=0)
    agent = Agent(model, cfg)
    assert agent.takes_action_masks
    demos = record_episodes(agent, make_env_fn(cfg.id), episodes=3, seed=0)
    # untrained, it would pick forbidden actions most of the time; masked, only the legal one
    np.testing.assert_array_equal(demos.actions, demos.observations.argmax(1))
    assert (demos.rewards == 1.0).all()


def test_demos_keep_the_env_as_made_kwargs_and_wrappers(tmp_path, capsys):
    import gymnasium as gym
    import minari

    class Zero:
        def predict(self, obs, reward=0.0, deterministic=True):
            return np.zeros(1, np.float32)

        def reset(self):
            pass

    make = make_env_fn("Pendulum-v1", {"g": 9.0}, [{"RescaleAction": {"min_action": -0.5, "max_action": 0.5}}])
    demos = record_episodes(Zero(), make, episodes=1)
    write_demos(demos, tmp_path / "dataset", env_id="Pendulum-v1")
    env = minari.MinariDataset(tmp_path / "dataset" / "data").recover_environment()
    assert env.unwrapped.g == 9.0 and env.action_space.high[0] == 0.5  # not the registered Pendulum-v1
    for back in (read_demos(tmp_path / "dataset"), read_demos(write_demos(demos, tmp_path / "d.npz"))):
        spec = json.loads(back.metadata["env_spec"])
        assert spec["kwargs"]["g"] == 9.0 and [w["name"] for w in spec["additional_wrappers"]] == ["RescaleAction"]

    class Opaque(gym.Wrapper):  # records no constructor arguments: gymnasium cannot rebuild it
        pass

    write_demos(record_episodes(Zero(), lambda: Opaque(make()), episodes=1), tmp_path / "opaque", env_id="Pendulum-v1")
    err = capsys.readouterr().err
    assert "lacks wrapper Opaque" in err and len([line for line in err.splitlines() if "warning" in line]) == 1
    assert "Opaque" not in str(minari.MinariDataset(tmp_path / "opaque" / "data").recover_environment())


@pytest.mark.parametrize("arrays, says", [
    ({"observations": np.float32(1.0)}, "'observations' is a single value"),
    ({"observations": np.zeros((0, 4)), "actions": np.zeros(0), "next_observations": np.zeros((0, 4)),
      "terminations": np.zeros(0, bool), "truncations": np.zeros(0, bool)}, "no transitions"),
    ({"terminations": np.zeros((6, 2), bool)}, "'terminations' has shape (6, 2)"),
    ({"truncations": np.zeros(3, bool)}, "'truncations' has shape (3,), but there are 6 observations"),
    ({"rewards": np.zeros(2)}, "'rewards' has shape (2,)"),
])
def test_a_malformed_npz_is_one_line_naming_the_array_and_the_file(tmp_path, arrays, says):
    n = 6
    good = {"observations": np.zeros((n, 4)), "actions": np.zeros(n), "next_observations": np.zeros((n, 4)),
            "rewards": np.zeros(n), "terminations": np.zeros(n, bool), "truncations": np.zeros(n, bool)}
    np.savez(tmp_path / "bad.npz", **{**good, **arrays})
    with pytest.raises(RlgenError) as e:
        read_demos(tmp_path / "bad.npz")
    assert says in str(e.value) and str(tmp_path / "bad.npz") in str(e.value) and "\n" not in str(e.value)


def test_a_npz_written_without_the_suffix_is_recognised_by_its_content(cartpole_demos, tmp_path):
    path = write_demos(cartpole_demos, tmp_path / "plainname", "npz")
    assert path == tmp_path / "plainname" and format_of(path) == "npz"
    assert read_demos(path).n_episodes == cartpole_demos.n_episodes
    (tmp_path / "text").write_text("not demos")
    with pytest.raises(RlgenError, match="no demo format recognises it"):
        format_of(tmp_path / "text")


# --- a Minari dataset is data: opening one never imports or calls what its metadata names ----------


def _crafted(good, to, change):
    """A copy of the Minari dataset `good` whose metadata.json `change(meta, env_spec)` edits."""
    import shutil

    shutil.copytree(good, to)
    file = to / "data" / "metadata.json"
    meta = json.loads(file.read_text())
    spec = json.loads(meta["env_spec"])
    written = meta["env_spec"]
    change(meta, spec)
    if meta.get("env_spec") == written:  # else `change` wrote the text itself
        meta["env_spec"] = json.dumps(spec)
    file.write_text(json.dumps(meta))
    return to


@pytest.fixture(scope="module")
def good_minari(cartpole_demos, tmp_path_factory):
    return write_demos(cartpole_demos, tmp_path_factory.mktemp("good") / "dataset", env_id="CartPole-v1")


def test_a_minari_dataset_without_its_spaces_is_refused_before_its_env_spec_runs(good_minari, tmp_path):
    import shlex

    marker = tmp_path / "PWNED"

    def attack(meta, spec):  # the hunter's dataset: Minari would gym.make(env_spec) to learn the spaces
        del meta["observation_space"], meta["action_space"]
        spec.update(entry_point="subprocess:getoutput", kwargs={"cmd": f"touch {shlex.quote(str(marker))}"},
                    max_episode_steps=None, disable_env_checker=True)

    evil = _crafted(good_minari, tmp_path / "evil", attack)
    assert format_of(evil) == "minari"
    with pytest.raises(RlgenError) as e:
        read_demos(evil)
    message = str(e.value)
    assert str(evil / "data" / "metadata.json") in message and "observation_space" in message and "\n" not in message
    assert not marker.exists()


def _smuggled(meta, spec):
    """`entry_point` twice, the registered one last (json.loads keeps it); once Minari cuts
    '"order_enforce": true,' out of the text, the foreign one is the only `entry_point` left."""
    good = spec.pop("entry_point")
    meta["env_spec"] = (json.dumps(spec)[:-1] + ', "entry_point": "subprocess:getoutput", "k\\"order_enforce": true,'
                        f'"entry_point": "{good}"}}')
    assert json.loads(meta["env_spec"])["entry_point"] == good


def _set(path, value):
    def change(meta, spec):
        if path[0] == "eval_env_spec":
            meta["eval_env_spec"] = json.dumps({**spec, **value})
        elif path[0] == "additional_wrappers":
            spec["additional_wrappers"] = [value]
        else:
            spec[path[0]] = value
    return change


@pytest.mark.parametrize("change, says", [
    pytest.param(_set(["entry_point"], "subprocess:getoutput"), "entry_point 'subprocess:getoutput' for 'CartPole-v1'",
                 id="foreign-entry-point"),
    pytest.param(_set(["entry_point"], "gymnasium.envs.classic_control.pendulum:PendulumEnv"),
                 "its registered entry_point", id="another-envs-entry-point"),
    pytest.param(_set(["vector_entry_point"], "os:system"), "vector_entry_point 'os:system'", id="vector-entry-point"),
    pytest.param(_set(["id"], "rlgen/CartPoleNoVel-v1"), "'rlgen/CartPoleNoVel-v1', but its registered entry_point",
                 id="rlgen-id-foreign-entry-point"),
    pytest.param(_set(["id"], "Evil-v0"), "not a registered gymnasium id", id="unregistered-id"),
    pytest.param(_set(["id"], "os:Evil-v0"), "not a registered gymnasium id", id="module-id"),
    pytest.param(_set(["eval_env_spec"], {"entry_point": "subprocess:getoutput"}), "eval_env_spec: entry_point",
                 id="eval-env-spec"),
    pytest.param(_smuggled, "env_spec: not JSON without repeated keys (key 'entry_point' appears twice)",
                 id="key-twice"),
    pytest.param(_set(["additional_wrappers"], {"name": "X", "entry_point": "subprocess:Popen", "kwargs": {}}),
                 "additional wrapper 'subprocess:Popen'", id="foreign-wrapper"),
    pytest.param(_set(["additional_wrappers"], {"name": "X", "entry_point": "gymnasium.envs.registration:make",
                                                "kwargs": {}}), "not a gymnasium wrapper class",
                 id="gymnasium-non-wrapper"),
])
def test_a_minari_env_spec_naming_foreign_code_is_refused_in_one_line(good_minari, tmp_path, change, says):
    bad = _crafted(good_minari, tmp_path / "bad", change)
    with pytest.raises(RlgenError) as e:
        read_demos(bad)
    message = str(e.value)
    assert says in message and str(bad / "data" / "metadata.json") in message and "\n" not in message


def test_minari_datasets_rlgen_records_still_load(good_minari, tmp_path):
    class Left:
        def predict(self, obs, reward=0.0, deterministic=True):
            return 0 if obs.shape == (2,) else np.zeros(1, np.float32)  # CartPole without velocities, Pendulum

        def reset(self):
            pass

    assert read_demos(good_minari).n_episodes == 3  # a registered gymnasium id, its own entry points
    demos = record_episodes(Left(), make_env_fn("rlgen/CartPoleNoVel-v1"), episodes=2)
    assert json.loads(demos.metadata["env_spec"])["entry_point"] == "rlgen.envs.pomdp:cartpole_novel"
    back = read_demos(write_demos(demos, tmp_path / "novel", env_id="rlgen/CartPoleNoVel-v1"))
    assert back.n_episodes == 2 and back.metadata["env_id"] == "rlgen/CartPoleNoVel-v1"
    wrapped = make_env_fn("Pendulum-v1", {}, [{"RescaleAction": {"min_action": -0.5, "max_action": 0.5}},
                                             "ClipAction"])
    demos = record_episodes(Left(), wrapped, episodes=1)  # gymnasium wrappers in the spec pass
    back = read_demos(write_demos(demos, tmp_path / "wrapped", env_id="Pendulum-v1"))
    names = [w["name"] for w in json.loads(back.metadata["env_spec"])["additional_wrappers"]]
    assert back.n_episodes == 1 and names == ["RescaleAction", "ClipAction"]


def test_an_entry_points_own_wrappers_are_not_said_to_be_lacking(tmp_path, capsys):
    """rlgen/CartPoleNoVel-v1's entry point applies HideEntries (which records no arguments)
    itself, so `gymnasium.make` of the kept spec rebuilds it; `rlgen record` warned that the spec
    lacked it. With a config's wrapper on top, gymnasium compares the spec's first wrapper with
    HideEntries and finds ClipReward: there the spec does lack it."""
    import gymnasium as gym
    from gymnasium.envs.registration import EnvSpec

    class Left:
        def predict(self, obs, reward=0.0, deterministic=True):
            return 0

        def reset(self):
            pass

    demos = record_episodes(Left(), make_env_fn("rlgen/CartPoleNoVel-v1"), episodes=1)
    write_demos(demos, tmp_path / "novel.npz")
    assert "lacks" not in capsys.readouterr().err and "env_spec_lacks" not in demos.metadata
    assert gym.make(EnvSpec.from_json(demos.metadata["env_spec"])).observation_space.shape == (2,)
    clipped = make_env_fn("rlgen/CartPoleNoVel-v1", {}, [{"ClipReward": {"min_reward": -1, "max_reward": 1}}])
    assert record_episodes(Left(), clipped, episodes=1).metadata["env_spec_lacks"] == "wrapper HideEntries"
