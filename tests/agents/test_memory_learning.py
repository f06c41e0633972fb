"""On the cue task a memory policy learns what a memoryless one cannot.

CueRecall with delay 3 and 2 cues: the cue at step 0, the question at step 3, reward 1 for naming
the cue, so the eval return is the success rate and a memoryless policy scores 0.5.
"""

import pytest

from rlgen.api import train
from tests.agents.rl_helpers import rl_config

CUE = {"id": "rlgen/CueRecall-v0", "kwargs": {"delay": 3, "n_cues": 2}, "n_envs": 8}
PPO = {"n_steps": 32, "batch_size": 128, "n_epochs": 4, "ent_coef": 0.01}


def success_rate(tmp_path, backbone, history):
    cfg = rl_config(tmp_path, "ppo", CUE["id"], total=8192, env={**CUE, "history": history},
                    agent={"algo": "ppo", "policy": {"backbone": backbone, "net_arch": [32]}, "hyperparams": PPO},
                    train={"eval_every": 4096, "eval_episodes": 200})
    return train(cfg).summary["final"]["eval/return_mean"]


@pytest.mark.slow
def test_memory_policy_recalls_the_cue_and_mlp_cannot(tmp_path):
    memory = success_rate(tmp_path / "lstm", {"type": "lstm", "hidden_size": 32}, {"length": 4})
    mlp = success_rate(tmp_path / "mlp", {"type": "mlp", "hidden": [32]}, None)
    assert memory >= 0.9, memory
    assert 0.35 <= mlp <= 0.65, mlp  # chance: 0.5 (200 episodes: +-0.07 at two standard deviations)
