"""Hand-made run directories with known metrics (what the runner writes, without training), and a
PostgreSQL server for the tests of many workers on one study."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

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


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server's URL: $RLGEN_TEST_POSTGRES_URL (.ci/run starts one), else a throwaway
    server started here from Debian's binaries; skipped only when PostgreSQL is not installed."""
    from tests import postgres

    pytest.importorskip("psycopg", reason="the PostgreSQL driver is missing: pip install -e '.[dev]'")
    if os.environ.get("RLGEN_TEST_POSTGRES_URL"):
        yield os.environ["RLGEN_TEST_POSTGRES_URL"]
        return
    why = postgres.missing()
    if why:
        pytest.skip(why)
    url, data = postgres.start()
    try:
        yield url
    finally:
        postgres.stop(data)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the server, dropped afterwards."""
    from tests import postgres

    name = f"rlgen_test_{secrets.token_hex(4)}"
    url = postgres.create_database(postgres_server, name)
    yield url
    postgres.drop_database(postgres_server, name)
