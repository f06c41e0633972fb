"""agents/rl/vec.py: what an env returns is checked against its own observation_space on every step
(a shape, a choice past n), eval envs are probed as training's are, an env of gym's older API is one
line, and a subprocess worker that dies is an error whichever copy it runs."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rlgen.agents.rl.env_failures import close_vec_env
from rlgen.agents.rl.vec import make_vec_env, outside_space
from rlgen.cli import main
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError

ENV = "rlgen_test/Breaking-v0"
SMALL = ["env.normalize=null", "env.n_envs=2", "agent.hyperparams={n_steps: 16, batch_size: 32, n_epochs: 1}",
         "train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1"]


class Breaking(gym.Env):
    """Box(3,) observations (Discrete(5) where `discrete`) that break the space from step `at` of an
    episode on (0: at reset): 4 floats, or the choice 7; `how="raise"`: the copy seeded 1 raises in
    its step `at`; `how="bare"`: reset() returns the observation alone (gym's older API)."""

    action_space = spaces.Discrete(2)

    def __init__(self, how="shape", at=3, discrete=False):
        self.how, self.at = how, at
        self.observation_space = spaces.Discrete(5) if discrete else spaces.Box(-1, 1, (3,), np.float32)

    def _obs(self):
        broken = self.how in ("shape", "choice") and self.t >= self.at
        if isinstance(self.observation_space, spaces.Discrete):
            return 7 if broken else 1
        return np.zeros(4 if broken else 3, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        if seed is not None:
            self.seeded_odd = seed % 2 == 1
        self.t = 0
        return self._obs() if self.how == "bare" else (self._obs(), {})

    def step(self, action):
        self.t += 1
        if self.how == "raise" and self.seeded_odd and self.t == self.at:
            raise ValueError("boom in the copy seeded 1")
        return self._obs(), 1.0, self.t >= 8, False, {}


@pytest.fixture(scope="module", autouse=True)
def breaking_env():
    gym.register(id=ENV, entry_point=Breaking)
    yield
    gym.registry.pop(ENV, None)


def _train(tmp_path, quiet, *overrides):
    return main(["train", "ppo_cartpole", f"env.id={ENV}", f"logging.dir={tmp_path}", *SMALL, *quiet, *overrides])


def _one_line(capsys) -> str:
    """The error, one line (after the line a run that started prints)."""
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("error:") == 1, err
    return err.strip().splitlines()[-1]


@pytest.mark.parametrize("vectorize", ["dummy", "subproc"])
@pytest.mark.parametrize("kwargs, says", [
    ("{how: shape}", "step() returned an observation of shape (4,), but its observation_space is Box("),
    ("{how: choice, discrete: true}", "step() returned the observation 7, but its observation_space is Discrete(5)"),
    ("{how: choice, discrete: true, at: 0}", "reset() returned the observation 7, but its observation_space is "
                                             "Discrete(5)"),
])
def test_an_observation_that_breaks_the_space_is_one_line(tmp_path, capsys, quiet, vectorize, kwargs, says):
    """Mid-episode (past the probe's first step) or at the first reset; before, numpy's broadcast
    error inside SB3, or torch's "mat1 and mat2 shapes" or "Class values must be smaller"."""
    assert _train(tmp_path, quiet, f"env.kwargs={kwargs}", f"env.vectorize={vectorize}") == 2
    assert f"env '{ENV}': {says}" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == []  # in the first unit: the run never started


def test_a_multidiscrete_choice_past_n_names_where():
    assert outside_space(np.array([1, 5]), spaces.MultiDiscrete([3, 3])) == "an observation with 5 at index (1,)"
    assert outside_space(np.array([0, 2]), spaces.MultiBinary(2)) == "an observation with 2 at index (1,)"
    assert outside_space(np.array([1, 2]), spaces.MultiDiscrete([3, 3])) is None
    assert outside_space(4, spaces.Discrete(2, start=3)) is None  # choices 3 and 4


def test_an_eval_env_that_breaks_its_space_is_refused_before_any_run_directory(tmp_path, capsys, quiet):
    assert _train(tmp_path, quiet, "env.kwargs={how: shape, at: 100}", "eval_env={kwargs: {at: 0}}") == 2
    assert f"eval_env '{ENV}': reset() returned an observation of shape (4,)" in _one_line(capsys)
    assert list(tmp_path.iterdir()) == []


def test_a_reset_of_gyms_older_api_says_so():
    with pytest.raises(RlgenError, match=r"^env 'rlgen_test/Breaking-v0': reset\(\) must return \(obs, info\) "
                                         r"\(gymnasium's API\), got an array of shape \(3,\)"):
        make_vec_env(EnvConfig(id=ENV, n_envs=1, kwargs={"how": "bare"}), seed=0)


def test_a_dead_worker_that_is_not_the_first_is_one_line_not_a_hang(tmp_path, capsys, quiet):
    """Copy 1's worker dies: workers forked before it held its pipe open, so the trainer waited on it for good."""
    assert _train(tmp_path, quiet, "env.kwargs={how: raise}", "env.vectorize=subproc") == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert f"env '{ENV}' failed in the training rollout" in err and "its worker process" in err


def test_a_vector_env_closes_after_its_last_worker_died():
    vec = make_vec_env(EnvConfig(id=ENV, n_envs=2, vectorize="subproc", kwargs={"how": "raise"}), seed=0)
    vec.reset()
    with pytest.raises(EOFError):
        for _ in range(3):
            vec.step(np.zeros(2, np.int64))
    close_vec_env(vec)  # waits on no answer of the live worker's, which it had given
    assert all(not p.is_alive() for p in vec.unwrapped.processes)
