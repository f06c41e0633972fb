"""What SB3 would refuse as it builds the algorithm, refused first in rlgen's words
(agents/rl/build_checks.py): an action space the algorithm cannot act in, a Box without the bounds
it needs, and optimize_memory_usage beside the replay buffer's time-limit handling."""

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rlgen.agents.rl.algos import ALGOS
from rlgen.agents.rl.build_checks import action_space_problem, acts_in
from rlgen.cli import main


def refused(capsys, tmp_path, args: list[str], quiet: list[str]) -> str:
    """The one error line of `rlgen train args`, which exits 2 and leaves no run directory."""
    assert main(["train", *args, *quiet, "--run-dir", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()
    return err


@pytest.mark.parametrize("config, env_id, says", [
    ("td3_pendulum", "CartPole-v1", "agent.algo: td3 needs continuous (Box) actions, and env 'CartPole-v1' acts in "
                                    "Discrete(2); use one of ppo, a2c, dqn, recurrent_ppo, qrdqn, trpo"),
    ("dqn_cartpole", "Pendulum-v1", "agent.algo: dqn needs Discrete actions, and env 'Pendulum-v1' acts in "
                                    "Box(-2.0, 2.0, (1,), float32); use one of ppo, a2c, sac, td3, ddpg, recurrent_ppo, "
                                    "tqc, trpo"),
])
def test_an_algorithm_in_the_wrong_action_space_names_the_ones_that_fit(tmp_path, capsys, quiet, config, env_id, says):
    """It was SB3's assertion text: "The algorithm only supports (<class ...Box'>,) as action spaces"."""
    assert refused(capsys, tmp_path, [config, f"env.id={env_id}"], quiet) == f"error: {says}"


def test_acts_in_asks_sb3_without_building_networks():
    box, discrete = gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(3)
    assert [acts_in(ALGOS[n], box) for n in ("sac", "dqn", "ppo")] == [True, False, True]
    assert [acts_in(ALGOS[n], discrete) for n in ("sac", "dqn", "maskable_ppo")] == [False, True, True]


def test_optimize_memory_usage_names_the_setting_it_needs(tmp_path, capsys, quiet):
    small = ["train.total_steps=200", "train.eval_every=200", "train.eval_episodes=1",
             "agent.hyperparams.learning_starts=50", "agent.hyperparams.train_freq=50", "agent.hyperparams.gradient_steps=1",
             "agent.hyperparams.optimize_memory_usage=true"]
    err = refused(capsys, tmp_path, ["dqn_cartpole", *small], quiet)
    fix = "agent.hyperparams.replay_buffer_kwargs={handle_timeout_termination: false}"
    assert err.startswith("error: agent.hyperparams.optimize_memory_usage: ") and fix in err, err
    assert main(["train", "dqn_cartpole", *small, *quiet, f"logging.dir={tmp_path}", fix]) == 0  # the fix trains


class _BoxActions(gym.Env):
    """Acts in Box(low, high); observes three zeros; 20 steps an episode."""

    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)

    def __init__(self, low, high):
        self.action_space = gym.spaces.Box(np.array(low, np.float32), np.array(high, np.float32))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(3, np.float32), 0.0, False, self.t >= 20, {}


@pytest.fixture(scope="module", autouse=True)
def box_envs():
    bounds = {"Fixed": ([0, 1], [1, 1]), "Unbounded": ([-np.inf] * 2, [np.inf] * 2)}
    for name, (low, high) in bounds.items():
        gym.register(id=f"rlgen_test/{name}-v0", entry_point=_BoxActions, kwargs={"low": low, "high": high})
    yield
    for name in bounds:
        gym.registry.pop(f"rlgen_test/{name}-v0", None)


@pytest.mark.parametrize("env_id, algo, says", [
    ("Fixed", "sac", "agent.algo: sac rescales actions by high - low, and action dimension 1 of env "
                     "'rlgen_test/Fixed-v0' has low == high (1.0); drop the dimension or wrap the env"),
    ("Unbounded", "sac", "env 'rlgen_test/Unbounded-v0' acts in Box(-inf, inf, (2,), float32): actions need finite "
                         "low/high bounds; give the env's action_space the bounds its actions take"),
    ("Unbounded", "ppo", "env 'rlgen_test/Unbounded-v0' acts in Box(-inf, inf, (2,), float32): actions need finite"),
])
def test_a_box_without_the_bounds_sb3_needs_says_which_bound(tmp_path, capsys, quiet, env_id, algo, says):
    """It was NaN actions blamed on the env (sac, a fixed dimension), or "sac needs continuous (Box)
    actions, and env acts in Box(-inf, inf, ...)" (unbounded)."""
    err = refused(capsys, tmp_path, ["td3_pendulum", f"env.id=rlgen_test/{env_id}-v0", f"agent.algo={algo}",
                                     "env.normalize=null", "agent.hyperparams={}"], quiet)
    assert err.startswith(f"error: {says}"), err


def test_a_fixed_dimension_refuses_off_policy_algorithms_only():
    env = DummyVecEnv([lambda: _BoxActions([0, 1], [1, 1])])
    assert [action_space_problem(ALGOS[n], env, "env") for n in ("ppo", "a2c", "trpo")] == [None] * 3
    assert all(action_space_problem(ALGOS[n], env, "env") for n in ("sac", "td3", "ddpg", "tqc"))
    assert action_space_problem(ALGOS["dqn"], env, "env").endswith("use one of ppo, a2c, recurrent_ppo, trpo")
