"""`rlgen export`: SB3's model.zip loads in a fresh process and acts as the run does; ONNX and
TorchScript give torch's outputs; rl-zoo3's enjoy plays the export; GAN generators export too."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlgen
from rlgen.cli import main
from rlgen.export import export, onnx_difference

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def _train(tmp_path, config, overrides=()):
    return rlgen.train(config, [*QUIET, f"logging.dir={tmp_path}", *overrides]).run_dir


def _rl(name, env_id, algo, hyperparams, total, env=None, agent=None):
    return {"name": name, "kind": "rl", "seed": 3, "env": {"id": env_id, **(env or {})},
            "agent": {"algo": algo, "hyperparams": hyperparams, **(agent or {})},
            "train": {"total_steps": total, "eval_every": total, "eval_episodes": 2}}


# a continuous policy on SB3's own extractor, with VecNormalize: the zip must not need rlgen
PENDULUM_PPO = _rl("ppo_pendulum_norm", "Pendulum-v1", "ppo", {"n_steps": 64}, 128,
                   env={"n_envs": 2, "normalize": {}})
SAC = _rl("sac_tiny", "Pendulum-v1", "sac", {"learning_starts": 10, "buffer_size": 1000}, 64,
          agent={"policy": {"net_arch": [32, 32]}})
DQN = _rl("dqn_tiny", "CartPole-v1", "dqn", {"learning_starts": 10, "buffer_size": 1000}, 64)


def _observations(env_id, n=30, seed=0):
    env = gym.make(env_id)
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    out = []
    for _ in range(n):
        out.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    return np.asarray(out, dtype=np.float32)


def _rlgen_actions(run_dir, observations):
    """What rlgen.load_run(...).agent() does with each raw observation (a fresh episode each)."""
    with rlgen.load_run(run_dir) as run:
        agent = run.agent()
        out = []
        for obs in observations:
            agent.reset()
            out.append(agent.predict(obs))
        return np.asarray(out)


def _fresh_python(tmp_path, code, **files):
    """Run `code` in a new interpreter (nothing of this process carried over); its stdout is JSON."""
    for name, array in files.items():
        np.save(tmp_path / f"{name}.npy", array)
    script = tmp_path / "fresh.py"
    script.write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_sb3_zip_in_a_fresh_process_acts_and_scores_as_the_run(tmp_path):
    # without normalization: model.zip alone is the whole policy (the normalized case: Pendulum, below)
    run_dir = _train(tmp_path, "ppo_cartpole", ["train.total_steps=1024", "train.eval_every=1024", "seed=5",
                                                "env.normalize=null"])
    out = tmp_path / "exported"
    files = export(run_dir, "sb3", out)
    assert out / "model.zip" in files and not (out / "vecnormalize.pkl").exists()
    obs = _observations("CartPole-v1")
    got = _fresh_python(tmp_path, f"""
        import json, numpy as np
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.evaluation import evaluate_policy
        model = PPO.load("{out / 'model.zip'}", device="cpu")
        actions = model.predict(np.load("obs.npy"), deterministic=True)[0]
        # rlgen evaluates on n_envs = eval_episodes copies seeded seed + 10000, seed + 10001, ...
        env = make_vec_env("CartPole-v1", n_envs=10, seed=5 + 10_000)
        returns, _ = evaluate_policy(model, env, n_eval_episodes=10, deterministic=True, return_episode_rewards=True)
        print(json.dumps({{"actions": actions.tolist(), "mean": float(np.mean(returns))}}))
    """, obs=obs)
    assert got["actions"] == _rlgen_actions(run_dir, obs).tolist()
    # the same fresh eval envs for the run's own model (a loaded run's eval env resumes where the
    # run left it, for exact resume, so `run.evaluate()` continues rather than restarts its episodes)
    from stable_baselines3.common.env_util import make_vec_env
    from stable_baselines3.common.evaluation import evaluate_policy

    with rlgen.load_run(run_dir) as run:
        env = make_vec_env("CartPole-v1", n_envs=10, seed=5 + 10_000)
        returns, _ = evaluate_policy(run.experiment.model, env, n_eval_episodes=10, deterministic=True,
                                     return_episode_rewards=True)
        assert got["mean"] == float(np.mean(returns))


@pytest.mark.slow
def test_sb3_zip_of_an_sb3_policy_loads_without_rlgen(tmp_path):
    run_dir = _train(tmp_path, PENDULUM_PPO)
    out = tmp_path / "exported"
    export(run_dir, "sb3", out)
    obs = _observations("Pendulum-v1")
    got = _fresh_python(tmp_path, f"""
        import json, sys
        sys.modules["rlgen"] = None  # any unpickling that needs rlgen fails here
        import gymnasium as gym, numpy as np
        from stable_baselines3 import PPO
        from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize
        model = PPO.load("{out / 'model.zip'}", device="cpu")
        norm = VecNormalize.load("{out / 'vecnormalize.pkl'}", DummyVecEnv([lambda: gym.make("Pendulum-v1")]))
        actions = model.predict(norm.normalize_obs(np.load("obs.npy")), deterministic=True)[0]
        print(json.dumps({{"actions": actions.tolist()}}))
    """, obs=obs)
    np.testing.assert_allclose(got["actions"], _rlgen_actions(run_dir, obs), atol=1e-6)


def test_onnx_policy_equals_torch_and_the_agent(tmp_path):
    run_dir = _train(tmp_path, "ppo_cartpole", ["train.total_steps=512", "train.eval_every=512"])
    _check_module_exports(run_dir, "CartPole-v1", tmp_path, formats=("onnx",))


@pytest.mark.slow
@pytest.mark.parametrize("config, env_id", [(PENDULUM_PPO, "Pendulum-v1"), (SAC, "Pendulum-v1"), (DQN, "CartPole-v1")],
                         ids=["ppo-normalized-continuous", "sac-squashed", "dqn-q-argmax"])
def test_onnx_and_torchscript_of_every_policy_kind(tmp_path, config, env_id):
    _check_module_exports(_train(tmp_path, config), env_id, tmp_path, formats=("onnx", "torchscript"))


def _check_module_exports(run_dir, env_id, tmp_path, formats):
    import onnxruntime as ort

    from rlgen.agents.rl.export import DeterministicPolicy

    obs = _observations(env_id)
    expected = _rlgen_actions(run_dir, obs)  # SB3's predict through rlgen's pipeline (normalization included)
    for fmt in formats:
        (path,) = export(run_dir, fmt, tmp_path / fmt)
        if fmt == "onnx":
            got = ort.InferenceSession(str(path)).run(None, {"obs": obs})[0]
            with rlgen.load_run(run_dir) as run:
                module = DeterministicPolicy.of(run.experiment)
                assert onnx_difference(path, module, {"obs": torch.as_tensor(obs)}) <= 1e-5
        else:
            with torch.no_grad():
                got = torch.jit.load(str(path))(torch.as_tensor(obs)).numpy()
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-5)


class ChannelLastImages(gym.Env):
    """(12, 12, 3) uint8 frames, channel last as cameras give them: SB3 transposes them for its CNN."""

    observation_space = gym.spaces.Box(0, 255, (12, 12, 3), np.uint8)
    action_space = gym.spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.integers(0, 256, (12, 12, 3), dtype=np.uint8), {}

    def step(self, action):
        self.t += 1
        frame = self.np_random.integers(0, 256, (12, 12, 3), dtype=np.uint8)
        return frame, float(action == frame[0, 0, 0] % 3), False, self.t >= 16, {}


if "rlgen_test/ChannelLast-v0" not in gym.registry:
    gym.register(id="rlgen_test/ChannelLast-v0", entry_point=ChannelLastImages)


def test_an_image_policy_exports_take_the_envs_channel_last_frames(tmp_path):
    import onnxruntime as ort

    config = _rl("ppo_images", "rlgen_test/ChannelLast-v0", "ppo",  # registered above, in this process
                 {"n_steps": 32, "batch_size": 32}, 64, env={"n_envs": 2},
                 agent={"policy": {"backbone": {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1],
                                                "hidden": 16}}})
    run_dir = _train(tmp_path, config)
    env = ChannelLastImages()
    frames = np.stack([env.reset(seed=i)[0] for i in range(20)])  # uint8, (20, 12, 12, 3)
    expected = _rlgen_actions(run_dir, frames)
    (onnx_path,) = export(run_dir, "onnx", tmp_path / "onnx")
    (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    np.testing.assert_array_equal(ort.InferenceSession(str(onnx_path)).run(None, {"obs": frames})[0], expected)
    with torch.no_grad():
        np.testing.assert_array_equal(torch.jit.load(str(ts_path))(torch.as_tensor(frames)).numpy(), expected)


class MaskedChoice(gym.Env):
    """Discrete(4) actions of which the env's action_masks() always forbids 0 and 1."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = gym.spaces.Discrete(4)

    def action_masks(self):
        return np.array([False, False, True, True])

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 4).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        return self.np_random.uniform(-1, 1, 4).astype(np.float32), float(action == 2), False, self.t >= 16, {}


class SquareActions(gym.Env):
    """(2, 3) observations and (2, 2) Box actions in [-2, 2]: predict reshapes actions before clipping."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (2, 3), np.float32)
    action_space = gym.spaces.Box(-2.0, 2.0, (2, 2), np.float32)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, (2, 3)).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        return self.np_random.uniform(-1, 1, (2, 3)).astype(np.float32), -float(np.abs(action).sum()), False, \
            self.t >= 16, {}


class MaskedPair(MaskedChoice):
    """MultiDiscrete([3, 2]) actions; masks in sb3-contrib's layout, 3 + 2 bools side by side."""

    action_space = gym.spaces.MultiDiscrete([3, 2])

    def action_masks(self):
        return np.array([False, True, True, True, False])

    def step(self, action):
        self.t += 1
        return self.np_random.uniform(-1, 1, 4).astype(np.float32), float(action[0] == 1), False, self.t >= 16, {}


class MaskedBits(MaskedChoice):
    """MultiBinary(3) actions; masks in sb3-contrib's layout, [may be 0, may be 1] per bit side by side."""

    action_space = gym.spaces.MultiBinary(3)

    def action_masks(self):
        return np.array([True, True, False, True, True, False])

    def step(self, action):
        self.t += 1
        return self.np_random.uniform(-1, 1, 4).astype(np.float32), float(action[0]), False, self.t >= 16, {}


for _id, _env in (("rlgen_test/MaskedChoice-v0", MaskedChoice), ("rlgen_test/SquareActions-v0", SquareActions),
                  ("rlgen_test/MaskedPair-v0", MaskedPair), ("rlgen_test/MaskedBits-v0", MaskedBits)):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_env)


def test_a_maskable_policy_exports_take_the_action_masks(tmp_path):
    import onnxruntime as ort

    from rlgen.agents.rl.export import example_masks

    config = _rl("maskable_tiny", "rlgen_test/MaskedChoice-v0", "maskable_ppo", {"n_steps": 16, "batch_size": 32},
                 32, env={"n_envs": 2})
    run_dir = _train(tmp_path, config)
    obs = np.random.default_rng(0).uniform(-1, 1, (40, 4)).astype(np.float32)
    masks = np.vstack([np.tile([False, False, True, True], (20, 1)), example_masks([4], 20, seed=1).numpy()])
    with rlgen.load_run(run_dir) as run:
        agent = run.agent()
        expected = np.array([agent.predict(o, action_masks=m) for o, m in zip(obs, masks)])
        unmasked = run.experiment.model.predict(obs, deterministic=True)[0]
    assert (expected != unmasked).any()  # the masks change the choice: a graph without them would differ
    assert masks[np.arange(40), expected].all()
    (onnx_path,) = export(run_dir, "onnx", tmp_path / "onnx")
    session = ort.InferenceSession(str(onnx_path))
    assert [i.name for i in session.get_inputs()] == ["obs", "action_masks"]
    np.testing.assert_array_equal(session.run(None, {"obs": obs, "action_masks": masks})[0], expected)
    (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    np.testing.assert_array_equal(torch.jit.load(str(ts_path))(torch.as_tensor(obs), torch.as_tensor(masks)).numpy(),
                                  expected)


@pytest.mark.parametrize("env_id, groups", [("rlgen_test/MaskedPair-v0", [3, 2]),
                                            ("rlgen_test/MaskedBits-v0", [2, 2, 2])])
def test_a_maskable_policy_on_multi_actions_exports_the_masks_per_sub_action(tmp_path, env_id, groups):
    import onnxruntime as ort

    from rlgen.agents.rl.export import example_masks

    run_dir = _train(tmp_path, _rl("maskable_multi", env_id, "maskable_ppo",
                                   {"n_steps": 16, "batch_size": 32}, 32, env={"n_envs": 2}))
    obs = np.random.default_rng(0).uniform(-1, 1, (40, 4)).astype(np.float32)
    masks = example_masks(groups, 40, seed=2).numpy()
    with rlgen.load_run(run_dir) as run:
        agent = run.agent()
        expected = np.array([agent.predict(o, action_masks=m) for o, m in zip(obs, masks)])
    assert expected.shape == (40, len(groups))
    offsets = np.cumsum([0, *groups[:-1]])
    for i, offset in enumerate(offsets):  # every sub-action is one its mask allows
        assert masks[np.arange(40), offset + expected[:, i]].all()
    (onnx_path,) = export(run_dir, "onnx", tmp_path / "onnx")
    np.testing.assert_array_equal(ort.InferenceSession(str(onnx_path)).run(None, {"obs": obs, "action_masks": masks})[0],
                                  expected)
    (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    np.testing.assert_array_equal(torch.jit.load(str(ts_path))(torch.as_tensor(obs), torch.as_tensor(masks)).numpy(),
                                  expected)


@pytest.mark.parametrize("algo, hyperparams", [("ppo", {"n_steps": 16, "batch_size": 32}),
                                               ("sac", {"learning_starts": 10, "buffer_size": 100})])
def test_box_actions_of_two_dimensions_export_as_predict_shapes_them(tmp_path, algo, hyperparams):
    run_dir = _train(tmp_path, _rl(f"{algo}_square", "rlgen_test/SquareActions-v0", algo, hyperparams, 32,
                                   env={"n_envs": 2}, agent={"policy": {"net_arch": [16]}}))
    obs = np.random.default_rng(0).uniform(-3, 3, (20, 2, 3)).astype(np.float32)  # out of bounds too: clipping shows
    expected = _rlgen_actions(run_dir, obs)
    assert expected.shape == (20, 2, 2)
    (onnx_path,) = export(run_dir, "onnx", tmp_path / "onnx")
    import onnxruntime as ort

    np.testing.assert_allclose(ort.InferenceSession(str(onnx_path)).run(None, {"obs": obs})[0], expected, atol=1e-5)
    (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    got = torch.jit.load(str(ts_path))(torch.as_tensor(obs))  # outside no_grad: the output needs no detach
    assert not got.requires_grad
    np.testing.assert_allclose(got.numpy(), expected, atol=1e-5)


def test_multidiscrete_observations_build_an_rlgen_backbone():
    from stable_baselines3.common.preprocessing import preprocess_obs

    from rlgen.agents.rl.sb3_bridge import BackboneExtractor

    space = gym.spaces.MultiDiscrete([3, 5, 2])  # SB3 one-hot encodes it: 10 features, counted as np.int64
    extractor = BackboneExtractor(space, {"type": "mlp", "hidden": [8]})
    obs = preprocess_obs(torch.as_tensor(np.stack([space.sample() for _ in range(3)])), space)
    assert extractor(obs).shape == (3, extractor.features_dim)


def test_window_policies_onnx_cannot_follow_are_refused_in_one_line_leaving_nothing(tmp_path, capsys):
    gru_window = _rl("dqn_gru_window", "CartPole-v1", "dqn", {"learning_starts": 10, "buffer_size": 1000}, 64,
                     env={"history": {"length": 3}}, agent={"policy": {"backbone": {"type": "gru", "hidden_size": 8}}})
    run_dir = _train(tmp_path / "runs", gru_window)
    capsys.readouterr()
    out = tmp_path / "out" / "onnx"
    assert main(["export", str(run_dir), "--format", "onnx", "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "export with --format torchscript" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()  # the folders the command made are gone again
    assert main(["export", str(run_dir), "--format", "torchscript", "-o", str(out)]) == 0
    assert (out / "policy.pt").is_file()


@pytest.mark.parametrize("backbone", ["{type: lstm, hidden_size: 8}", "{type: transformer, d_model: 8, n_heads: 2, "
                                      "n_layers: 1, ff_dim: 16}"], ids=["lstm", "transformer"])
def test_a_window_policy_exports_to_torchscript_without_tracer_warnings_and_acts_as_torch(tmp_path, backbone):
    """The README's export for window LSTMs and Transformers printed three TracerWarnings (input
    checks, and the fast path for full windows) though its actions are torch's on full windows and
    on an episode's first, partial ones alike."""
    from rlgen.agents.rl.export import DeterministicPolicy, example_observations

    run_dir = _train(tmp_path / "runs", "ppo_lstm_cartpole_novel", [
        "env.normalize=null", "env.n_envs=2", "env.history.length=3", f"agent.policy.backbone={backbone}",
        "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32", "agent.hyperparams.n_epochs=1",
        "train.total_steps=32", "train.eval_every=32", "train.eval_episodes=1"])
    with warnings.catch_warnings(record=True) as caught:
        # torch's own filter, set when torch is imported, which pytest's per-test filters drop
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"torch.(?!jit)")
        (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    assert not [f"{w.filename}:{w.lineno}" for w in caught if issubclass(w.category, torch.jit.TracerWarning)]
    loaded = torch.jit.load(str(ts_path))
    with rlgen.load_run(run_dir) as run:
        policy = DeterministicPolicy.of(run.experiment)
        windows = example_observations(policy.observation_space, 64)  # (64, 3, 2 + 1 flag)
        full, partial = windows.clone(), windows.clone()
        full[..., -1] = 1.0
        partial[..., -1] = torch.tensor([0.0, 1.0, 1.0])  # the episode's second step
        for obs in (full, partial, full[:1], partial[:1]):
            with torch.no_grad():
                assert torch.equal(loaded(obs), policy(obs))


def test_a_normalized_window_is_refused_for_onnx_as_for_torchscript(tmp_path, capsys):
    """No graph takes it: the ONNX refusal sent the user to --format torchscript, which then
    refused the same run for its normalization."""
    window = _rl("ppo_gru_window_norm", "CartPole-v1", "ppo", {"n_steps": 32, "batch_size": 32, "n_epochs": 1}, 64,
                 env={"history": {"length": 3}, "normalize": {}},
                 agent={"policy": {"backbone": {"type": "gru", "hidden_size": 8}}})
    run_dir = _train(tmp_path / "runs", window)
    capsys.readouterr()
    for fmt in ("onnx", "torchscript"):
        assert main(["export", str(run_dir), "--format", fmt, "-o", str(tmp_path / fmt)]) == 2
        err = capsys.readouterr().err
        assert "windows of normalized observations cannot take raw observations in one graph; export with " \
               "--format sb3" in err and "torchscript (the same actions)" not in err, err


def test_gan_generator_exports(tmp_path):
    import onnxruntime as ort

    run_dir = _train(tmp_path, "gan_ring8", ["train.total_steps=100", "train.eval_every=100", "eval.samples=200"])
    noise = torch.randn(7, 2, generator=torch.Generator().manual_seed(0))
    with rlgen.load_run(run_dir) as run:
        with torch.no_grad():
            expected = run.modules()["generator_ema"].eval()(noise).numpy()  # the EMA copy samples
    (onnx_path,) = export(run_dir, "onnx", tmp_path / "onnx")
    got = ort.InferenceSession(str(onnx_path)).run(None, {"noise": noise.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    (ts_path,) = export(run_dir, "torchscript", tmp_path / "ts")
    np.testing.assert_allclose(torch.jit.load(str(ts_path))(noise).numpy(), expected, atol=1e-5)  # no grad needed


@pytest.mark.slow
def test_conditional_generator_takes_labels(tmp_path):
    import onnxruntime as ort

    run_dir = _train(tmp_path, "gan_digits_conditional", ["train.total_steps=50", "train.eval_every=50",
                                                           "perf.steps_per_unit=50"])
    (path,) = export(run_dir, "onnx", tmp_path / "onnx")
    session = ort.InferenceSession(str(path))
    assert [i.name for i in session.get_inputs()] == ["noise", "label"]
    with rlgen.load_run(run_dir) as run:
        exp = run.experiment
        net = exp.ema.module if exp.ema is not None else exp.G
        noise = net.noise(5, torch.Generator().manual_seed(1))
        labels = torch.tensor([0, 3, 9, 3, 1])
        with torch.no_grad():
            expected = net.eval()(noise, labels).numpy()
    got = session.run(None, {"noise": noise.numpy(), "label": labels.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # a label outside 0..9: an ONNX graph cannot raise, so its samples are NaN, not those of no class
    # (ONNX's OneHot of 10 is all zeros; of -1, the last class); the valid rows are untouched
    wrong = session.run(None, {"noise": noise.numpy(), "label": np.array([0, 10, -1, 3, 9])})[0]
    assert np.isnan(wrong[[1, 2]]).all() and not np.isnan(wrong[[0, 3, 4]]).any()
    np.testing.assert_allclose(wrong[[0, 3]], expected[[0, 3]], atol=1e-5)


def test_cli_export_prints_the_files_and_explains_what_it_cannot(tmp_path, capsys):
    run_dir = _train(tmp_path, "ppo_cartpole", ["train.total_steps=512", "train.eval_every=512"])
    assert main(["export", str(run_dir), "--format", "sb3", "--checkpoint", "best"]) == 0
    out, err = capsys.readouterr()
    zoo = "rl-zoo/ppo/CartPole-v1_1/CartPole-v1"  # ppo_cartpole normalizes observations: its statistics go along
    assert out.split() == [str(run_dir / "export" / p) for p in
                           ("model.zip", "vecnormalize.pkl", f"{zoo}.zip", f"{zoo}/vecnormalize.pkl", f"{zoo}/config.yml")]
    assert "needs rlgen installed" in err and "python -m rl_zoo3.enjoy --algo ppo --env CartPole-v1" in err
    gan = _train(tmp_path, "gan_ring8", ["train.total_steps=100", "train.eval_every=100", "eval.samples=200"])
    assert main(["export", str(gan), "--format", "sb3"]) == 2
    assert "a GAN's generator exports with --format onnx or torchscript" in capsys.readouterr().err


needs_zoo = pytest.mark.skipif(importlib.util.find_spec("rl_zoo3") is None,
                               reason="rl_zoo3 is not installed (make install adds it with --no-deps)")


@needs_zoo
@pytest.mark.slow
def test_rl_zoo3_enjoy_plays_the_export(tmp_path):
    """enjoy rebuilds the env pipeline (VecNormalize from vecnormalize.pkl) from the rl-zoo layout;
    its first episode (env seed 0) scores what the run's own agent scores on that episode."""
    run_dir = _train(tmp_path, PENDULUM_PPO)
    export(run_dir, "sb3", tmp_path / "exported")
    enjoy = [sys.executable, "-m", "rl_zoo3.enjoy", "--algo", "ppo", "--env", "Pendulum-v1", "-f",
             str(tmp_path / "exported" / "rl-zoo"), "--exp-id", "1", "--no-render", "-n", "210", "--seed", "0"]
    done = subprocess.run(enjoy, capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Loading running average" in done.stdout
    first = float(re.search(r"Episode Reward: (-?[\d.]+)", done.stdout).group(1))
    with rlgen.load_run(run_dir) as run:
        agent, env = run.agent(), gym.make("Pendulum-v1")
        obs, _ = env.reset(seed=0)
        total, done_ = 0.0, False
        while not done_:
            obs, reward, terminated, truncated, _ = env.step(agent.predict(obs))
            total, done_ = total + float(reward), terminated or truncated
    assert first == pytest.approx(total, abs=0.006)  # enjoy prints 2 decimals


def test_no_zoo_layout_where_enjoy_cannot_play_it(tmp_path, capsys):
    """rlgen stacks frames before normalizing them, rl-zoo3 after: its enjoy could not load the
    stacked statistics. model.zip and vecnormalize.pkl are still written."""
    stacked = _rl("ppo_stack_norm", "CartPole-v1", "ppo", {"n_steps": 16, "batch_size": 32}, 32,
                  env={"n_envs": 2, "frame_stack": 3, "normalize": {}})
    run_dir = _train(tmp_path, stacked)
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "sb3", "-o", str(tmp_path / "out")]) == 0
    out, err = capsys.readouterr()
    assert out.split() == [str(tmp_path / "out" / p) for p in ("model.zip", "vecnormalize.pkl")]
    assert "no rl-zoo3 layout (rlgen normalizes stacked frames" in err and "rl_zoo3.enjoy" not in err
    assert not (tmp_path / "out" / "rl-zoo").exists()

    from rlgen.agents.rl.export import _no_zoo_layout

    minatar = rlgen.load_config("ppo_minatar_breakout")
    assert "MinAtar" in _no_zoo_layout(minatar, "ppo", minatar.env.id)


def test_enjoy_command_imports_the_module_that_registers_the_env(tmp_path, capsys):
    run_dir = _train(tmp_path, _rl("ppo_novel", "rlgen/CartPoleNoVel-v1", "ppo", {"n_steps": 16, "batch_size": 32},
                                   32, env={"n_envs": 2}))
    capsys.readouterr()
    assert main(["export", str(run_dir), "--format", "sb3", "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    command = re.search(r"rl-zoo3: (python -m rl_zoo3\.enjoy .*)", " ".join(err.split())).group(1)
    zoo = tmp_path / "out" / "rl-zoo"
    assert command == (f"python -m rl_zoo3.enjoy --algo ppo --env rlgen/CartPoleNoVel-v1 -f {zoo} --exp-id 1 "
                       "--gym-packages rlgen.envs.registration")
    if importlib.util.find_spec("rl_zoo3") is not None:  # the printed command plays the export
        done = subprocess.run([sys.executable, *command.split()[1:], "--no-render", "-n", "5"], capture_output=True,
                              text=True, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]


ENVPLUG = """\
import gymnasium as gym

if "rlgen_test_envplug/Pole-v0" not in gym.registry:
    gym.register("rlgen_test_envplug/Pole-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                 max_episode_steps=50)


def register():
    if "rlgen_test_envplug/Called-v0" not in gym.registry:
        gym.register("rlgen_test_envplug/Called-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv",
                     max_episode_steps=50)
"""


@pytest.fixture
def env_plugin(tmp_path, monkeypatch):
    """A plugin's `rlgen.envs` entry points: a module that registers an id on import, and a function
    that registers one when called (as the MinAtar entry point does)."""
    from rlgen import registry

    (tmp_path / "rlgen_test_envplug.py").write_text(ENVPLUG)
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.ENV_PACKAGES.register("test_envplug", "rlgen_test_envplug")
    registry.ENV_PACKAGES.register("test_envplug_fn", "rlgen_test_envplug:register")
    monkeypatch.setattr(registry, "_envs_loaded", False)  # load the env packages again, these two too
    try:
        yield
    finally:
        registry.ENV_PACKAGES.unregister("test_envplug")
        registry.ENV_PACKAGES.unregister("test_envplug_fn")
        for env_id in ("rlgen_test_envplug/Pole-v0", "rlgen_test_envplug/Called-v0"):
            gym.registry.pop(env_id, None)
            registry._env_id_packages.pop(env_id, None)
        sys.modules.pop("rlgen_test_envplug", None)


def test_enjoy_command_imports_the_plugin_module_that_registers_the_env(env_plugin, tmp_path, capsys):
    """An id a plugin registers through the rlgen.envs entry point: enjoy must import that module."""
    from types import SimpleNamespace

    from rlgen.agents.rl.export import _no_zoo_layout, _zoo_layout

    cfg = rlgen.load_config(_rl("ppo_plug", "rlgen_test_envplug/Pole-v0", "ppo", {}, 32))
    model = tmp_path / "model.zip"
    model.write_bytes(b"zip")
    capsys.readouterr()
    written = _zoo_layout(SimpleNamespace(cfg=cfg, model=None), [model], tmp_path / "rl-zoo")
    assert written[0] == tmp_path / "rl-zoo" / "ppo" / "rlgen_test_envplug-Pole-v0_1" / "rlgen_test_envplug-Pole-v0.zip"
    err = " ".join(capsys.readouterr().err.split())
    assert err.endswith(f"--env rlgen_test_envplug/Pole-v0 -f {tmp_path / 'rl-zoo'} --exp-id 1 "
                        "--gym-packages rlgen_test_envplug"), err

    # an id registered by calling a function: no module import registers it, so no layout enjoy cannot play
    called = rlgen.load_config(_rl("ppo_called", "rlgen_test_envplug/Called-v0", "ppo", {}, 32))
    assert "registered by calling rlgen_test_envplug:register" in _no_zoo_layout(called, "ppo", called.env.id)
