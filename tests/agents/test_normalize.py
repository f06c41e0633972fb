"""env.normalize.freeze_after: VecNormalize's statistics are estimated over the first N env steps
of training, then kept."""

import numpy as np
import pytest
from stable_baselines3.common.vec_env import unwrap_vec_normalize

from rlgen.agents.rl.experiment import RLExperiment
from rlgen.errors import ConfigError
from rlgen.api import load_config
from rlgen.runner import Runner
from tests.agents.rl_helpers import rl_config

PPO = {"n_steps": 16, "batch_size": 32, "n_epochs": 1}  # 2 envs: a unit is 32 steps


def statistics(tmp_path, total, **normalize):
    cfg = rl_config(tmp_path / f"{total}-{normalize}", "ppo", "CartPole-v1", n_envs=2, total=total, hyperparams=PPO,
                    env={"id": "CartPole-v1", "n_envs": 2, "normalize": {"obs": True, "reward": True, **normalize}})
    exp = RLExperiment(cfg)
    Runner(cfg, exp).run()
    norm = unwrap_vec_normalize(exp.env)
    return norm.obs_rms, norm.ret_rms


def test_frozen_statistics_are_those_of_the_first_n_steps(tmp_path):
    frozen_obs, frozen_ret = statistics(tmp_path, 160, freeze_after=64)
    first_obs, first_ret = statistics(tmp_path, 64)  # the same first 64 steps (a constant lr), then stopped
    for a, b in ((frozen_obs, first_obs), (frozen_ret, first_ret)):
        np.testing.assert_array_equal(a.mean, b.mean)
        np.testing.assert_array_equal(a.var, b.var)
        assert a.count == b.count
    moving_obs, _ = statistics(tmp_path, 160)
    assert moving_obs.count > frozen_obs.count + 90  # unfrozen, 96 more steps went in


def test_freeze_after_takes_effect_at_the_first_unit_starting_at_or_after_n(tmp_path):
    at_48, _ = statistics(tmp_path, 128, freeze_after=48)  # units start at 0, 32, 64: the third is frozen
    at_64, _ = statistics(tmp_path, 128, freeze_after=64)
    assert at_48.count == at_64.count < 70  # 64 steps and the 2 envs' first observations


def test_freeze_after_must_be_a_step_count():
    with pytest.raises(ConfigError, match="env.normalize.freeze_after"):
        load_config("ppo_cartpole", ["env.normalize.freeze_after=-1"])


@pytest.mark.parametrize("vectorize", ["dummy", "subproc"])
def test_a_loaded_run_has_its_statistics_also_where_its_envs_cannot_be_restored(tmp_path, vectorize):
    """Subprocess envs (and C-backed ones) start new episodes on load, but the policy learnt on
    observations scaled by the run's statistics: those come back whatever the envs."""
    from rlgen.api import load_run

    cfg = rl_config(tmp_path, "ppo", "CartPole-v1", n_envs=2, total=128, hyperparams=PPO,
                    env={"id": "CartPole-v1", "n_envs": 2, "vectorize": vectorize, "normalize": {"obs": True}})
    exp = RLExperiment(cfg)
    runner = Runner(cfg, exp)
    runner.run()
    trained = unwrap_vec_normalize(exp.env).obs_rms
    assert trained.count > 100
    with load_run(runner.run_dir) as run:
        loaded = unwrap_vec_normalize(run.experiment.env).obs_rms
        np.testing.assert_array_equal(loaded.mean, trained.mean)
        np.testing.assert_array_equal(loaded.var, trained.var)
        assert loaded.count == trained.count
