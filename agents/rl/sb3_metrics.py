"""SB3's logger into rlgen's metrics: an SB3 logger output that keeps what SB3 dumps, under the
metric names every rlgen kind logs, for the runner to log once per training unit (used by
rlgen.agents.rl.sb3_bridge.SB3Learner, which re-exports these names)."""

from __future__ import annotations

import math
from typing import Any

from stable_baselines3.common.logger import KVWriter


# SB3's names -> the metric names every rlgen kind logs, so runs of different kinds compare
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


# SB3's figures that are NaN by definition on some rollouts, not because training diverged:
# explained variance when every return of the rollout is the same (one-step episodes of constant
# reward, a sparse reward never reached). The runner takes any other NaN for divergence.
UNDEFINED_AS_NAN = frozenset({"train/explained_variance"})


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
            if key in UNDEFINED_AS_NAN and math.isnan(value):
                continue  # not a diverged figure: one that has no value for this rollout
            self._pending[_RENAME.get(key, key)] = float(value)

    def pop(self) -> dict[str, float]:
        out, self._pending = self._pending, {}
        return out

    def close(self) -> None:
        pass
