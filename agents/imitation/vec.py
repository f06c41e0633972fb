"""Where the discriminator's reward meets SB3: a VecEnv wrapper for on-policy learners, a relabeling
replay buffer for off-policy ones, and the stores of transitions the discriminator learns from.

The learner never sees the env's reward. `DiscriminatorReward` replaces it, for a whole batch of
steps at once, with the discriminator's reward of (s, a, s') and keeps each transition for the
discriminator; the true episode returns still reach `rollout/ep_return_mean` through SB3's Monitor
(logged, never learned from). An off-policy learner samples old transitions from its replay
buffer, so `RelabeledReplayBuffer` recomputes their rewards with the current discriminator at each
sample (as DAC does; rewards stored at collection time would go stale).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import torch
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper, VecNormalize

_FIELDS = ("obs", "actions", "next_obs", "terminated")


class TransitionStore:
    """Transitions (s, a, s', terminated) in arrays: the expert's (full), or the learner's latest
    `capacity` (a ring, allocated at the first `add`)."""

    def __init__(self, capacity: int = 0):
        self.capacity, self.pos, self.size = capacity, 0, 0
        self.arrays: dict[str, np.ndarray] = {}

    @classmethod
    def of(cls, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray) -> TransitionStore:
        store = cls(len(obs))
        store.add(obs, actions, next_obs, terminated)
        return store

    def __len__(self) -> int:
        return self.size

    def add(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray, terminated: np.ndarray) -> None:
        """Append a batch of n transitions (the oldest fall out of a full ring)."""
        batch = dict(zip(_FIELDS, (obs, actions, next_obs, np.asarray(terminated, bool))))
        n = len(obs)
        if not self.arrays:
            self.arrays = {k: np.zeros((self.capacity, *np.shape(v)[1:]), np.asarray(v).dtype) for k, v in batch.items()}
        rows = (self.pos + np.arange(n)) % self.capacity
        for k, v in batch.items():
            self.arrays[k][rows] = np.asarray(v).reshape(n, *self.arrays[k].shape[1:])
        self.pos = int((self.pos + n) % self.capacity)
        self.size = int(min(self.size + n, self.capacity))

    def sample(self, batch: int, rng: np.random.Generator, absorbing: bool) -> dict[str, np.ndarray]:
        """`batch` random transitions. With absorbing states, each terminated transition also
        stands for one (absorbing -> absorbing) transition (DAC), drawn like the others; a
        terminated transition's s' is then the absorbing state."""
        term = self.arrays["terminated"][: self.size]
        extra = int(term.sum()) if absorbing else 0
        idx = rng.integers(0, self.size + extra, batch)
        real = idx < self.size
        rows = np.where(real, idx, 0)
        out = {k: self.arrays[k][rows].copy() for k in _FIELDS}
        for k in ("obs", "actions", "next_obs"):
            out[k][~real] = 0
        out["absorbing"] = ~real
        out["next_absorbing"] = ~real | (out["terminated"] & real & absorbing)
        out["terminated"] = out["terminated"] & real
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"arrays": dict(self.arrays), "pos": self.pos, "size": self.size, "capacity": self.capacity}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.arrays = {k: np.array(v) for k, v in state["arrays"].items()}
        self.pos, self.size, self.capacity = int(state["pos"]), int(state["size"]), int(state["capacity"])


class DiscriminatorReward(VecEnvWrapper):
    """The env's reward replaced by `reward_fn(s, a, s', terminated)` for all envs at once; every
    transition is also handed to `record` (the learner's TransitionStore.add: a method, so the
    envs' saved state leaves the store to the kind). `stats()` pops the rewards' mean and std."""

    def __init__(self, venv: VecEnv, reward_fn: Callable[..., torch.Tensor],
                 record: Callable[[np.ndarray, np.ndarray, np.ndarray, np.ndarray], None]):
        super().__init__(venv)
        self.reward_fn, self.record = reward_fn, record
        self._obs: np.ndarray | None = None
        self._actions: np.ndarray | None = None
        self._sum = self._sum_sq = 0.0
        self._count = 0

    def reset(self) -> np.ndarray:
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        obs, _true_reward, dones, infos = self.venv.step_wait()  # the true reward stays in Monitor's episode info
        next_obs = np.array(obs, copy=True)
        terminated = np.zeros(self.num_envs, bool)
        for i in np.flatnonzero(dones):  # auto-reset: the step's real s' is the terminal observation
            next_obs[i] = infos[i]["terminal_observation"]
            terminated[i] = not infos[i].get("TimeLimit.truncated", False)
        reward = self.reward_fn(self._obs, self._actions, next_obs, terminated).cpu().numpy().astype(np.float32)
        self.record(self._obs, self._actions, next_obs, terminated)
        self._sum += float(reward.sum())
        self._sum_sq += float((reward.astype(np.float64) ** 2).sum())
        self._count += len(reward)
        self._obs = obs
        return obs, reward, dones, infos

    def stats(self) -> dict[str, float]:
        """train/reward_mean and train/reward_std of the rewards given since the last call."""
        if not self._count:
            return {}
        mean = self._sum / self._count
        std = max(self._sum_sq / self._count - mean * mean, 0.0) ** 0.5
        self._sum = self._sum_sq = 0.0
        self._count = 0
        return {"train/reward_mean": mean, "train/reward_std": std}


class RelabeledReplayBuffer(ReplayBuffer):
    """SB3's replay buffer whose sampled rewards come from the current discriminator
    (`reward_fn` with the buffer's [-1, 1]-scaled actions), normalized as the env would."""

    def __init__(self, *args: Any, reward_fn: Callable[..., torch.Tensor] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.reward_fn = reward_fn

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> ReplayBufferSamples:
        samples = super()._get_samples(batch_inds, env)
        terminated = samples.dones.reshape(-1) > 0.5  # SB3 masks time-limit ends out of `dones`
        reward = self.reward_fn(samples.observations, samples.actions, samples.next_observations, terminated,
                                scaled_actions=True)
        reward = self._normalize_reward(reward.cpu().numpy().reshape(-1, 1).astype(np.float32), env)
        return samples._replace(rewards=self.to_torch(reward))

