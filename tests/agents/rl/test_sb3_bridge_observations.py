"""SB3Learner on a vector env made elsewhere than make_vec_env (SB3's own, no per-step checks): an
observation that breaks the env's space is one line after torch's error, not torch's traceback."""

import gymnasium as gym
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rlgen.agents.rl.algos import ALGOS
from rlgen.agents.rl.config import PolicyConfig
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.config import OptimConfig
from rlgen.errors import RlgenError
from tests.agents.rl.test_vec_observations import Breaking


def test_a_choice_past_n_is_one_line_naming_the_step():
    env = DummyVecEnv([lambda: gym.wrappers.PassiveEnvChecker(Breaking("choice", at=3, discrete=True))])
    learner = SB3Learner(ALGOS["ppo"], "MlpPolicy", env, OptimConfig(), PolicyConfig(),
                         {"n_steps": 16, "batch_size": 16, "n_epochs": 1}, seed=0, device="cpu", target="env 'x'")
    with pytest.raises(RlgenError, match=r"^env 'x' returned the observation 7 by step \d+, but its observation_space "
                                         r"is Discrete\(5\)"):
        learner.learn_unit(16, 0, 16)
