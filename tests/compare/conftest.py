"""Hand-made run directories with known metrics: what the runner writes, without training."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest
import yaml

Evals = Sequence[tuple[int, float, float]]  # (global_step, eval/return_mean, eval/wall_time_s)


def write_run(root: Path, name: str, seed: int, evals: Evals, backbone: str = "mlp", summary: bool = True,
              extra_rows: Sequence[dict[str, Any]] = ()) -> Path:
    """runs/<name>/<run_id>/ with config.yaml, metrics.jsonl and summary.json."""
    run = root / name / f"20260101-000000-s{seed}-{seed:04x}"
    run.mkdir(parents=True)
    config = {
        "name": name, "kind": "rl", "seed": seed, "device": "auto",
        "train": {"total_steps": 3000, "eval_every": 1000, "progress": False},
        "logging": {"dir": str(root), "wandb": {"mode": "disabled", "group": None}},
        "agent": {"algo": "ppo", "policy": {"backbone": {"type": backbone, **({"hidden": [64, 64]} if backbone == "mlp" else {"d_model": 32})}}},
    }
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    rows = [*extra_rows]
    for step, value, wall in evals:
        rows.append({"global_step": step, "time/elapsed_s": wall + 1.0, "rollout/ep_return_mean": value / 2})
        rows.append({"global_step": step, "eval/return_mean": value, "eval/wall_time_s": wall})
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if summary:
        last = evals[-1] if evals else (0, 0.0, 0.0)
        (run / "summary.json").write_text(json.dumps({
            "status": "completed", "name": name, "kind": "rl", "seed": seed, "global_step": last[0],
            "wall_time_s": last[2] + 0.5, "final": {"eval/return_mean": last[1]},
        }))
    return run


@pytest.fixture
def make_run(tmp_path: Path) -> Callable[..., Path]:
    return lambda *a, **kw: write_run(tmp_path, *a, **kw)
