"""Read an offline W&B run back the way a user can: `wandb leet inspect --json`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any


def wandb_records(run_dir: Path) -> list[dict[str, Any]]:
    """Every record (run, config, history, summary, artifact, stats, ...) of the run's offline log."""
    (offline,) = (Path(run_dir) / "wandb").glob("offline-run-*")
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(offline)],
                         capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def merged(records: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """The `summary` or `config` updates of the log, applied in order."""
    out: dict[str, Any] = {}
    for r in records:
        if r["type"] == kind:
            out.update(r[kind]["update"])
    return out
