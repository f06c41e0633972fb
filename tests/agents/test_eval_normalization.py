"""Evaluation takes the training env's VecNormalize statistics even when the two wrapper chains
differ (imitation trains on the discriminator's reward, evaluates on the env's)."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import unwrap_vec_normalize

import rlgen
from rlgen.envs import make_env_fn
from rlgen.envs.demos import record_episodes, write_demos
from tests.agents.imitation.test_bc import Identity
from tests.agents.imitation.test_imitation import gail_config


def test_imitation_with_reward_normalization_evaluates(tmp_path):
    """The README's setting for imitation: rewards normalized (the discriminator's), observations raw."""
    demos = write_demos(record_episodes(Identity(), make_env_fn("rlgen/Identity-v0"), episodes=3, seed=0),
                        tmp_path / "demos", env_id="rlgen/Identity-v0")
    run = rlgen.train(gail_config(tmp_path, demos, total=256, env={"normalize": {"obs": False, "reward": True}}))
    assert run.summary["status"] == "completed" and np.isfinite(run.summary["final"]["eval/return_mean"])
    with rlgen.load_run(run.run_dir) as opened:  # the statistics the evaluation uses are the training env's
        exp = opened.experiment
        exp.evaluate(2)
        trained, evaluated = unwrap_vec_normalize(exp.env), unwrap_vec_normalize(exp.eval_env)
        assert np.array_equal(evaluated.ret_rms.var, trained.ret_rms.var) and trained.ret_rms.count > 1


def test_rl_evaluation_takes_the_training_observation_statistics(tmp_path):
    run = rlgen.train("ppo_cartpole", ["train.total_steps=512", "train.eval_every=512", "train.eval_episodes=2",
                                       "env.normalize.freeze_after=null", f"logging.dir={tmp_path}",
                                       "logging.wandb.mode=disabled", "train.progress=false"])
    with rlgen.load_run(run.run_dir) as opened:
        exp = opened.experiment
        exp.evaluate(2)
        trained, evaluated = unwrap_vec_normalize(exp.env), unwrap_vec_normalize(exp.eval_env)
        assert np.array_equal(evaluated.obs_rms.mean, trained.obs_rms.mean) and trained.obs_rms.mean.any()
        assert evaluated.obs_rms is not trained.obs_rms  # a copy: evaluation never updates training's
