"""Where rlgen meets SB3: backbones as features extractors, SB3's logger into rlgen's metrics."""

from __future__ import annotations

import warnings
from collections import deque
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.logger import KVWriter
from stable_baselines3.common.preprocessing import get_flattened_obs_dim, is_image_space
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from rlgen.errors import RlgenError
from rlgen.nets import build_backbone


class BackboneExtractor(BaseFeaturesExtractor):
    """Any rlgen backbone as an SB3 features extractor: (B, *obs_shape) -> (B, features_dim).

    SB3 has already preprocessed the observation (images scaled to [0, 1], discrete one-hot), so
    image spaces keep their (C, H, W) shape and everything else is flattened, except a (T, F) Box
    for a sequence backbone. `masked=True` (set for `env.history` windows): the last feature of
    each step is a validity flag, split off and passed to a sequence backbone as `mask` (B, T).
    """

    def __init__(self, observation_space: gym.Space, backbone: Mapping[str, Any], masked: bool = False):
        if isinstance(observation_space, gym.spaces.Box) and is_image_space(observation_space, check_channels=False):
            in_shape = tuple(observation_space.shape)
        elif isinstance(observation_space, gym.spaces.Box) and backbone["type"] in ("rnn", "gru", "lstm", "transformer") \
                and len(observation_space.shape) == 2:
            steps, features = observation_space.shape  # a window of observations
            in_shape = (steps, features - 1) if masked else (steps, features)
        elif isinstance(observation_space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete,
                                            gym.spaces.MultiBinary)):
            in_shape = (get_flattened_obs_dim(observation_space),)
        else:
            raise RlgenError(f"observation space {observation_space} is not supported by rlgen backbones; "
                             "flatten it with the FlattenObservation wrapper (env.wrappers: [FlattenObservation])")
        net = build_backbone(backbone, in_shape)
        super().__init__(observation_space, features_dim=int(net.out_dim))
        self.net = net
        self.in_shape = in_shape
        self.masked = masked and len(in_shape) == 2  # only sequence backbones read (T, F) windows

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self.masked:
            x, valid = observations[..., :-1], observations[..., -1] > 0.5  # (B, T, F), (B, T)
            # a full window needs no mask, and the unmasked path is the fast one (no packing)
            return self.net(x, mask=None if bool(valid.all()) else valid)
        x = observations.reshape(observations.shape[0], *self.in_shape)
        return self.net(x)


# SB3's names -> the metric names shared by every rlgen kind (DESIGN.md)
_RENAME = {
    "rollout/ep_rew_mean": "rollout/ep_return_mean",
    "rollout/ep_len_mean": "rollout/ep_len_mean",
    "train/policy_gradient_loss": "loss/policy",
    "train/value_loss": "loss/value",
    "train/entropy_loss": "loss/entropy",
    "train/loss": "loss/total",
    "train/actor_loss": "loss/actor",
    "train/critic_loss": "loss/critic",
    "train/ent_coef_loss": "loss/ent_coef",
}


class MetricsOutput(KVWriter):
    """An SB3 logger output that keeps the latest dumped values for the runner to log.

    SB3 dumps once per rollout (on-policy) or every few episodes (off-policy); `pop` hands the
    values since the last call to the runner, which logs one row per training unit.
    """

    def __init__(self) -> None:
        self._pending: dict[str, float] = {}

    def write(self, key_values: dict[str, Any], key_excluded: dict[str, tuple[str, ...]], step: int = 0) -> None:
        for key, value in key_values.items():
            if key.startswith("time/") or not isinstance(value, (int, float)):
                continue  # the runner owns time and step; strings/videos are not metrics
            self._pending[_RENAME.get(key, key)] = float(value)

    def pop(self) -> dict[str, float]:
        out, self._pending = self._pending, {}
        return out

    def close(self) -> None:
        pass


def learn_unit(model: Any, steps: int, output: MetricsOutput) -> dict[str, float]:
    """One training unit: `steps` more env steps of SB3's own `learn()`, continuing the same run
    (`reset_num_timesteps=False` keeps the env state), and the metrics it dumped meanwhile."""
    model.learn(steps, reset_num_timesteps=False, log_interval=1, progress_bar=False)
    metrics = output.pop()
    if "rollout/ep_return_mean" not in metrics and model.ep_info_buffer:
        # off-policy algorithms dump only every few episodes; the rollout return is always known
        metrics["rollout/ep_return_mean"] = float(np.mean([e["r"] for e in model.ep_info_buffer]))
    return metrics


def model_state(model: Any) -> dict[str, Any]:
    """What an SB3 model needs to resume exactly: every state dict (policy, optimizers, extra
    tensors such as SAC's log_ent_coef) and its counters and episode statistics."""
    return {
        "params": model.get_parameters(),
        "num_timesteps": model.num_timesteps,
        "n_updates": getattr(model, "_n_updates", 0),
        "episode_num": model._episode_num,
        "ep_info_buffer": list(model.ep_info_buffer or []),
        "ep_success_buffer": list(model.ep_success_buffer or []),
    }


def load_model_state(model: Any, state: dict[str, Any]) -> None:
    model.set_parameters(state["params"], exact_match=True, device=model.device)
    model.num_timesteps = int(state["num_timesteps"])
    model._n_updates = state["n_updates"]
    model._episode_num = state["episode_num"]
    # both buffers, or SB3's next learn() sees one and skips creating the other
    model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(state["ep_success_buffer"], maxlen=model._stats_window_size)


@contextmanager
def gpu_by_choice(chosen: bool) -> Iterator[None]:
    """SB3 warns that PPO and A2C with its MlpPolicy class belong on the CPU (SB3 #1245). rlgen's
    policies are that class with an rlgen backbone inside, so when the backbone asked for the GPU
    (`prefers_accelerator`: a CNN, a Transformer) the advice is wrong and is silenced here; an MLP
    that a config forces onto a GPU keeps it."""
    with warnings.catch_warnings():
        if chosen:
            warnings.filterwarnings("ignore", message=r"You are trying to run \w+ on the GPU", category=UserWarning)
        yield
