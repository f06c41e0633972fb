"""An env whose own step() raises part way: one line naming the env, the phase and the step, and
the run directory kept with a failed summary, as a crash keeps it; rlgen's own errors keep their
traceback."""

import json

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

import rlgen
from rlgen.agents.rl.env_failures import env_failures
from rlgen.errors import RlgenError
from rlgen.scoring import best_summary

ENV_ID = "rlgen_test/Exploding-v0"


class Exploding(gym.Env):
    """Zeros and reward 1 for ever, until its `at`-th step, which raises."""

    observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self, at: int = 5):
        self.at, self.t = at, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        if self.t >= self.at:
            raise RuntimeError(f"simulator exploded at step {self.t}")
        return np.zeros(3, np.float32), 1.0, False, False, {}


@pytest.fixture(autouse=True)
def exploding_env():
    gym.register(ENV_ID, entry_point=Exploding)
    yield
    gym.registry.pop(ENV_ID, None)


def _train(run_dir, *overrides: str):
    return rlgen.train({"name": "boom", "kind": "rl", "env": {"id": ENV_ID, "n_envs": 2},
                        "agent": {"algo": "ppo", "hyperparams": {"n_steps": 64, "batch_size": 64}},
                        "train": {"total_steps": 256, "eval_every": 128, "eval_episodes": 2, "progress": False},
                        "logging": {"wandb": {"mode": "disabled"}}}, list(overrides), run_dir=run_dir)


@pytest.mark.parametrize("overrides, said", [
    ((), r"env 'rlgen_test/Exploding-v0' raised RuntimeError in the training rollout at step 8: simulator exploded "
         r"at step 5 \(test_env_failures.py:\d+, in step\(\): fix the env\)"),  # where the env raised
    (("env.kwargs.at=1000", "eval_env.kwargs.at=3"),
     r"env 'rlgen_test/Exploding-v0' raised RuntimeError in an evaluation at step 128: simulator exploded at step 3 "),
])
def test_an_env_raising_is_one_line_and_the_run_directory_stays_as_a_crash_leaves_it(tmp_path, overrides, said):
    with pytest.raises(RlgenError, match=f"^{said}") as raised:
        _train(tmp_path / "run", *overrides)
    assert "\n" not in str(raised.value) and isinstance(raised.value.__cause__, RuntimeError)
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"


def test_a_subprocess_env_raising_is_one_line_and_closes_without_a_word(tmp_path, capsys):
    with pytest.raises(RlgenError, match=r"^env 'rlgen_test/Exploding-v0' failed in the training rollout at step 8: "
                                         r"its worker process \(env.vectorize: subproc\) died \(EOFError\); its error"):
        _train(tmp_path / "run", "env.vectorize=subproc")
    assert "closing the experiment failed" not in capsys.readouterr().err
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["status"] == "failed"


class RlgenBug(Exploding):
    def step(self, action):
        return best_summary(None, None)  # an AttributeError raised in rlgen's own code, below the env's step()


def test_an_error_of_rlgens_own_code_inside_the_env_keeps_its_traceback():
    venv = DummyVecEnv([RlgenBug])
    venv.reset()
    with pytest.raises(AttributeError), env_failures("x", "the training rollout", lambda: 0):
        venv.step(np.array([0]))
