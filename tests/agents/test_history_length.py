"""env.history.length has an upper bound (rlgen.config.MAX_HISTORY): 1e9 was a MemoryError traceback
that left a failed run directory, and 100,000 a first unit that never ended."""

import gymnasium as gym
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rlgen.agents.rl.history import VecHistory
from rlgen.api import load_config
from rlgen.config import MAX_HISTORY
from rlgen.errors import ConfigError, RlgenError

CONFIG = "configs/ppo_lstm_cartpole_novel.yaml"


@pytest.mark.parametrize("length", ["1e9", "100000", str(MAX_HISTORY + 1)])
def test_a_window_longer_than_the_bound_is_refused_as_the_config_loads(length):
    with pytest.raises(ConfigError) as info:
        load_config(CONFIG, [f"env.history.length={length}"])
    (problem,) = info.value.problems
    assert problem.startswith(f"env.history.length: Input should be less than or equal to {MAX_HISTORY}")


def test_the_bound_itself_loads():
    assert load_config(CONFIG, [f"env.history.length={MAX_HISTORY}"]).env.history.length == MAX_HISTORY


def test_a_window_made_in_python_has_the_same_bound():
    venv = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    with pytest.raises(RlgenError, match=f"^env.history.length must be from 1 to 10,000, got {MAX_HISTORY + 1}$"):
        VecHistory(venv, MAX_HISTORY + 1)
    venv.close()
