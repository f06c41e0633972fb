"""Small RL configs for tests, built as dicts so each test says only what matters to it."""

import shutil
from pathlib import Path
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


def resumed_from_first_checkpoint(straight: Path, crashed: Path) -> tuple[dict[str, Any], dict[str, Any], int]:
    """A copy of the finished run `straight` cut back to its first checkpoint, as a crash just after
    it leaves it, then resumed to the end: (straight's last checkpoint, the resumed one's, that step)."""
    import rlgen
    from rlgen import checkpoint

    first = min(checkpoint.step_of(p) for p in (straight / "checkpoints").glob("step_*"))
    shutil.copytree(straight, crashed, ignore=shutil.ignore_patterns(".lock", "wandb"))
    for ckpt in (crashed / "checkpoints").glob("step_*"):
        if checkpoint.step_of(ckpt) > first:
            shutil.rmtree(ckpt)
    (crashed / "checkpoints" / "latest").write_text(f"step_{first}\n")
    assert rlgen.train(resume=crashed).summary["status"] == "completed"
    return checkpoint.load(straight), checkpoint.load(crashed), first
