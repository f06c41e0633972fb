"""Atomic save / load / resume.

Layout: `checkpoints/step_<N>/state.pt` plus `checkpoints/latest`, a one-line file naming the newest
complete step directory, and `checkpoints/best/` (state.pt and a `step` file), the checkpoint of the
run's best evaluation by `train.early_stop.metric`, which pruning never removes. A checkpoint is written into `step_<N>.tmp/` and renamed only once fully
on disk, and `latest` is replaced by rename too, so a crash or a full disk at any moment leaves the
previous checkpoint complete and pointed to.
"""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path
from typing import Any

import torch

from rlgen.errors import RlgenError
from rlgen.logging import disk_error

LATEST = "latest"
BEST = "best"  # checkpoints/best/: the checkpoint of the best evaluation, kept beside the last k


def save(ckpt_dir: Path, step: int, state: dict[str, Any], keep: int = 3) -> Path:
    """Write `state` as checkpoint `step`, point `latest` at it, keep the newest `keep`."""
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"step_{step}"
    tmp = ckpt_dir / f"step_{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        buf = io.BytesIO()
        torch.save(state, buf)  # serialise first: a pickling error must not leave half a file
        with open(tmp / "state.pt", "wb") as f:
            f.write(buf.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        pointer = ckpt_dir / f"{LATEST}.tmp"
        pointer.write_text(final.name + "\n")
        pointer.replace(ckpt_dir / LATEST)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(e, final, "writing a checkpoint") from None
    _prune(ckpt_dir, keep)
    return final


def latest(ckpt_dir: Path) -> Path | None:
    """The newest complete checkpoint directory, or None when there is none."""
    pointer = ckpt_dir / LATEST
    if not pointer.is_file():
        return None
    path = ckpt_dir / pointer.read_text().strip()
    return path if (path / "state.pt").is_file() else None


def mark_best(ckpt_dir: Path, step_dir: Path) -> Path:
    """Keep the complete checkpoint `step_dir` as `checkpoints/best/`: its state.pt hard-linked
    (copied where links are not allowed), built aside and renamed into place."""
    best, tmp, old = ckpt_dir / BEST, ckpt_dir / f"{BEST}.tmp", ckpt_dir / f"{BEST}.old"
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp.mkdir()
        try:
            os.link(step_dir / "state.pt", tmp / "state.pt")
        except OSError:
            shutil.copy2(step_dir / "state.pt", tmp / "state.pt")
        (tmp / "step").write_text(f"{step_of(step_dir)}\n")
        if best.exists():
            best.rename(old)
        tmp.rename(best)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(e, best, "keeping the best checkpoint") from None
    shutil.rmtree(old, ignore_errors=True)
    return best


def best(ckpt_dir: Path) -> Path | None:
    """`checkpoints/best/` when the run has kept one."""
    path = ckpt_dir / BEST
    return path if (path / "state.pt").is_file() and (path / "step").is_file() else None


def step_of(path: Path) -> int:
    """The global step of a `step_<N>` or `best` checkpoint directory."""
    if path.name == BEST:
        return int((path / "step").read_text())
    return int(path.name.split("_", 1)[1])


def load(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint: a `step_<N>` directory, a run directory, or its `checkpoints/` folder."""
    path = Path(path)
    resolved = _resolve(path)
    if resolved is None:
        raise RlgenError(
            f"no checkpoint found at {path}: expected a run directory with checkpoints/latest, "
            "a checkpoints/ folder, or a checkpoints/step_<N> directory (has the run saved one yet?)"
        )
    try:
        # Checkpoints hold numpy arrays and plain Python objects beside tensors (SB3 buffers,
        # RNG states), so full unpickling is needed; only load checkpoints you trust.
        return torch.load(resolved / "state.pt", map_location=map_location, weights_only=False)
    except Exception as e:  # noqa: BLE001 - a corrupt file, whatever the pickle error
        raise RlgenError(f"checkpoint {resolved} is unreadable ({type(e).__name__}: {e})") from None


def _resolve(path: Path) -> Path | None:
    if (path / "state.pt").is_file():
        return path
    for ckpt_dir in (path, path / "checkpoints"):
        found = latest(ckpt_dir) if ckpt_dir.is_dir() else None
        if found is not None:
            return found
    return None


def _prune(ckpt_dir: Path, keep: int) -> None:
    steps = sorted(
        (p for p in ckpt_dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")),
        key=step_of,
    )
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
