"""Runs going wrong: PPO at an absurd learning rate says so once; non-finite weights, observations or
rewards stop a run with one line that says whose they are."""

import pytest

import rlgen
import rlgen.logging as rlog


def test_ppo_at_lr_1e6_warns_once_that_its_value_loss_diverges(tmp_path, monkeypatch):
    said = []
    monkeypatch.setattr(rlog.console, "print", lambda msg="", *a, **k: said.append(str(msg)))
    overrides = ["optim.lr=1e6", "env.n_envs=4", "train.total_steps=1024", "train.early_stop.target=null",
                 "train.eval_episodes=2", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "train.progress=false", "logging.console=false"]
    assert rlgen.train("ppo_cartpole", overrides).summary["status"] == "completed"
    warned = [w for w in said if "loss/value reached" in w]
    assert len(warned) == 1 and "training is probably diverging" in warned[0], said
    said.clear()
    rlgen.train("ppo_cartpole", [*overrides[1:], f"logging.dir={tmp_path / 'sane'}"])  # the config's own lr
    assert not [w for w in said if "loss/value reached" in w]


def test_a_policy_whose_weights_turned_non_finite_stops_with_one_line_not_a_torch_error(tmp_path):
    import pytest
    import torch

    from rlgen.errors import RlgenError
    from rlgen.runner import Runner

    cfg = rlgen.load_config("ppo_cartpole", ["train.total_steps=2048", "train.eval_every=100000", f"logging.dir={tmp_path}",
                                             "logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"])
    exp = rlgen.make_experiment(cfg)
    train_unit, units = exp.train_unit, []

    def poisoned_unit():  # weights gone NaN between two units: the next rollout samples from NaN logits
        units.append(1)
        if len(units) == 2:
            with torch.no_grad():
                next(exp.model.policy.parameters()).fill_(float("nan"))
        return train_unit()

    exp.train_unit = poisoned_unit
    validate = torch.distributions.Distribution._validate_args
    with pytest.raises(RlgenError, match=r"non-finite weights in the policy: \S+ \([\d,]+ of [\d,]+ elements\) at step 512: "
                                         r"training diverged\. "
                                         r"No checkpoint was written before it: lower optim\.lr"):
        Runner(cfg, exp).run()
    assert torch.distributions.Distribution._validate_args == validate  # the checks are back on after training


def _one_step_env():
    """Every episode is one step of reward 1, whatever the action: every return of a rollout is the
    same, and SB3's explained variance is NaN (undefined), not diverged."""
    import gymnasium as gym
    import numpy as np

    class Bandit(gym.Env):
        observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.np_random.uniform(-1, 1, 3).astype(np.float32), {}

        def step(self, action):
            return self.np_random.uniform(-1, 1, 3).astype(np.float32), 1.0, True, False, {}

    return Bandit()


def test_a_rollout_whose_returns_are_all_equal_trains_on_instead_of_being_called_diverged(tmp_path):
    import gymnasium as gym

    from agents.rl.sb3_bridge import MetricsOutput

    out = MetricsOutput()
    out.write({"train/explained_variance": float("nan"), "train/value_loss": 0.5}, {})
    assert out.pop() == {"loss/value": 0.5}
    out.write({"train/value_loss": float("nan")}, {})
    assert "loss/value" in out.pop()  # any other NaN still reaches the runner's divergence check

    gym.register("rlgen_test/OneStepBandit-v0", entry_point=_one_step_env)
    try:
        run = rlgen.train("ppo_cartpole", ["env.id=rlgen_test/OneStepBandit-v0", "env.normalize=null", "env.n_envs=2",
                                           "train.total_steps=256", "train.eval_episodes=2", "train.early_stop.target=null",
                                           "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64",
                                           f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                                           "train.progress=false", "logging.console=false"])
    finally:
        gym.registry.pop("rlgen_test/OneStepBandit-v0", None)
    assert run.summary["status"] == "completed"
    assert run.summary["final"]["eval/return_mean"] == 1.0


def _broken_env(fault: str):
    """Random observations, reward 1, episodes of 4 steps; `fault`: a NaN in every observation, or
    NaN rewards from the 10th step on."""
    import gymnasium as gym
    import numpy as np

    class Broken(gym.Env):
        observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def _obs(self):
            obs = self.np_random.uniform(-1, 1, 3).astype(np.float32)
            obs[0] = np.nan if fault == "observation" else obs[0]
            return obs

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.t = getattr(self, "t", 0)
            return self._obs(), {}

        def step(self, action):
            self.t += 1
            reward = float("nan") if fault == "reward" and self.t >= 10 else 1.0
            return self._obs(), reward, False, self.t % 4 == 0, {}

    return Broken()


@pytest.mark.parametrize("fault, said", [
    ("observation", r"env 'rlgen_test/Broken-v0' returned a non-finite observation \(2 of 6 values NaN or inf\) by step 0, "
                    r"which the policy cannot act on; make its reset\(\) and step\(\) return finite observations"),
    ("reward", r"non-finite rollout/ep_return_mean, .* at step 128: env 'rlgen_test/Broken-v0' returned non-finite "
               r"rewards \(NaN or inf\), or training diverged .* make the env's step\(\) return finite rewards; if it "
               r"does, .*, and start again$"),
])
def test_non_finite_values_from_the_env_are_said_to_be_the_envs_not_a_torch_error_or_divergence(tmp_path, fault, said):
    import gymnasium as gym

    from rlgen.errors import RlgenError

    gym.register("rlgen_test/Broken-v0", entry_point=_broken_env)
    try:
        with pytest.raises(RlgenError, match=said):
            rlgen.train("ppo_cartpole", ["env.id=rlgen_test/Broken-v0", f"env.kwargs={{fault: {fault}}}", "env.normalize=null",
                                         "env.n_envs=2", "train.total_steps=256", "train.early_stop.target=null",
                                         "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64",
                                         f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                                         "train.progress=false", "logging.console=false"])
    finally:
        gym.registry.pop("rlgen_test/Broken-v0", None)
