"""Small RL configs for tests, built as dicts so each test says only what matters to it."""

from typing import Any

from rlgen.agents.rl.config import RLConfig


def rl_config(tmp_path, algo: str = "ppo", env_id: str = "rlgen/Identity-v0", *, n_envs: int = 4,
              total: int = 2048, hyperparams: dict[str, Any] | None = None, **sections: Any) -> RLConfig:
    raw: dict[str, Any] = {
        "name": f"test_{algo}",
        "kind": "rl",
        "seed": 0,
        "env": {"id": env_id, "n_envs": n_envs},
        "agent": {"algo": algo, "policy": {"backbone": {"type": "mlp", "hidden": [32]}},
                  "hyperparams": hyperparams or {}},
        "optim": {"type": "adam", "lr": 3e-3},
        "train": {"total_steps": total, "eval_every": total, "eval_episodes": 4, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    }
    for key, value in sections.items():
        raw[key] = {**raw.get(key, {}), **value} if isinstance(value, dict) else value
    return RLConfig.model_validate(raw)
