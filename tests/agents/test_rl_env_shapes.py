"""`kind: rl` on envs whose shapes no bundled config has: action noise on a matrix of actions, and
an `eval_env` whose spaces differ from the training env's."""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

import rlgen
from rlgen.cli import main
from rlgen.errors import RlgenError

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false", "train.eval_episodes=1"]


class MatrixActions(gym.Env):
    """Actions are a (2, 2) matrix in [0, 10]; the reward is for entries near 7."""

    observation_space = spaces.Box(-1, 1, (3,), np.float32)
    action_space = spaces.Box(0.0, 10.0, (2, 2), np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

    def step(self, action):
        self.t += 1
        obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
        return obs, -float(np.abs(np.asarray(action) - 7).mean()), False, self.t >= 20, {}


@pytest.fixture(scope="module", autouse=True)
def matrix_env():
    gym.register(id="rlgen_test/MatrixActions-v0", entry_point=MatrixActions)
    yield
    gym.registry.pop("rlgen_test/MatrixActions-v0", None)


@pytest.mark.parametrize("noise", ["normal", "ornstein_uhlenbeck"])
def test_action_noise_takes_the_shape_of_a_matrix_action(tmp_path, noise):
    """SB3 adds the noise to the (2, 2) action: noise of 4 values did not broadcast (a traceback
    at the first step after learning_starts)."""
    run = rlgen.train("td3_pendulum", [*QUIET, f"logging.dir={tmp_path}", "env.id=rlgen_test/MatrixActions-v0",
                                       "env.n_envs=2", "env.normalize=null", "train.total_steps=120",
                                       "train.eval_every=120", "agent.policy.backbone={type: mlp, hidden: [8]}",
                                       "agent.policy.net_arch=[8]",
                                       "agent.hyperparams={learning_starts: 40, batch_size: 16, buffer_size: 500, "
                                       f"action_noise: {{type: {noise}, sigma: 0.1}}}}"])
    assert run.summary["status"] == "completed"


@pytest.mark.parametrize("eval_env", ["{frame_stack: 2}", "{id: Acrobot-v1}", "{history: {length: 3}}"])
def test_an_eval_env_with_other_spaces_is_refused_before_training(tmp_path, capsys, eval_env):
    """It crashed at the first evaluation, after eval_every steps of training; now one line and no run."""
    code = main(["train", "ppo_cartpole", *QUIET, f"logging.dir={tmp_path}", f"eval_env={eval_env}"])
    err = capsys.readouterr().err
    assert code == 2 and "eval_env: its observation space" in err and "training env's" in err, err
    assert len(err.strip().splitlines()) == 1
    assert not any(tmp_path.rglob("config.yaml"))


def test_an_eval_env_that_keeps_the_spaces_still_runs(tmp_path):
    run = rlgen.train("ppo_cartpole", [*QUIET, f"logging.dir={tmp_path}", "train.total_steps=512",
                                       "train.eval_every=512", "eval_env={kwargs: {max_episode_steps: 50}}"])
    assert run.summary["status"] == "completed"


@pytest.mark.parametrize("extra, warned", [([], True), (["env.frame_stack=4"], True),
                                           (["env.history={length: 4}"], False), (["agent.algo=recurrent_ppo"], False)])
def test_a_sequence_backbone_over_flat_observations_says_it_has_no_memory(tmp_path, capsys, extra, warned):
    """An LSTM over CartPole's 4 numbers reads one step: the policy remembers nothing, said at setup."""
    code = main(["train", "ppo_cartpole", *QUIET, f"logging.dir={tmp_path}", "train.total_steps=64",
                 "train.eval_every=64", "env.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=32",
                 "agent.policy.backbone={type: lstm, hidden_size: 8}", *extra])
    err = capsys.readouterr().err
    assert code == 0, err
    assert ("policy has no memory" in err) == warned, err
    assert ("env.frame_stack concatenates" in err) == ("env.frame_stack=4" in extra)


def test_an_eval_env_whose_bounds_alone_differ_is_accepted(tmp_path):
    """TimeAwareObservation's time feature is bounded by the step limit: another limit for
    evaluation changes a bound, not what the policy reads."""
    run = rlgen.train("ppo_cartpole", [*QUIET, f"logging.dir={tmp_path}", "train.total_steps=512",
                                       "train.eval_every=512", "env.wrappers=[TimeAwareObservation]",
                                       "eval_env={kwargs: {max_episode_steps: 1000}}"])
    assert run.summary["status"] == "completed"


@pytest.mark.parametrize("override, says", [
    ("eval_env.kwargs=null", "eval_env.kwargs: needs a value, and got none (an empty override `eval_env.kwargs=` or null): give a mapping"),
    ("eval_env.kwargs=5", "eval_env.kwargs: Input should be a valid dictionary (got 5)"),
    ("eval_env.wrappers=null", "eval_env.wrappers: needs a value, and got none (an empty override `eval_env.wrappers=` or null): give a list"),
])
def test_an_eval_env_value_of_the_wrong_type_is_one_config_line(tmp_path, capsys, override, says):
    """The eval env's step cap was added before its values were checked: a TypeError traceback."""
    assert main(["train", "ppo_cartpole", *QUIET, f"logging.dir={tmp_path}", override]) == 2
    err = capsys.readouterr().err
    assert says in " ".join(err.split()) and "Traceback" not in err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())
