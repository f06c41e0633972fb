"""A policy with batch norm, whose training mode refuses a batch of one row: refused in one line
before SB3's first update, wherever its batches would leave one (`algos.one_row_batch_problem`)."""

import pytest

import rlgen
from rlgen.agents.rl.algos import ALGOS, one_row_batch_problem
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.agents.rl.vec import make_vec_env
from tests.agents.rl_helpers import rl_config

BN = {"agent": {"policy": {"backbone": {"type": "mlp", "hidden": [8], "norm": "batch"}}}}


def _problem(tmp_path, algo, n_envs, hyperparams, **sections):
    cfg = rl_config(tmp_path, algo, n_envs=n_envs, hyperparams=hyperparams, **(sections or BN))
    env = make_vec_env(cfg.env, seed=0)
    try:
        learner = SB3Learner(ALGOS[algo], "MlpPolicy", env, cfg.optim, cfg.agent.policy, hyperparams, seed=0,
                             device="cpu")
        return one_row_batch_problem(learner.model)
    finally:
        env.close()


@pytest.mark.parametrize("algo, n_envs, hyperparams, said", [
    ("ppo", 2, {"n_steps": 64, "batch_size": 127}, "agent.hyperparams.batch_size: batch norm in the policy "
     "(agent.policy.backbone.norm: batch) needs batches of 2 or more; PPO cuts each rollout (n_steps 64 x n_envs 2 = 128) "
     "into batches of 127, the last of 1 row (choose a batch_size that divides 128, or use norm: layer)"),
    ("dqn", 1, {"batch_size": 1}, "agent.hyperparams.batch_size: batch norm in the policy (agent.policy.backbone.norm: "
     "batch) needs batches of 2 or more; DQN's is 1 (raise it, or use norm: layer)"),
    ("a2c", 1, {"n_steps": 1}, "agent.hyperparams.n_steps: batch norm in the policy (agent.policy.backbone.norm: batch) "
     "needs batches of 2 or more; A2C trains on each rollout (n_steps 1 x n_envs 1 = 1) whole (raise n_steps, or use "
     "norm: layer)"),
    ("ppo", 2, {"n_steps": 64, "batch_size": 63}, None),  # a last batch of 2 rows
    ("a2c", 2, {"n_steps": 1}, None),
])
def test_batches_of_one_row_under_batch_norm_are_found(tmp_path, algo, n_envs, hyperparams, said):
    assert _problem(tmp_path, algo, n_envs, hyperparams) == said


def test_without_batch_norm_a_batch_of_one_row_is_no_problem(tmp_path):
    assert _problem(tmp_path, "ppo", 2, {"n_steps": 64, "batch_size": 127},
                    agent={"policy": {"backbone": {"type": "mlp", "hidden": [8], "norm": "layer"}}}) is None


def test_a_run_that_would_train_on_one_row_is_refused_before_its_first_update_and_leaves_no_directory(tmp_path):
    from rlgen.errors import RlgenError

    cfg = rl_config(tmp_path, n_envs=2, total=256, hyperparams={"n_steps": 64, "batch_size": 127}, **BN)
    with pytest.raises(RlgenError, match=r"^agent.hyperparams.batch_size: batch norm in the policy .* the last of 1 row"):
        rlgen.train(cfg)
    assert not list(tmp_path.iterdir())


TRANSFORMER = {"type": "transformer", "d_model": 8, "n_heads": 2, "n_layers": 1, "ff_dim": 8, "norm": "batch"}


@pytest.mark.parametrize("env, backbone, one_row", [
    # a window (env.history) does not save an mlp's or an lstm's norm: it acts on (B, H) rows
    ({"history": {"length": 3}}, {"type": "mlp", "hidden": [8], "norm": "batch"}, True),
    ({"history": {"length": 3}}, {"type": "lstm", "hidden_size": 8, "norm": "batch"}, True),
    # a transformer's acts on its (B x T, D) steps: one row holds one value per channel only for T == 1
    ({"history": {"length": 1}}, TRANSFORMER, True),
    ({"history": {"length": 3}}, TRANSFORMER, False),
    # a cnn's BatchNorm2d: H x W values per channel in one image
    ({"id": "rlgen_test/TinyImage-v0"}, {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1], "hidden": 8,
                                          "norm": "batch"}, False),
    ({"history": {"length": 3}}, {"type": "lstm", "hidden_size": 8, "norm": "layer"}, False),
])
def test_batch_norm_needs_two_rows_where_it_acts_on_one_value_per_channel(tmp_path, env, backbone, one_row):
    from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/TinyImage-v0

    said = _problem(tmp_path, "a2c", 1, {"n_steps": 1}, env=env, agent={"policy": {"backbone": backbone}})
    assert (said is not None) == one_row, said
