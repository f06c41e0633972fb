"""live_state restores an attribute the fresh object has not made yet, whatever its value, and
keeps one the checkpoint lacks (made by code changed since the save)."""

import gymnasium as gym
import numpy as np

import rlgen
import rlgen.logging as rlog
from rlgen.agents.rl import live_state


class Lazy:
    """As PettingZoo's AECEnv: `_skip_agent_selection` exists only once an agent has finished."""

    def __init__(self):
        self.turn = 0


def test_an_attribute_made_after_construction_is_restored_even_as_none():
    saved = Lazy()
    saved.turn, saved._skip_agent_selection, saved.later = 3, None, 0
    fresh = Lazy()
    assert live_state.restore(fresh, live_state.capture(saved)) == []
    assert vars(fresh) == {"turn": 3, "_skip_agent_selection": None, "later": 0}
    assert live_state.capture(fresh)["tree"] == live_state.capture(saved)["tree"]



def test_an_attribute_the_checkpoint_lacks_stays_and_is_reported_unless_none(monkeypatch):
    """A user's env updated after the save: deleting what its new __init__ makes crashed the resume."""
    saved = Lazy()
    saved.turn = 3
    captured = live_state.capture(saved)

    def updated(self):
        self.turn, self.bonus, self.cache = 0, 0.5, None

    monkeypatch.setattr(Lazy, "__init__", updated)
    monkeypatch.setattr(Lazy, "seen", 0, raising=False)  # a class default: an instance without its own reads it
    fresh = Lazy()
    fresh.seen = 2  # as made by the reset before restoring: the saved object read the class's 0
    assert live_state.restore(fresh, captured) == [
        "bonus: not in the checkpoint (code changed since it was saved?); kept as this code makes it"]
    assert vars(fresh) == {"turn": 3, "bonus": 0.5, "cache": None} and fresh.seen == 0


class Counter(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (3,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def __init__(self):
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        return np.zeros(3, np.float32), float(action), self.t >= 10, False, {}


gym.register("rlgen-test/Counter-v0", entry_point=Counter, max_episode_steps=50)


def test_a_run_resumes_into_an_env_changed_since_with_a_warning(tmp_path, monkeypatch):
    config = {"name": "changed", "kind": "rl", "env": {"id": "rlgen-test/Counter-v0", "n_envs": 2},
              "agent": {"algo": "ppo", "hyperparams": {"n_steps": 16, "batch_size": 32, "n_epochs": 1}},
              "train": {"total_steps": 64, "eval_every": 32, "eval_episodes": 2, "progress": False},
              "logging": {"wandb": {"mode": "disabled"}, "console": False}}
    run = rlgen.train(config, run_dir=tmp_path / "run").run_dir

    def updated(self):
        self.t, self.bonus = 0, 0.5

    def step(self, action):  # reads the new attribute: deleting it on resume crashed the run
        self.t += 1
        return np.zeros(3, np.float32), float(action) + self.bonus, self.t >= 10, False, {}

    monkeypatch.setattr(Counter, "__init__", updated)
    monkeypatch.setattr(Counter, "step", step)
    said = []
    monkeypatch.setattr(rlog.console, "print", lambda msg="", *a, **k: said.append(str(msg)))
    assert rlgen.train(resume=run, overrides=["train.total_steps=128"]).summary["status"] == "completed"
    assert any("this resume is not exact" in w and ".bonus: not in the checkpoint" in w for w in said), said


def test_a_model_attribute_the_checkpoint_lacks_is_a_warning_not_a_refusal(tmp_path, monkeypatch):
    """A newer SB3 (or a plugin algorithm) that adds an attribute to the model: the resume goes on,
    not exactly and saying so, rather than stopping on "the checkpoint's model does not fit"."""
    from stable_baselines3 import PPO

    run = rlgen.train("ppo_cartpole", ["train.total_steps=256", "train.eval_every=256", "train.eval_episodes=1",
                                       "env.n_envs=2", "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64",
                                       "logging.wandb.mode=disabled", "train.progress=false"], run_dir=tmp_path / "run")
    built = PPO._setup_model

    def newer(self):
        built(self)
        self.added_since = 7  # an instance attribute the checkpoint never held

    monkeypatch.setattr(PPO, "_setup_model", newer)
    said = []
    monkeypatch.setattr(rlog.console, "print", lambda *a, **k: said.append(" ".join(map(str, a))))
    resumed = rlgen.train(resume=run.run_dir, overrides=["train.total_steps=512"])
    assert resumed.summary["status"] == "completed"
    assert any("not exact" in line and "added_since" in line for line in said), said
