"""agents/rl/sb3_state.py: eval envs checkpointed before their first evaluation (never reset)
resume exactly and silently; an env changed since the save still warns."""

import os
import signal

import rlgen.logging as rlog
from rlgen import checkpoint
from rlgen.agents.rl import live_state
from rlgen.agents.rl.experiment import RLExperiment
from rlgen.agents.rl.sb3_state import env_state, restore_env
from rlgen.runner import Runner
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from tests.agents.rl_helpers import rl_config
from tests.agents.test_live_state_lazy_attributes import Counter


def _envs():
    venv = VecNormalize(DummyVecEnv([Counter, Counter]), training=False)
    venv.seed(3)
    return venv


def test_envs_saved_before_their_first_reset_are_restored_as_built():
    saved = env_state(_envs())  # never reset: VecNormalize has no old_obs yet
    fresh = _envs()
    assert restore_env(fresh, saved) == []  # was: "old_obs: not in the checkpoint (code changed ...)"
    assert not hasattr(fresh, "old_obs")
    assert live_state.capture(fresh)["tree"].keys() == saved["tree"].keys()


def test_envs_changed_since_a_save_before_their_first_reset_still_warn(monkeypatch):
    saved = env_state(_envs())

    def updated(self):
        self.t, self.bonus = 0, 0.5

    monkeypatch.setattr(Counter, "__init__", updated)
    problems = restore_env(_envs(), saved)
    assert "venv.envs.0.bonus: not in the checkpoint (code changed since it was saved?); kept as this code makes it" \
        in problems


def test_an_interrupt_before_the_first_evaluation_resumes_silently_and_as_an_uninterrupted_run(tmp_path, monkeypatch):
    def config(where):
        return rl_config(where, "ppo", "CartPole-v1", n_envs=2, total=256,
                         hyperparams={"n_steps": 32, "batch_size": 64, "n_epochs": 1},
                         env={"normalize": {"obs": True, "reward": True}}, train={"eval_every": 256, "eval_episodes": 2})

    straight = RLExperiment(config(tmp_path / "straight"))
    expected = Runner(straight.cfg, straight).run()
    original = RLExperiment.train_unit

    def interrupting(self):
        out = original(self)
        os.kill(os.getpid(), signal.SIGTERM)  # after the first unit: the checkpoint precedes any evaluation
        return out

    monkeypatch.setattr(RLExperiment, "train_unit", interrupting)
    cfg = config(tmp_path / "cut")
    cut = Runner(cfg, RLExperiment(cfg))
    assert cut.run()["status"] == "interrupted" and 0 < checkpoint.load(cut.run_dir)["global_step"] < 256
    monkeypatch.setattr(RLExperiment, "train_unit", original)
    said = []
    monkeypatch.setattr(rlog.console, "print", lambda msg="", *a, **k: said.append(str(msg)))
    resumed = RLExperiment(cfg)
    summary = Runner(cfg, resumed, resume_dir=cut.run_dir).run()
    assert not [line for line in said if "not exact" in line], said  # was: "the evaluation envs ... old_obs"
    assert summary["global_step"] == expected["global_step"] == 256
    assert {k: v for k, v in summary["final"].items() if not k.endswith("wall_time_s")} == \
        {k: v for k, v in expected["final"].items() if not k.endswith("wall_time_s")}
    weights = straight.model.policy.state_dict()
    assert all(w.equal(resumed.model.policy.state_dict()[k]) for k, w in weights.items())
