"""Wrapper arguments from YAML: lists become what the wrapper's signature annotates (a tuple for
ResizeObservation's and ReshapeObservation's shape, numpy bounds for RescaleAction and
RescaleObservation), since YAML has neither tuples nor arrays."""

from typing import Sequence

import gymnasium as gym
import numpy as np

from rlgen.agents.rl.experiment import RLExperiment
from rlgen.envs import make_env_fn, typed_wrapper_kwargs
from rlgen.runner import Runner
from tests.agents.rl_helpers import rl_config
from tests.envs import demo_envs  # noqa: F401 - registers rlgen_test/TinyImage-v0: (8, 7, 3) uint8 frames


class TwoActionsEnv(gym.Env):
    """Box([-2, -1], [2, 1]) actions, recorded; one constant observation; episodes of 4 steps."""

    def __init__(self):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(np.array([-2, -1], np.float32), np.array([2, 1], np.float32))
        self.last_action, self._t = None, 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self._t = 0
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.last_action, self._t = np.asarray(action), self._t + 1
        return np.zeros(1, np.float32), 0.0, False, self._t >= 4, {}


if "rlgen_test/TwoActions-v0" not in gym.registry:
    gym.register("rlgen_test/TwoActions-v0", entry_point=f"{__name__}:TwoActionsEnv")

PPO = {"n_steps": 8, "batch_size": 16, "n_epochs": 1}


def train(tmp_path, env_id, wrappers, backbone=None):
    cfg = rl_config(tmp_path, "ppo", env_id, n_envs=2, total=16, hyperparams=PPO,
                    env={"id": env_id, "n_envs": 2, "wrappers": wrappers},
                    agent={"algo": "ppo", "policy": {"backbone": backbone or {"type": "mlp", "hidden": [8]}},
                           "hyperparams": PPO})
    exp = RLExperiment(cfg)
    Runner(cfg, exp).run()
    assert exp.global_step == 16
    return exp


def test_resize_observation_takes_a_yaml_shape_and_trains(tmp_path):
    cnn = {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1], "hidden": 8}
    exp = train(tmp_path, "rlgen_test/TinyImage-v0", [{"ResizeObservation": {"shape": [6, 5]}}], cnn)
    assert exp.model.policy.features_extractor.in_shape == (3, 6, 5)  # resized, then SB3's channels first


def test_rescale_action_takes_per_dimension_bounds_and_trains(tmp_path):
    wrappers = [{"RescaleAction": {"min_action": [-1, 0.0], "max_action": [1, 10.0]}}]
    exp = train(tmp_path, "rlgen_test/TwoActions-v0", wrappers)
    np.testing.assert_array_equal(exp.model.action_space.low, [-1, 0])
    np.testing.assert_array_equal(exp.model.action_space.high, [1, 10])
    env = make_env_fn("rlgen_test/TwoActions-v0", wrappers=wrappers)()
    env.reset(seed=0)
    env.step(np.array([1.0, 5.0], np.float32))  # the top of the first range, the middle of the second
    np.testing.assert_allclose(env.unwrapped.last_action, [2.0, 0.0], atol=1e-6)


def test_reshape_and_rescale_observation_take_yaml_lists():
    env = make_env_fn("Pendulum-v1", wrappers=[  # observes cos, sin in [-1, 1] and velocity in [-8, 8]
        {"RescaleObservation": {"min_obs": [-1, -1, -0.5], "max_obs": [1, 1, 0.5]}},
        {"ReshapeObservation": {"shape": [3, 1]}}])()
    obs, _ = env.reset(seed=0)
    assert env.observation_space.shape == obs.shape == (3, 1)
    np.testing.assert_array_equal(env.observation_space.high[:, 0], [1, 1, 0.5])


def wrapper(env, shape: tuple[int, ...], bounds: "np.ndarray", names: list[str], sizes: Sequence[int],
            loose=None, pairs: "tuple[tuple[int, int], ...] | None" = None):
    return env


def test_only_lists_whose_annotation_asks_for_another_type_change():
    typed = typed_wrapper_kwargs(wrapper, {"shape": [3, 4], "bounds": [0.5, 1], "names": ["a"], "sizes": [1, 2],
                                           "loose": [1, 2], "pairs": [[1, 2], [3, 4]]})
    assert typed["shape"] == (3, 4) and isinstance(typed["shape"], tuple)
    assert typed["bounds"].dtype == np.float32 and typed["bounds"].tolist() == [0.5, 1.0]
    assert typed["pairs"] == ((1, 2), (3, 4))
    for key in ("names", "sizes", "loose"):  # a list, a sequence, no annotation: left as YAML gave them
        assert type(typed[key]) is list
    assert typed_wrapper_kwargs(wrapper, {"bounds": [1, 2]})["bounds"].dtype.kind == "i"  # ints stay ints


Shape = tuple  # an alias, as a wrapper module under `from __future__ import annotations` would write it


def _aliased(env, size: "Shape" = (1, 1)):
    return env


def test_a_type_alias_in_a_string_annotation_reads_as_its_type():
    assert typed_wrapper_kwargs(_aliased, {"size": [3, 4]})["size"] == (3, 4)
