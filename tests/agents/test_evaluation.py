"""Evaluation counts the env's own episodes (Monitor inside env.wrappers, as SB3 and rl-zoo3 place
it), and still ends when a wrapper outside Monitor cuts episodes short."""

from __future__ import annotations

import json

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import rlgen
from rlgen.agents.rl.evaluation import EpisodeMonitor, play_episodes
from rlgen.agents.rl.vec import make_vec_env
from rlgen.config import EnvConfig

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


class Constant:
    """A model that always plays `action`; counts its calls."""

    def __init__(self, action: int = 0) -> None:
        self.action, self.calls = action, 0

    def predict(self, obs, state=None, episode_start=None, deterministic=True):
        self.calls += 1
        return np.full(len(obs), self.action), state


class Lives(gym.Wrapper):
    """Ends an episode every `every` steps without resetting the env (as AtariWrapper does at a
    lost life): its reset goes on with the same game."""

    def __init__(self, env: gym.Env, every: int = 3) -> None:
        super().__init__(env)
        self.every, self.t, self.real_done = every, 0, True

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.t += 1
        self.real_done = terminated or truncated
        self.last = obs
        return obs, reward, terminated or truncated or self.t % self.every == 0, False, info

    def reset(self, **kwargs):
        if self.real_done:
            self.t = 0
            return self.env.reset(**kwargs)
        return self.last, {}


def _copies(*wrap, n=2):
    def make():
        env = EpisodeMonitor(gym.make("CartPole-v1"))
        for w in wrap:
            env = w(env)
        return env

    vec = DummyVecEnv([make] * n)
    vec.seed(0)
    return vec


def test_an_episode_cut_by_a_wrapper_outside_monitor_is_counted_with_its_raw_return():
    vec = _copies(lambda e: gym.wrappers.TimeLimit(e, 4), lambda e: gym.wrappers.TransformReward(e, lambda r: 10 * r))
    returns, lengths = play_episodes(Constant(), vec, 4)
    # pushing left for ever falls after ~9 steps; the outer limit cuts each episode at 4, raw reward 1 a step
    assert lengths == [4, 4, 4, 4] and returns == [4.0, 4.0, 4.0, 4.0]


def test_an_episode_ended_without_a_reset_is_one_game_not_one_per_life():
    model = Constant()
    returns, lengths = play_episodes(model, _copies(Lives, n=1), 2)
    # the env's own episodes (the pole falls) are longer than a "life" of 3 steps; both are counted whole
    assert len(lengths) == 2 and min(lengths) > 3 and returns == [float(n) for n in lengths]
    assert model.calls == sum(lengths)


class Fixed(gym.Env):
    """Episodes of exactly `length` steps, reward 1 a step."""

    observation_space, action_space = gym.spaces.Box(0, 100, (1,)), gym.spaces.Discrete(2)

    def __init__(self, length: int) -> None:
        self.length, self.t = length, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.full(1, self.t, np.float32), 1.0, self.t >= self.length, False, {}


def test_a_game_left_unfinished_by_the_last_evaluation_is_played_out_not_counted():
    """Copy 0 plays games of 9 steps, copy 1 of 5, both losing a "life" every 3 steps. The first
    evaluation (one episode, copy 1's) stops at step 5 with copy 0 in mid-game, which the next
    evaluation's reset cannot restart: its game of 5 old steps and 4 new ones is not counted."""
    vec = DummyVecEnv([lambda n=n: Lives(EpisodeMonitor(Fixed(n))) for n in (9, 5)])
    vec.seed(0)
    assert play_episodes(Constant(), vec, 1) == ([5.0], [5])
    model = Constant()
    assert sorted(play_episodes(model, vec, 2)[1]) == [5, 9]
    assert model.calls == 4 + 9  # copy 0 plays out its old game, then a whole one


def test_play_episodes_agrees_with_sb3s_evaluate_policy_on_a_plain_env():
    from stable_baselines3.common.evaluation import evaluate_policy

    class Tilt(Constant):  # a deterministic policy that balances for a while: push towards the lean
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            return (obs[:, 2] > 0).astype(int), state

    ours = play_episodes(Tilt(), VecNormalize(_copies(n=3), norm_reward=False), 7)
    sb3 = evaluate_policy(Tilt(), VecNormalize(_copies(n=3), norm_reward=False), n_eval_episodes=7,
                          return_episode_rewards=True, warn=False)
    assert ours == (list(map(float, sb3[0])), list(sb3[1]))


def test_training_and_evaluation_report_the_envs_own_rewards_under_a_reward_wrapper(tmp_path):
    """ClipReward halves CartPole's reward for training; the returns logged are the env's."""
    run = rlgen.train("ppo_cartpole", ["env.wrappers=[{ClipReward: {min_reward: 0, max_reward: 0.5}}]",
                                       "env.n_envs=2", "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64",
                                       "train.total_steps=256", "train.eval_every=256", "train.eval_episodes=3",
                                       "train.early_stop.target=null", f"logging.dir={tmp_path}", *QUIET])
    final = run.summary["final"]
    assert final["eval/return_mean"] == final["eval/length_mean"] > 0  # 1 a step, not 0.5
    rows = [r for r in map(json.loads, (run.run_dir / "metrics.jsonl").read_text().splitlines())
            if "rollout/ep_return_mean" in r]
    assert rows and all(r["rollout/ep_return_mean"] == r["rollout/ep_len_mean"] for r in rows)


def test_an_atari_game_is_scored_whole_under_atari_wrapper():
    pytest.importorskip("ale_py")
    vec = make_vec_env(EnvConfig(id="BreakoutNoFrameskip-v4", n_envs=1, wrappers=["AtariWrapper"]), seed=0,
                       training=False)
    lives = []

    class Fire(Constant):  # FIRE launches the ball; count the lost lives (AtariWrapper's episode ends)
        def predict(self, obs, state=None, episode_start=None, deterministic=True):
            lives.append(bool(episode_start[0]))
            return np.ones(len(obs), dtype=int), state

    returns, lengths = play_episodes(Fire(), vec, 1)
    vec.close()
    assert len(returns) == 1 and sum(lives) == 5  # the first step and four lost lives of five: one game
    assert lengths[0] > 4 * len(lives)  # Monitor counts the emulator's frames under AtariWrapper's skip of 4
