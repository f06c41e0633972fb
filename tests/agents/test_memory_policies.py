"""Memory by config for every SB3 algorithm: history windows, and RecurrentPPO's carried state."""

import numpy as np
from stable_baselines3.common.vec_env import unwrap_vec_normalize
import pytest

from rlgen.agents.rl.experiment import RLExperiment
from rlgen.agents.rl.sb3_bridge import BackboneExtractor
from rlgen.runner import Runner
from tests.agents.rl_helpers import rl_config

LSTM = {"type": "lstm", "hidden_size": 16}
OFF_POLICY = {"learning_starts": 64, "buffer_size": 1000, "batch_size": 32}
ALGOS = {  # algo: (env id, hyperparams)
    "ppo": ("rlgen/CartPoleNoVel-v1", {"n_steps": 32, "batch_size": 64, "n_epochs": 1}),
    "a2c": ("rlgen/CartPoleNoVel-v1", {"n_steps": 8}),
    "dqn": ("rlgen/CartPoleNoVel-v1", OFF_POLICY),
    "sac": ("rlgen/PendulumNoVel-v1", OFF_POLICY),
    "td3": ("rlgen/PendulumNoVel-v1", OFF_POLICY),
}


def run(tmp_path, algo, env_id, hyperparams, backbone=LSTM, total=128, **env):
    cfg = rl_config(tmp_path, algo, env_id, n_envs=2, total=total, hyperparams=hyperparams,
                    agent={"algo": algo, "policy": {"backbone": backbone, "net_arch": [16]}},
                    env={"id": env_id, "n_envs": 2, **env})
    exp = RLExperiment(cfg)
    summary = Runner(cfg, exp).run()
    return exp, summary


@pytest.mark.parametrize("algo", sorted(ALGOS))
def test_every_algorithm_trains_on_a_history_window(tmp_path, algo):
    env_id, hyperparams = ALGOS[algo]
    exp, summary = run(tmp_path, algo, env_id, hyperparams,
                       history={"length": 4, "actions": True, "rewards": True})
    assert summary["status"] == "completed" and summary["global_step"] >= 128
    extractors = [m for m in exp.model.policy.modules() if isinstance(m, BackboneExtractor)]
    assert extractors and all(e.masked for e in extractors)
    obs_dim, act_dim = (2, 2) if "CartPole" in env_id else (2, 1)
    assert extractors[0].in_shape == (4, obs_dim + act_dim + 1)  # the flag is split off
    window = exp.env.reset()
    assert window.shape == (2, 4, obs_dim + act_dim + 2)
    assert exp.predict(window).shape[0] == 2


def test_history_under_normalization_keeps_flags_and_syncs_eval(tmp_path):
    exp, summary = run(tmp_path, "ppo", *ALGOS["ppo"], normalize={"reward": False},
                       history={"length": 3})
    window = exp.env.reset()
    assert set(np.unique(window[..., -1])) == {0.0, 1.0}  # VecNormalize never touched the flags
    saved = exp.state_dict()["env"]["tree"]  # the window wrapper, and under it VecNormalize's statistics
    assert saved["__object__"].endswith("VecHistory") and saved["attrs"]["venv"]["__object__"].endswith("VecNormalize")
    live = unwrap_vec_normalize(exp.env).obs_rms
    np.testing.assert_array_equal(saved["attrs"]["venv"]["attrs"]["obs_rms"]["attrs"]["mean"], live.mean)
    assert "eval/return_mean" in summary["final"]


def test_history_mlp_reads_the_flattened_window(tmp_path):
    exp, _ = run(tmp_path, "ppo", *ALGOS["ppo"], backbone={"type": "mlp", "hidden": [16]}, history={"length": 3})
    extractor = exp.model.policy.features_extractor
    assert extractor.in_shape == (3 * 3,) and not extractor.masked


@pytest.mark.parametrize("share", [True, False])
def test_lstm_backbone_maps_onto_recurrent_ppo(tmp_path, share):
    cfg = rl_config(tmp_path, "recurrent_ppo", "rlgen/CartPoleNoVel-v1", n_envs=2, total=64,
                    agent={"algo": "recurrent_ppo", "hyperparams": {"n_steps": 32, "batch_size": 32},
                           "policy": {"backbone": {"type": "lstm", "hidden_size": 24, "num_layers": 2},
                                      "share_backbone": share}})
    exp = RLExperiment(cfg)
    summary = Runner(cfg, exp).run()
    policy = exp.model.policy
    assert summary["status"] == "completed"
    assert (policy.lstm_actor.hidden_size, policy.lstm_actor.num_layers) == (24, 2)
    assert not isinstance(policy.features_extractor, BackboneExtractor)  # the LSTM reads the observation
    assert policy.shared_lstm == share and (policy.lstm_critic is not None) == (not share)


def test_lstm_backbone_starts_with_forget_gate_bias_two():
    """Without it the cell halves what it holds each step and the 20-step cue task is not learnt."""
    from rlgen.nets import build_backbone

    lstm = build_backbone({"type": "lstm", "hidden_size": 5, "num_layers": 2}, (3, 2)).rnn
    for layer in range(2):
        total = getattr(lstm, f"bias_ih_l{layer}") + getattr(lstm, f"bias_hh_l{layer}")  # (4 * 5,), gates i f g o
        assert total[5:10].tolist() == [2.0] * 5
        assert not (total[:5] == 2.0).all()  # the other gates keep torch's draw
