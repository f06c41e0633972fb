"""rl-zoo3's hyperparameter files as rlgen configs: every classic-control and LunarLander entry of
PPO, A2C, DQN, SAC and TD3 converts and validates, the converted values are rl-zoo3's, and what
cannot convert is named."""

from __future__ import annotations

import importlib.util
import textwrap

import pytest
import yaml

import rlgen
from rlgen.cli import main
from rlgen.errors import RlgenError

pytestmark = pytest.mark.skipif(importlib.util.find_spec("rl_zoo3") is None,
                                reason="rl_zoo3 is not installed (make install adds it with --no-deps)")

ALGOS = ("ppo", "a2c", "dqn", "sac", "td3")
ENVS = ("CartPole-v1", "Pendulum-v1", "LunarLander-v3", "LunarLanderContinuous-v3", "MountainCar-v0",
        "MountainCarContinuous-v0", "Acrobot-v1")


def _entries():
    from rlgen.agents.rl import zoo

    if importlib.util.find_spec("rl_zoo3") is None:
        return []
    return [(algo, env) for algo in ALGOS for env in ENVS if env in zoo.read_file(zoo.hyperparams_dir() / f"{algo}.yml")]


ENTRIES = _entries()


def test_the_zoo_has_the_entries_we_test():
    # rl-zoo3 2.9: PPO and A2C all 7, DQN the 4 discrete ones, SAC and TD3 3 continuous each
    assert len(ENTRIES) >= 24
    assert ("dqn", "CartPole-v1") in ENTRIES and ("td3", "Pendulum-v1") in ENTRIES


@pytest.mark.parametrize("algo, env", ENTRIES, ids=[f"{a}-{e}" for a, e in ENTRIES])
def test_every_entry_converts_and_validates(algo, env):
    from rlgen.agents.rl import zoo

    conversion = zoo.convert(algo, env)
    assert conversion.unsupported == []
    cfg = rlgen.load_config(conversion.config)  # schema, env id, the algorithm's signature
    assert cfg.name == f"zoo_{algo}_{env}" and cfg.env.id == env
    raw = zoo.read_file(zoo.hyperparams_dir() / f"{algo}.yml")[env]
    assert cfg.train.total_steps == int(float(raw["n_timesteps"]))
    assert cfg.env.n_envs == raw.get("n_envs", 1)
    assert (cfg.env.normalize is not None) == bool(raw.get("normalize", False))


@pytest.mark.parametrize("algo, env", ENTRIES, ids=[f"{a}-{e}" for a, e in ENTRIES])
def test_every_entry_builds_its_sb3_model(algo, env, tmp_path):
    """SB3 takes every converted argument (use_sde, log_std_init, train_freq, noise, ...)."""
    from rlgen.agents.rl import zoo
    from rlgen.api import make_experiment
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    cfg = rlgen.load_config(zoo.convert(algo, env).config, ["agent.hyperparams.buffer_size=1000"]
                            if algo in ("dqn", "sac", "td3") else [])
    exp = make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, __import__("torch").device("cpu"), Logger([]), 0))
    try:
        assert exp.model.num_timesteps == 0
    finally:
        exp.close()


def test_known_values():
    from rlgen.agents.rl import zoo

    ppo = rlgen.load_config(zoo.convert("ppo", "CartPole-v1").config)
    assert (ppo.optim.lr, ppo.optim.schedule) == (0.001, "linear")  # learning_rate: lin_0.001
    assert ppo.agent.hyperparams == {"n_steps": 32, "batch_size": 256, "gae_lambda": 0.8, "gamma": 0.98,
                                     "n_epochs": 20, "ent_coef": 0.0, "clip_range": "lin_0.2"}
    assert ppo.agent.policy.backbone is None  # SB3's own extractor and net_arch, as rl-zoo3 runs it
    dqn = rlgen.load_config(zoo.convert("dqn", "CartPole-v1").config)
    assert dqn.agent.policy.net_arch == [256, 256] and dqn.optim.lr == 0.0023  # policy_kwargs: dict(net_arch=...)
    a2c = rlgen.load_config(zoo.convert("a2c", "CartPole-v1").config)
    assert (a2c.optim.type, a2c.optim.lr, a2c.optim.eps) == ("rmsprop", 7e-4, 1e-5)  # A2C's own defaults
    td3 = rlgen.load_config(zoo.convert("td3", "Pendulum-v1").config)
    assert td3.agent.hyperparams["action_noise"] == {"type": "normal", "sigma": 0.1}
    assert td3.agent.policy.net_arch == [400, 300]
    car = rlgen.load_config(zoo.convert("ppo", "MountainCarContinuous-v0").config)
    assert car.env.normalize is not None and car.agent.policy.kwargs == {"log_std_init": -3.29, "ortho_init": False}
    pong = zoo.convert("ppo", "ALE/Pong-v5")  # rl-zoo3's `atari` entry: wrapper, frame stack, CnnPolicy
    assert pong.unsupported == [] and pong.entry == "atari"
    if importlib.util.find_spec("ale_py") is not None:
        atari = rlgen.load_config(pong.config)
        assert atari.env.wrappers == ["AtariWrapper"]  # SB3's, by its registered name: opens without --trust
        assert atari.env.frame_stack == 4 and atari.agent.policy.backbone.type == "cnn"
        assert (atari.optim.lr, atari.optim.schedule, atari.agent.hyperparams["clip_range"]) == (2.5e-4, "linear", "lin_0.1")
    sac = rlgen.load_config(zoo.convert("sac", "MountainCarContinuous-v0").config)
    assert sac.agent.policy.kwargs == {"log_std_init": -3.67, "use_expln": True}
    assert sac.optim.lr == 3e-4 and sac.agent.hyperparams["ent_coef"] == 0.1


def test_what_does_not_convert_is_named(tmp_path):
    from rlgen.agents.rl import zoo

    own = tmp_path / "mine.yml"
    own.write_text(textwrap.dedent("""\
        CartPole-v1:
          n_timesteps: !!float 2e4
          policy: 'MultiInputPolicy'
          n_envs: 4
          normalize: "{'norm_obs': True, 'norm_reward': False, 'epsilon': 1e-6}"
          env_wrapper:
            - gymnasium.wrappers.TimeLimit: {max_episode_steps: 100}
            - not_a_package.Wrapper
          callback: rl_zoo3.callbacks.ParallelTrainCallback
          learning_rate: exp_0.01
          n_stepz: 64
          policy_kwargs: "dict(net_arch=[32], activation_fn=nn.Hardswish, features_extractor_class=MyCNN,
                               optimizer_class=RMSpropTFLike, ortho_init=__import__('os').getcwd())"
        """))
    conversion = zoo.convert("ppo", "CartPole-v1", file=own)
    named = [u.split(":")[0] for u in conversion.unsupported]
    assert named == ["policy", "normalize.epsilon", "env_wrapper", "callback", "learning_rate", "n_stepz",
                     "policy_kwargs"]
    assert "did you mean 'n_steps'" in conversion.unsupported[5]
    assert "without running it" in conversion.unsupported[6]  # never evaluated
    cfg = rlgen.load_config(conversion.config)  # the rest converted and runs
    assert cfg.env.n_envs == 4 and cfg.env.normalize.reward is False and cfg.env.wrappers == [
        {"TimeLimit": {"max_episode_steps": 100}}]
    text = conversion.yaml()
    assert "# Not converted (rlgen has no equivalent):" in text and "#   - callback: " in text
    assert yaml.safe_load(text) == conversion.config


def test_values_of_the_wrong_kind_are_named_not_raised(tmp_path):
    from rlgen.agents.rl import zoo

    own = tmp_path / "mine.yml"
    own.write_text(textwrap.dedent("""\
        CartPole-v1:
          learning_rate: lin_abc
          n_envs: abc
          frame_stack: x
          env_kwargs: 5
          env_wrapper: 5
          policy_kwargs: 5
          normalize: "{'norm_obs': "
        """))
    conversion = zoo.convert("ppo", "CartPole-v1", file=own)
    named = [u.split(":")[0] for u in conversion.unsupported]
    assert named == ["learning_rate", "n_envs", "frame_stack", "env_kwargs", "env_wrapper", "policy_kwargs", "normalize"]
    assert all("not understood" in u or "convert" in u for u in conversion.unsupported)
    rlgen.load_config(conversion.config)  # what did convert still makes a valid config


def test_an_ale_v5_id_under_atari_wrapper_skips_frames_once():
    """v5 skips 4 frames itself, AtariWrapper 4 more: the conversion turns v5's own skip off."""
    from rlgen.agents.rl import zoo

    assert zoo.convert("ppo", "ALE/Pong-v5").config["env"]["kwargs"] == {"frameskip": 1}
    assert "kwargs" not in zoo.convert("ppo", "PongNoFrameskip-v4").config["env"]  # rl-zoo3's own ids: as they are


def test_policy_kwargs_one_by_one(tmp_path):
    from rlgen.agents.rl import zoo

    own = tmp_path / "mine.yml"
    own.write_text(textwrap.dedent("""\
        Pendulum-v1:
          n_timesteps: 1000
          policy_kwargs: "dict(net_arch=dict(pi=[8], vf=[16]), activation_fn=th.nn.ReLU, features_extractor_class=X,
                               optimizer_class=th.optim.AdamW, optimizer_kwargs=dict(eps=1e-7, alpha=0.5), squash=1)"
        """))
    conversion = zoo.convert("ppo", "Pendulum-v1", file=own)
    assert [u.split(":")[0] for u in conversion.unsupported] == [
        "policy_kwargs.features_extractor_class", "policy_kwargs.optimizer_kwargs.alpha", "policy_kwargs.squash"]
    cfg = rlgen.load_config(conversion.config)
    assert cfg.agent.policy.net_arch == {"pi": [8], "vf": [16]} and cfg.agent.policy.activation == "relu"
    assert (cfg.optim.type, cfg.optim.eps) == ("adamw", 1e-7)


def test_lookup_order_and_errors():
    from rlgen.agents.rl import zoo

    assert zoo.entry("ppo", "ALE/Pong-v5")[0] == "atari"  # rl-zoo3: the env's entry, else atari, else default
    assert zoo.entry("ppo", "CarRacing-v3")[0] == "CarRacing-v3"
    fallback = zoo.convert("dqn", "CartPole-v0")
    assert fallback.entry == "default" and "its 'default' hyperparameters are used" in fallback.fallback
    assert "# rl-zoo3 has no dqn entry for CartPole-v0" in fallback.yaml()
    with pytest.raises(RlgenError, match="unknown gymnasium env id 'CartPole-v2' \\(did you mean 'CartPole-v1'"):
        rlgen.load_config("zoo:dqn/CartPole-v2")
    with pytest.raises(RlgenError, match="her.yml has no entry for 'FetchReach-v3' \\(did you mean 'FetchReach-v1'"):
        zoo.entry("her", "FetchReach-v3")
    with pytest.raises(RlgenError, match="no rlgen equivalent"):
        zoo.convert("ars", "Pendulum-v1")
    with pytest.raises(RlgenError, match="zoo:ALGO/ENV_ID"):
        rlgen.load_config("zoo:ppo")
    assert zoo.ref_of_name("zoo_ppo_lstm_CartPoleNoVel-v1") == "zoo:ppo_lstm/CartPoleNoVel-v1"
    assert zoo.ref_of_name("zoo_ppo_LunarLander-v3") == "zoo:ppo/LunarLander-v3"


def test_import_zoo_writes_a_config_that_trains(tmp_path, capsys, quiet):
    out = tmp_path / "dqn_cartpole.yaml"
    assert main(["import-zoo", "dqn", "CartPole-v1", "-o", str(out)]) == 0
    assert "wrote" in capsys.readouterr().err
    text = out.read_text()
    assert text.startswith("# rl-zoo3's dqn hyperparameters for CartPole-v1") and "rl_zoo3 2.9" in text
    assert rlgen.load_config(out).agent.hyperparams["target_update_interval"] == 10
    assert main(["train", "zoo:ppo/CartPole-v1", *quiet, f"logging.dir={tmp_path}", "train.total_steps=256",
                 "train.eval_every=256", "train.eval_episodes=2"]) == 0
    (summary,) = tmp_path.glob("zoo_ppo_CartPole-v1/*/summary.json")
    assert '"status": "completed"' in summary.read_text()


@pytest.mark.parametrize("algo, env, refusal", [
    ("dqn", "Pendulum-v1", "agent.algo: dqn needs Discrete actions, and env 'Pendulum-v1' acts in Box("),
    ("sac", "MinAtar/Breakout-v1", "agent.algo: sac needs continuous (Box) actions, and env 'MinAtar/Breakout-v1' "
                                   "acts in Discrete(3); use one of ppo, a2c, dqn"),
], ids=["dqn-box", "sac-discrete"])
def test_import_zoo_refuses_an_algorithm_the_env_cannot_take_writing_nothing(algo, env, refusal, tmp_path, capsys):
    """rl-zoo3's `default` entry serves any env id: it was written, with "train it: rlgen train ...", and that
    train refused it as it set up."""
    if env.startswith("MinAtar/"):
        pytest.importorskip("minatar")
    out = tmp_path / "new" / "zoo.yaml"
    for where in (["-o", str(out)], ["-o", "-"]):
        assert main(["import-zoo", algo, env, *where]) == 2
        captured = capsys.readouterr()
        assert captured.out == "" and captured.err.count("\n") == 1
        assert captured.err.startswith(f"error: rl-zoo3's {algo} hyperparameters for {env} (") and refusal in captured.err
    assert not any(tmp_path.iterdir())  # neither the file nor its folder
