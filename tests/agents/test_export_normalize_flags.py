"""Exports of runs whose VecNormalize leaves observations alone (`env.normalize.obs: false`): a
window graph takes raw observations then, and statistics of nothing are not handed out."""

from __future__ import annotations

import gymnasium as gym
import numpy as np

import rlgen
from rlgen.agents.rl.agent import replay_observations
from rlgen.export import export

TINY = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false", "env.n_envs=4",
        "train.total_steps=256", "train.eval_every=256", "train.eval_episodes=2", "agent.hyperparams.batch_size=64"]


def _train(tmp_path, *overrides):
    return rlgen.train("ppo_cartpole", [*TINY, f"logging.dir={tmp_path}", *overrides]).run_dir


def _random_episode(seed=0):
    """One CartPole episode of random actions: observations, actions, rewards, next observations."""
    env = gym.make("CartPole-v1")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    rows, done = [], False
    while not done:
        action = env.action_space.sample()
        nxt, reward, terminated, truncated, _ = env.step(action)
        rows.append((obs, action, reward, nxt))
        obs, done = nxt, terminated or truncated
    return env, [np.asarray(column) for column in zip(*rows)]


def test_a_window_run_normalizing_only_rewards_exports_a_graph_that_acts_as_its_policy(tmp_path):
    """It was refused, as if its windows held normalized observations (the rewards in them are raw,
    agents/rl/history.py)."""
    import onnxruntime as ort

    run_dir = _train(tmp_path, "env.history={length: 3, actions: true, rewards: true}",
                     "env.normalize={obs: false, reward: true}")
    (path,) = export(run_dir, "onnx", tmp_path / "onnx")
    env, (obs, actions, rewards, nxt) = _random_episode()
    with rlgen.load_run(run_dir) as run:
        # the windows a user builds from the env's raw steps, oldest row first, as rlgen's agent builds them
        windows, _ = replay_observations(run.config.env, env.observation_space, env.action_space, obs, actions, nxt,
                                         rewards, np.array([len(obs)]))
        expected = run.experiment.model.predict(windows, deterministic=True)[0]
    got = ort.InferenceSession(str(path)).run(None, {"obs": windows.astype(np.float32)})[0]
    assert len(set(expected.tolist())) == 2 and got.tolist() == expected.tolist()


def test_sb3_export_of_a_vecnormalize_that_normalizes_nothing_hands_out_no_statistics(tmp_path):
    run_dir = _train(tmp_path, "env.normalize={obs: false, reward: false}")
    files = export(run_dir, "sb3", tmp_path / "sb3")
    assert not [f for f in files if f.name == "vecnormalize.pkl"] and not list((tmp_path / "sb3").rglob("*.pkl"))
    zoo = tmp_path / "sb3" / "rl-zoo" / "ppo" / "CartPole-v1_1" / "CartPole-v1" / "config.yml"
    assert "normalize: false" in zoo.read_text()  # rl-zoo3's enjoy looks for no vecnormalize.pkl then
    run_dir = _train(tmp_path / "reward", "env.normalize={obs: false, reward: true}")
    files = export(run_dir, "sb3", tmp_path / "reward_sb3")
    assert tmp_path / "reward_sb3" / "vecnormalize.pkl" in files  # its return statistics, to train on with SB3


def test_the_agent_of_a_run_normalizing_only_rewards_acts_as_its_model(tmp_path):
    """`Run.agent()` (play, record, predict) read the VecNormalize's obs statistics, which SB3 does
    not make when observations are not normalized: AttributeError."""
    run = rlgen.load_run(_train(tmp_path, "env.normalize={obs: false, reward: true}"))
    agent = run.agent()
    _, (observations, *_) = _random_episode()
    for obs in observations[:20]:
        want = run.experiment.model.predict(obs[None], deterministic=True)[0][0]
        assert agent.predict(obs) == want
