"""Training units of `kind: rl` are SB3 `learn()` calls, and the chunked run is the run one call
would make: off-policy units end where the runner evaluates and checkpoints (as SB3's EvalCallback
would, to within a rollout of `train_freq`), and the action noise of the episodes in progress
carries over from one call to the next (SB3 resets it at every `learn()`), checkpoints included."""

import json
import math

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env

import rlgen
from rlgen import checkpoint
from rlgen.agents.rl.action_noise import with_action_noise
from rlgen.agents.rl.algos import ALGOS
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.testing_diff import _differences

from .rl_helpers import resumed_from_first_checkpoint, rl_config

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false",
         "train.early_stop.target=null", "train.eval_episodes=1", "train.early_stop.metric=eval/none",
         "train.keep_checkpoints=100"]
TINY_TD3 = ["agent.policy.backbone={type: mlp, hidden: [16]}", "agent.policy.net_arch=[16]",
            "agent.hyperparams.learning_starts=10", "agent.hyperparams.buffer_size=500",
            "agent.hyperparams.batch_size=16", "agent.hyperparams.action_noise={type: ornstein_uhlenbeck, sigma: 0.5}"]


def _rounded_up(step: int, granularity: int) -> int:
    return math.ceil(step / granularity) * granularity


@pytest.mark.parametrize("n_envs", [1, 2])
def test_off_policy_units_end_at_the_first_rollout_end_past_each_evaluation_and_checkpoint(tmp_path, n_envs):
    """eval_every 150 fits no ~1,000-step unit: each evaluation and checkpoint still comes at the
    first rollout (train_freq 16 steps of every env copy) that ends at or past its multiple."""
    total, every, ckpt_every, rollout = 500, 150, 100, 16 * n_envs
    run = rlgen.train("dqn_cartpole", [*QUIET, f"logging.dir={tmp_path}", f"env.n_envs={n_envs}",
                                       f"train.total_steps={total}", f"train.eval_every={every}",
                                       f"train.checkpoint_every={ckpt_every}", "agent.hyperparams.train_freq=16",
                                       "agent.hyperparams.gradient_steps=1", "agent.hyperparams.learning_starts=50",
                                       "agent.hyperparams.buffer_size=1000", "agent.hyperparams.batch_size=16"])
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    end = _rounded_up(total, rollout)  # SB3's learn(500) would stop there too
    evals = [r["global_step"] for r in rows if "eval/wall_time_s" in r]
    assert evals == [*(_rounded_up(m, rollout) for m in range(every, total, every)), end]
    saved = sorted(checkpoint.step_of(p) for p in (run.run_dir / "checkpoints").glob("step_*"))
    assert saved == [*(_rounded_up(m, rollout) for m in range(ckpt_every, total, ckpt_every)), end]
    units = [r["global_step"] for r in rows if "time/fps" in r]
    assert all(b > a for a, b in zip([0, *units], units))  # no unit of 0 steps


def _td3_learner(tmp_path, n_envs: int) -> SB3Learner:
    hyperparams = {"learning_starts": 10, "buffer_size": 500, "batch_size": 16,
                   "action_noise": {"type": "ornstein_uhlenbeck", "sigma": 0.5}}
    cfg = rl_config(tmp_path, "td3", "Pendulum-v1", n_envs=n_envs, total=300, hyperparams=hyperparams,
                    agent={"algo": "td3", "hyperparams": hyperparams,
                           "policy": {"backbone": {"type": "mlp", "hidden": [16]}, "net_arch": [16]}})
    env = make_vec_env("Pendulum-v1", n_envs=n_envs, seed=0)
    return SB3Learner(ALGOS["td3"], "MlpPolicy", env, cfg.optim, cfg.agent.policy,
                      with_action_noise(cfg.agent.hyperparams, env), seed=0, device="cpu")


@pytest.mark.parametrize("n_envs", [1, 2])
def test_ou_noise_carries_over_units_as_in_one_learn_call(tmp_path, n_envs):
    """Units of 50 steps cut Pendulum's 200-step episodes in the middle: the actions taken (noise
    included) and the trained weights equal those of one SB3 learn() over the same steps."""
    total = 300
    whole = _td3_learner(tmp_path, n_envs)
    whole.model.learn(total)
    chunked = _td3_learner(tmp_path, n_envs)
    while chunked.model.num_timesteps < total:
        chunked.learn_unit(50, chunked.model.num_timesteps, total)
    assert chunked.model.num_timesteps == whole.model.num_timesteps
    n = whole.model.replay_buffer.pos
    np.testing.assert_array_equal(chunked.model.replay_buffer.actions[:n], whole.model.replay_buffer.actions[:n])
    for (name, a), b in zip(whole.model.policy.state_dict().items(), chunked.model.policy.state_dict().values()):
        assert torch.equal(a, b), name


def test_noise_state_round_trips_and_refuses_another_shape(tmp_path):
    learner = _td3_learner(tmp_path, 2)
    learner.learn_unit(40, 0, 40)
    saved = learner.noise_state()
    assert len(saved) == 2
    fresh = _td3_learner(tmp_path, 2)
    assert fresh.load_noise_state(saved) == []
    for mine, theirs in zip(fresh.model.action_noise.noises, learner.model.action_noise.noises):
        np.testing.assert_array_equal(mine.noise_prev, theirs.noise_prev)
        assert np.any(mine.noise_prev != 0)
    assert _td3_learner(tmp_path, 1).load_noise_state(saved) == ["2 action noise(s) saved, 1 in this model"]


@pytest.mark.parametrize("noise", [[], ["agent.hyperparams.action_noise={type: ornstein_uhlenbeck, sigma: [0.5], "
                                          "theta: 0.5, dt: 0.05, initial_noise: 0.3}"]], ids=["sigma", "own_keys"])
def test_an_ou_noise_run_resumes_bit_for_bit(tmp_path, noise):
    """Resumed from a checkpoint in the middle of an episode, the run goes on with the noise that
    episode had: the same final state as the straight run (with OU's own keys too)."""
    overrides = [*QUIET, *TINY_TD3, *noise, "train.total_steps=120", "train.eval_every=40", "train.checkpoint_every=40"]
    straight = rlgen.train("td3_pendulum", [*overrides, f"logging.dir={tmp_path / 'straight'}"]).run_dir
    a, b, first = resumed_from_first_checkpoint(straight, tmp_path / "crashed")
    assert a["global_step"] == b["global_step"] > first
    diff = _differences({**a["experiment"], "rng": a["rng"]}, {**b["experiment"], "rng": b["rng"]}, True,
                        ("straight", "resumed"))
    assert not diff, diff[:5]


@pytest.mark.parametrize("algo", ["dqn", "qrdqn"])
def test_the_exploration_schedule_runs_over_the_whole_run_not_one_unit(tmp_path, algo):
    """SB3 counts DQN's epsilon schedule against the steps of one `learn()` call: called once per
    unit, epsilon fell to its final value within the first unit. It falls over the run, as one call
    over `train.total_steps` would have it (exploration_fraction 0.5 of 2,000 steps: 1,000 steps)."""
    from rlgen.experiment import RunContext
    from rlgen.logging import Logger

    cfg = rlgen.load_config("dqn_cartpole", [*QUIET, f"logging.dir={tmp_path}", f"agent.algo={algo}", "env.n_envs=1",
                                             "train.total_steps=2000", "train.eval_every=400",
                                             "agent.hyperparams={train_freq: 4, gradient_steps: 1, learning_starts: "
                                             "100, buffer_size: 1000, batch_size: 16, exploration_fraction: 0.5, "
                                             "exploration_initial_eps: 1.0, exploration_final_eps: 0.05}"])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    try:
        seen = []
        while exp.global_step < 2000:
            exp.train_unit()
            seen.append((exp.global_step, exp.model.exploration_rate))
    finally:
        exp.close()
    assert [step for step, _ in seen] == [400, 800, 1200, 1600, 2000]
    for step, eps in seen:  # SB3's linear schedule at step / 2,000 of the run
        assert eps == pytest.approx(max(0.05, 1.0 - 0.95 * step / 1000), abs=1e-6), (step, eps)


def test_an_export_of_a_noisy_multi_env_run_learns_on_with_another_number_of_envs(tmp_path):
    """model.zip holds the one noise SB3 was given, not the run's copy per env: TD3.load with one
    env and learn() go on (the copy for 2 envs failed to reshape)."""
    from stable_baselines3 import TD3

    run = rlgen.train("td3_pendulum", [*QUIET, f"logging.dir={tmp_path}", *TINY_TD3, "env.n_envs=2",
                                       "train.total_steps=60", "train.eval_every=60"])
    from rlgen.export import export

    export(run.run_dir, "sb3", tmp_path / "out")
    model = TD3.load(tmp_path / "out" / "model.zip", env=make_vec_env("Pendulum-v1", n_envs=1), device="cpu")
    model.learn(30)
    assert model.num_timesteps >= 30
