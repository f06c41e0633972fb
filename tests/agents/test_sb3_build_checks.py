"""What SB3 would refuse as it builds the algorithm, refused first in rlgen's words
(agents/rl/build_checks.py): an action space the algorithm cannot act in, and
optimize_memory_usage beside the replay buffer's time-limit handling."""

import gymnasium as gym
import pytest

from rlgen.agents.rl.algos import ALGOS
from rlgen.agents.rl.build_checks import acts_in
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
