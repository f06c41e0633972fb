"""agents/rl/predict.py: evaluation's lean `predict` gives SB3's actions bit for bit, and steps
aside for what it does not cover."""

import numpy as np
import pytest
from gymnasium import spaces
from stable_baselines3.common.evaluation import evaluate_policy

from rlgen.agents.rl.experiment import RLExperiment
from rlgen.agents.rl.predict import FastPredictor, fast_predictor
from rlgen.runner import Runner
from tests.agents.rl_helpers import rl_config


def _trained(tmp_path, algo, env_id, **kw):
    cfg = rl_config(tmp_path, algo, env_id, total=256, **kw)
    exp = RLExperiment(cfg)
    Runner(cfg, exp).run()
    return exp


@pytest.mark.parametrize("algo,env_id,hyperparams", [
    ("ppo", "CartPole-v1", {"n_steps": 64, "batch_size": 64}),        # discrete actions
    ("ppo", "Pendulum-v1", {"n_steps": 64, "batch_size": 64}),        # a Gaussian: clipped to the box
    ("sac", "Pendulum-v1", {"learning_starts": 64}),                  # squashed: unscaled to the box
])
@pytest.mark.parametrize("deterministic", [True, False])
def test_actions_are_sb3_s_bit_for_bit(tmp_path, algo, env_id, hyperparams, deterministic):
    exp = _trained(tmp_path, algo, env_id, hyperparams=hyperparams)
    fast = fast_predictor(exp.model)
    assert isinstance(fast, FastPredictor)
    obs = exp.eval_env.reset()
    for _ in range(20):
        if not deterministic:
            exp.model.set_random_seed(3)
        want = exp.model.predict(obs, deterministic=deterministic)[0]
        if not deterministic:
            exp.model.set_random_seed(3)
        got = fast.predict(obs, deterministic=deterministic)[0]
        assert got.dtype == want.dtype and got.shape == want.shape
        assert np.array_equal(got, want)
        obs = exp.eval_env.step(want)[0]


def test_an_evaluation_scores_what_sb3_s_own_loop_scores(tmp_path):
    exp = _trained(tmp_path, "ppo", "CartPole-v1", hyperparams={"n_steps": 64, "batch_size": 64})
    state = exp.state_dict()["eval_env"]
    ours = exp.evaluate(8)
    exp._eval_env_saved = state
    exp._restore_eval_env()  # the same episodes again, played by SB3's predict
    returns, lengths = evaluate_policy(exp.model, exp.eval_env, n_eval_episodes=8, deterministic=True,
                                       return_episode_rewards=True, warn=False)
    assert ours["eval/return_mean"] == float(np.mean(returns)) and ours["eval/length_mean"] == float(np.mean(lengths))


def test_recurrent_policies_keep_sb3_s_predict(tmp_path):
    exp = _trained(tmp_path, "recurrent_ppo", "CartPole-v1", n_envs=2, hyperparams={"n_steps": 64, "batch_size": 64},
                   agent={"algo": "recurrent_ppo", "policy": {"backbone": {"type": "lstm", "hidden_size": 16}}})
    assert fast_predictor(exp.model) is exp.model


def test_image_observations_keep_sb3_s_predict(tmp_path):
    exp = _trained(tmp_path, "ppo", "CartPole-v1", hyperparams={"n_steps": 64, "batch_size": 64})
    assert isinstance(fast_predictor(exp.model), FastPredictor)  # flat observations: the lean path
    exp.model.policy.observation_space = spaces.Box(0, 255, (3, 8, 8), np.uint8)  # SB3 may transpose these
    assert fast_predictor(exp.model) is exp.model
