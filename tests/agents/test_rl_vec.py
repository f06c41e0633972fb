"""`make_vec_env`: an env that breaks its own observation_space is one line before any run directory,
the config section that made an env is the one its error names, and subprocess workers never
outlive a trainer killed outright."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

from rlgen import checkpoint
from rlgen.agents.rl.vec import make_vec_env
from rlgen.cli import main
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false",
         "agent.hyperparams={n_steps: 16, batch_size: 32, n_epochs: 1}", "train.total_steps=64",
         "train.eval_every=64", "train.eval_episodes=1"]


class StepShape(gym.Env):
    """Box(3,) observations; step() returns `step_shape` ones, draws from the global numpy RNG, and
    raises where `fail`; only action `legal` is allowed where it is given (sb3-contrib's `action_masks`)."""

    observation_space = spaces.Box(-1, 1, (3,), np.float32)
    action_space = spaces.Discrete(3)

    def __init__(self, step_shape=(3,), legal=None, fail=False):
        self.step_shape, self.legal, self.fail = tuple(step_shape), legal, fail

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        if self.fail:
            raise RuntimeError("boom")
        if self.legal is not None and action != self.legal:
            raise ValueError(f"illegal move {action}")
        self.t += 1
        return np.full(self.step_shape, np.random.uniform(-1, 1), np.float32), 1.0, self.t >= 5, False, {}

    def action_masks(self):
        return np.arange(3) == (self.legal if self.legal is not None else np.arange(3))


@pytest.fixture(scope="module", autouse=True)
def step_shape_env():
    gym.register(id="rlgen_test/StepShape-v0", entry_point=StepShape)
    yield
    gym.registry.pop("rlgen_test/StepShape-v0", None)


@pytest.mark.parametrize("kwargs, says", [
    ("{step_shape: [4]}", "env 'rlgen_test/StepShape-v0': step() returned an observation of shape (4,), but its "
                          "observation_space is Box("),
    ("{fail: true}", "env 'rlgen_test/StepShape-v0' raised RuntimeError in its first step(): boom (fix the env"),
])
@pytest.mark.parametrize("vectorize", ["dummy", "subproc"])
def test_a_first_step_that_breaks_is_one_line_and_no_run_directory(tmp_path, capsys, vectorize, kwargs, says):
    assert main(["train", "ppo_cartpole", "env.id=rlgen_test/StepShape-v0", "env.normalize=null", "env.n_envs=2",
                 f"env.kwargs={kwargs}", f"env.vectorize={vectorize}", f"logging.dir={tmp_path}", *QUIET]) == 2
    err = capsys.readouterr().err
    assert says in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_probe_step_leaves_the_global_rngs_as_they_were():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    make_vec_env(EnvConfig(id="rlgen_test/StepShape-v0", n_envs=1), seed=0).close()
    assert np.array_equal(np.random.get_state()[1], before)


def test_the_probe_step_takes_an_action_the_masks_allow():
    make_vec_env(EnvConfig(id="rlgen_test/StepShape-v0", n_envs=1, kwargs={"legal": 0}), seed=0).close()


def test_an_eval_env_that_cannot_be_made_names_eval_env():
    with pytest.raises(RlgenError, match=r"could not create eval_env 'CartPole-v1' \(check eval_env.kwargs and "
                                         r"eval_env.wrappers\): TypeError: .*'bogus'"):
        make_vec_env(EnvConfig(id="CartPole-v1", n_envs=2, kwargs={"bogus": 3}), seed=0, training=False,
                     section="eval_env")


def test_a_run_whose_eval_env_cannot_be_made_names_eval_env_not_env(tmp_path):
    """The run's own eval envs (agents/rl/experiment.py) name the section that broke them."""
    import rlgen

    with pytest.raises(RlgenError, match=r"could not create eval_env 'CartPole-v1' \(check eval_env.kwargs"):
        rlgen.train("ppo_cartpole", ["eval_env={kwargs: {bogus: 3}}", "logging.wandb.mode=disabled"],
                    run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()


def _children(pid: int) -> list[int]:
    """The live (not zombie) processes whose parent is `pid`, from /proc."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after the command name, which may hold spaces
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads processes from /proc")
def test_a_killed_trainer_leaves_no_subprocess_worker_and_its_run_resumes(tmp_path):
    """SIGKILL (the OOM killer, `kill -9`): the trainer neither checkpoints nor closes its workers."""
    run_dir = tmp_path / "run"
    args = [sys.executable, "-m", "rlgen", "train", "ppo_cartpole", "--run-dir", str(run_dir),
            "env.vectorize=subproc", "env.n_envs=2", "train.total_steps=10000000", "train.checkpoint_every=256",
            "train.eval_every=100000", "train.early_stop.target=null", "logging.wandb.mode=disabled",
            "train.progress=false"]
    trainer = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: list[int] = []
    try:
        deadline = time.time() + 120  # bounds on waiting for events, not measurements
        while time.time() < deadline and trainer.poll() is None and not (run_dir / "checkpoints" / "latest").exists():
            time.sleep(0.2)
        assert (run_dir / "checkpoints" / "latest").exists(), "the run never checkpointed"
        workers = _children(trainer.pid)
        assert len(workers) == 2
        trainer.kill()
        trainer.wait()
        deadline = time.time() + 60
        while time.time() < deadline and any(map(_alive, workers)):
            time.sleep(0.2)
        assert not any(map(_alive, workers)), "the workers outlived their trainer"
    finally:
        trainer.kill()
        for pid in filter(_alive, workers):
            os.kill(pid, signal.SIGKILL)
    step = checkpoint.load(run_dir)["global_step"]
    assert main(["train", "--resume", str(run_dir), f"train.total_steps={step + 128}", "env.vectorize=dummy",
                 "train.progress=false"]) == 0  # the lock went with the trainer
