"""`agent.hyperparams.action_noise` of `kind: rl`: a malformed one is one line before any run
starts (it was a TypeError in setup, or numpy's "scale < 0" at the first noisy step, with a run
directory left behind), Ornstein-Uhlenbeck's own keys reach SB3 (they were dropped without a word),
and a run with them still resumes bit for bit (tests/agents/test_rl_units.py)."""

import numpy as np
import pytest
import torch
import yaml
from stable_baselines3.common.env_util import make_vec_env

from rlgen.agents.rl.action_noise import check_noise_keys, with_action_noise
from rlgen.cli import main
from rlgen.errors import RlgenError
from rlgen.experiment import RunContext
from rlgen.logging import Logger

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false", "train.eval_episodes=1",
         "train.early_stop.target=null", "train.early_stop.metric=eval/none", "train.keep_checkpoints=100"]
TINY_TD3 = ["agent.policy.backbone={type: mlp, hidden: [16]}", "agent.policy.net_arch=[16]",
            "agent.hyperparams.learning_starts=10", "agent.hyperparams.buffer_size=500", "agent.hyperparams.batch_size=16"]
OU = "{type: ornstein_uhlenbeck, sigma: [0.5], theta: 0.5, dt: 0.05, initial_noise: 0.3}"


@pytest.mark.parametrize("noise, says", [
    ("{type: normal, sigma: [0.1, 0.2]}", "action_noise.sigma: [0.1, 0.2] does not fit the env's actions of shape (1,)"),
    ("normal", "action_noise: 'normal' is not a noise; write {type: normal, sigma: 0.1}"),
    ("{type: normal, sigma: -0.5}", "action_noise.sigma: -0.5 is not a number >= 0 or a list of them"),
    ("{type: normal, sigma: [0.1, [0.2]]}", "action_noise.sigma: [0.1, [0.2]] is not a number >= 0"),
    ("{type: ornstein_uhlenbeck, dt: 0}", "action_noise.dt: 0 is not a number > 0"),
    ("{type: ornstein_uhlenbeck, std: 0.5, theta: 0.5}",
     "action_noise: ornstein_uhlenbeck noise takes no 'std' (its keys: type, sigma, theta, dt, initial_noise)"),
    ("{type: normal, theta: 0.5}", "action_noise: normal noise takes no 'theta' (its keys: type, sigma)"),
    ("{type: [normal]}", "action_noise.type: ['normal'] is not one of normal, ornstein_uhlenbeck"),
])
def test_a_malformed_action_noise_is_one_line_and_no_run(tmp_path, capsys, noise, says):
    code = main(["train", "td3_pendulum", *QUIET, *TINY_TD3, "train.total_steps=40", "train.eval_every=40",
                 f"agent.hyperparams.action_noise={noise}", "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and says in err, err
    assert not (tmp_path / "run").exists()


def test_ou_noise_takes_its_own_keys_and_a_sigma_per_dimension():
    """theta, dt and initial_noise were dropped (SB3's 0.15, 0.01 and zeros ran instead)."""
    env = make_vec_env("Pendulum-v1", n_envs=1, seed=0)
    spec = yaml.safe_load(OU)
    noise = with_action_noise({"action_noise": spec}, env)["action_noise"]
    assert (noise._theta, noise._dt) == (0.5, 0.05)
    np.testing.assert_array_equal(noise._sigma, [0.5])
    np.testing.assert_array_equal(noise.noise_prev, [0.3])  # where each episode's noise starts
    normal = with_action_noise({"action_noise": {"sigma": 0.2}}, env)["action_noise"]
    np.testing.assert_array_equal(normal._sigma, [0.2])  # type: normal is the default


@pytest.mark.parametrize("training, resumed, says", [(True, False, "error"), (True, True, "warning"), (False, False, "")])
def test_a_key_the_noise_does_not_take_refuses_a_new_run_only(tmp_path, capsys, training, resumed, says):
    """A run an earlier rlgen trained with a key it dropped (`std`) still opens, and resumes with a warning."""
    ctx = RunContext(None, tmp_path, torch.device("cpu"), Logger([]), 0, training=training, resumed=resumed)
    hyperparams = {"action_noise": {"type": "normal", "std": 0.5}}
    try:
        check_noise_keys(hyperparams, ctx)
        said = "warning" if "normal noise takes no 'std'" in capsys.readouterr().err.replace("\n", " ") else ""
    except RlgenError as e:
        said = "error" if str(e).startswith("agent.hyperparams.action_noise: normal noise takes no 'std'") else str(e)
    assert said == says
