"""Evaluation takes the training env's VecNormalize statistics even when the two wrapper chains
differ (imitation trains on the discriminator's reward, evaluates on the env's)."""

from __future__ import annotations

import numpy as np
import pytest
from stable_baselines3.common.vec_env import unwrap_vec_normalize

import rlgen
from rlgen.agents.rl.experiment import _eval_env_config
from rlgen.envs import make_env_fn
from rlgen.envs.demos import write_demos
from rlgen.envs.recording import record_episodes
from rlgen.errors import RlgenError
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


def test_a_new_run_evaluating_on_other_normalization_is_refused_before_its_directory(tmp_path):
    """Raw observations into a policy trained on normalized ones score a fraction of its return."""
    said = (r"^eval_env.normalize differs from env.normalize, but evaluation normalizes observations as training "
            r"does, with its statistics: drop eval_env.normalize$")
    with pytest.raises(RlgenError, match=said):
        rlgen.train("ppo_cartpole", ["eval_env.normalize=null", "logging.wandb.mode=disabled"], run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("given", ["null", "{obs: true, reward: true}"])
def test_evaluation_envs_normalize_as_training_whatever_eval_env_says(given):
    """A run trained with it (an rlgen that honoured it) opens and evaluates as it trained."""
    cfg = rlgen.load_config("ppo_cartpole", [f"eval_env.normalize={given}"])
    assert _eval_env_config(cfg).normalize == cfg.env.normalize is not None


@pytest.mark.parametrize("kind", ["bc", "imitation"])
def test_the_imitation_kinds_refuse_other_eval_normalization_as_rl_does(tmp_path, kind):
    """They evaluate on kind rl's eval envs, normalized as training is: the setting was ignored in silence."""
    demos = write_demos(record_episodes(Identity(), make_env_fn("rlgen/Identity-v0"), episodes=2, seed=0),
                        tmp_path / "demos", env_id="rlgen/Identity-v0")
    from tests.agents.imitation.test_bc import bc_config

    cfg = (bc_config(tmp_path, "rlgen/Identity-v0", demos, total=20) if kind == "bc" else
           gail_config(tmp_path, demos, total=256))
    with pytest.raises(RlgenError, match=r"^eval_env.normalize differs from env.normalize"):
        rlgen.train(cfg, ["eval_env.normalize={obs: true}"], run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
