"""Graph exports of a run normalizing boolean observations (MinAtar's frames are bool): VecNormalize
computes in float, so the graph must cast the env's bool observations before it subtracts the mean."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

import rlgen
from rlgen.export import export


class BoolIdentity(gym.Env):
    """The identity task on one-hot bool observations: reward 1 for the action that is lit."""

    observation_space = gym.spaces.Box(0, 1, (4,), bool)
    action_space = gym.spaces.Discrete(4)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def step(self, action):
        reward = float(action == self.lit)
        self.t += 1
        return self._draw(), reward, False, self.t >= 16, {}

    def _draw(self):
        self.lit = int(self.np_random.integers(4))
        return np.arange(4) == self.lit


if "rlgen_test/BoolIdentity-v0" not in gym.registry:
    gym.register(id="rlgen_test/BoolIdentity-v0", entry_point=BoolIdentity)


def test_onnx_and_torchscript_of_normalized_bool_observations_act_as_the_agent(tmp_path):
    """It crashed: `obs - obs_mean` on the raw bool tensor ("Subtraction ... with a bool tensor")."""
    import onnxruntime as ort

    config = {"name": "ppo_bool", "kind": "rl", "seed": 0,
              "env": {"id": "rlgen_test/BoolIdentity-v0", "n_envs": 2, "normalize": {"obs": True}},
              "agent": {"algo": "ppo", "policy": {"backbone": {"type": "mlp", "hidden": [16]}},
                        "hyperparams": {"n_steps": 32, "batch_size": 32}},
              "optim": {"type": "adam", "lr": 3e-3},
              "train": {"total_steps": 512, "eval_every": 512, "eval_episodes": 2, "progress": False},
              "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}}
    run_dir = rlgen.train(config).run_dir
    obs = np.eye(4, dtype=bool)  # each action lit once, as the env gives them
    with rlgen.load_run(run_dir) as run:
        expected = np.asarray([run.agent().predict(o) for o in obs])
    (onnx,) = export(run_dir, "onnx", tmp_path / "onnx")
    (script,) = export(run_dir, "torchscript", tmp_path / "torchscript")
    got_onnx = ort.InferenceSession(str(onnx)).run(None, {"obs": obs})[0]
    with torch.no_grad():
        got_script = torch.jit.load(str(script))(torch.as_tensor(obs)).numpy()
    assert len(set(expected.tolist())) > 1  # the actions differ, so the graph's are compared to something
    assert got_onnx.tolist() == expected.tolist() and got_script.tolist() == expected.tolist()
