"""The warning that a sequence backbone reads one step at a time (agents/rl/experiment.py): decided
by what the backbone reads, said once as a new run starts to train, with fixes the run accepts."""

import gymnasium as gym
import numpy as np
import pytest

from rlgen.cli import main

SMALL = ["train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1", "env.n_envs=2",
         "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=32"]
LSTM = "agent.policy.backbone={type: lstm, hidden_size: 8}"


class Shaped(gym.Env):
    """Float observations of any shape (no image: SB3 reads them as numbers), two actions."""

    action_space = gym.spaces.Discrete(2)

    def __init__(self, shape: tuple[int, ...]):
        self.observation_space = gym.spaces.Box(-1, 1, shape, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.t += 1
        return self.observation_space.sample(), 1.0, False, self.t >= 10, {}


@pytest.fixture(scope="module", autouse=True)
def shaped_envs():
    for name, shape in {"Planes": (2, 3, 4), "Steps": (3, 4)}.items():
        gym.register(id=f"rlgen_test/{name}-v0", entry_point=Shaped, kwargs={"shape": shape})
    yield
    for name in ("Planes", "Steps"):
        gym.registry.pop(f"rlgen_test/{name}-v0", None)


@pytest.mark.parametrize("env_id, warned", [("rlgen_test/Planes-v0", True), ("rlgen_test/Steps-v0", False)])
def test_the_warning_follows_what_the_backbone_reads(tmp_path, capsys, quiet, env_id, warned):
    """A (2, 3, 4) Box is flattened to one step of 24 features: no memory, which went unsaid for
    any Box of more than one axis; a (steps, features) Box is a sequence as it comes."""
    assert main(["train", "ppo_cartpole", *quiet, f"logging.dir={tmp_path}", f"env.id={env_id}", *SMALL, LSTM]) == 0
    assert ("policy has no memory" in capsys.readouterr().err) == warned


def test_the_warning_is_said_when_a_new_run_starts_only(tmp_path, capsys, quiet):
    """Not again at each eval, export or resume of the run, whose policy cannot change; and its
    recurrent_ppo fix names the backbone type recurrent_ppo takes (it refuses a gru or transformer)."""
    run = tmp_path / "run"
    common = [*quiet, "agent.policy.backbone={type: gru, hidden_size: 8}"]
    assert main(["train", "ppo_cartpole", "--run-dir", str(run), *common, *SMALL]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "policy has no memory" in err and "use algo: recurrent_ppo with backbone type: lstm" in err, err
    assert main(["eval", str(run), "--episodes", "1"]) == 0
    assert main(["train", "--resume", str(run), "train.total_steps=128"]) == 0
    assert "no memory" not in capsys.readouterr().err
