"""Atomic, verified, safe-to-open save / load / resume.

Layout: `checkpoints/step_<N>/state.pt` and `step_<N>/state.pt.sha256`, plus `checkpoints/latest`,
a one-line file naming the newest complete step directory, and `checkpoints/best/` (state.pt, its
checksum and a `step` file), the checkpoint of the run's best evaluation by
`train.early_stop.metric`, which pruning never removes. A checkpoint is written into
`step_<N>.tmp/`: the state first (fsync'd), then its checksum, and the directory is renamed only
once both are on disk; `latest` is replaced by rename too. A crash or a full disk at any moment
leaves the previous checkpoint complete and pointed to.

Loading never runs code from the file: `torch.load(weights_only=True)` reads tensors and plain
data only (numpy arrays travel as bytes, see `rlgen.plain`), and a file whose checksum does not
match is not loaded at all. When the latest checkpoint is missing, cut short or corrupted, `load`
falls back to the newest intact one and says what that costs. Checkpoints written before this
format (pickled objects) load only with `trust=True`, and then with only the classes that format
held (`rlgen.checkpoint_legacy`). Which checkpoint of a run to open (`best`, `latest`, `step_N`) is
`rlgen.checkpoint_select`'s; its names are importable from here too.
"""

from __future__ import annotations

import contextvars
import hashlib
import io
import numbers
import os
import pickle
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import torch
from rich.markup import escape

from rlgen import plain
from rlgen.checkpoint_legacy import (NEW_ONLY, OLD_FORMAT_GLOBALS, TRUST_HINT, UnsafeCheckpointError, globals_in,
                                     load_trusted, trusted, unpickle)
from rlgen.checkpoint_select import (BEST, CHOICES, FINISHED, LATEST, STATE, CheckpointChoiceError, best, candidates,
                                     latest, run_status, select, step_of)
from rlgen.errors import RlgenError, first_line
from rlgen.logging import console, disk_error

__all__ = [  # what the other modules name as rlgen.checkpoint.X: the whole checkpoint, whichever module holds it
    "BEST", "CHECKSUM", "CHOICES", "FINISHED", "FORMAT", "LATEST", "NEW_ONLY", "OLD_FORMAT_GLOBALS", "RESUME_ONLY",
    "STATE", "TRUST_HINT", "CheckpointChoiceError", "UnsafeCheckpointError", "best", "candidates", "count", "latest",
    "load", "mark_best", "model_only", "read", "resuming", "run_status", "save", "select", "step_of", "to_use",
    "trusted", "unpickle",
]

CHECKSUM = "state.pt.sha256"
FORMAT = 2  # 1: pickled objects, no checksum (before rlgen checked what it opens)

_to_use: contextvars.ContextVar[bool] = contextvars.ContextVar("rlgen_checkpoint_to_use", default=False)


# --- save -----------------------------------------------------------------------------------------


def save(ckpt_dir: Path, step: int, state: dict[str, Any], keep: int = 3) -> Path:
    """Write `state` as checkpoint `step`, point `latest` at it, keep the newest `keep`.
    Raises `plain.UnsafeStateError` (naming the entry) when the state is not plain data."""
    payload = _serialise({**state, "format": FORMAT})  # first: an unsaveable state must not leave half a file
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    final = ckpt_dir / f"step_{step}"
    tmp = ckpt_dir / f"step_{step}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        tmp.mkdir()
        _write(tmp / STATE, payload)
        _write(tmp / CHECKSUM, f"{hashlib.sha256(payload).hexdigest()}  {len(payload)}\n".encode())
        _fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        pointer = ckpt_dir / f"{LATEST}.tmp"
        _write(pointer, (final.name + "\n").encode())
        pointer.replace(ckpt_dir / LATEST)
        _fsync_dir(ckpt_dir)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(e, final, "writing a checkpoint") from None
    _prune(ckpt_dir, keep)
    return final


# Entries of a state that only resuming needs: SB3's replay buffers (`sb3_state.model_state`), most of an
# off-policy checkpoint (an Atari DQN's holds gigabytes), and nothing that acting or evaluating reads.
RESUME_ONLY = "replay_buffer"


def model_only(ckpt: Path, into: Path) -> Path:
    """Checkpoint `ckpt` without what only resuming needs (`RESUME_ONLY`), written as a checkpoint
    directory at `into` (state and checksum); `ckpt` itself when it holds nothing of the kind. What
    a W&B model artifact holds: `rlgen.load_run` opens it, as SB3's `model.zip` leaves its buffer out."""
    state = read(ckpt)
    if not _holds_resume_only(state):
        return ckpt
    payload = _serialise(_without_resume_only(state))
    into.mkdir(parents=True, exist_ok=True)
    _write(into / STATE, payload)
    _write(into / CHECKSUM, f"{hashlib.sha256(payload).hexdigest()}  {len(payload)}\n".encode())
    return into


def _holds_resume_only(tree: Any) -> bool:
    return isinstance(tree, dict) and any(
        v is not None if k == RESUME_ONLY else _holds_resume_only(v) for k, v in tree.items())


def _without_resume_only(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: None if k == RESUME_ONLY else _without_resume_only(v) for k, v in tree.items()}
    return tree


def _serialise(state: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    torch.save(plain.encode(state), buf)
    return buf.getvalue()


def _write(path: Path, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    """A rename is durable once its directory is synced (not possible everywhere, e.g. Windows)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def mark_best(ckpt_dir: Path, step_dir: Path) -> Path:
    """Keep the complete checkpoint `step_dir` as `checkpoints/best/`: its state.pt and checksum
    hard-linked (copied where links are not allowed), built aside and renamed into place."""
    best, tmp, old = ckpt_dir / BEST, ckpt_dir / f"{BEST}.tmp", ckpt_dir / f"{BEST}.old"
    for stale in (tmp, old):
        shutil.rmtree(stale, ignore_errors=True)
    try:
        tmp.mkdir()
        for name in (STATE, CHECKSUM):
            try:
                os.link(step_dir / name, tmp / name)
            except OSError:
                shutil.copy2(step_dir / name, tmp / name)
        (tmp / "step").write_text(f"{step_of(step_dir)}\n")
        if best.exists():
            best.rename(old)
        tmp.rename(best)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(e, best, "keeping the best checkpoint") from None
    shutil.rmtree(old, ignore_errors=True)
    return best


# --- load -----------------------------------------------------------------------------------------


def load(path: Path, map_location: str | torch.device = "cpu", *, trust: bool = False) -> dict[str, Any]:
    """Load a checkpoint: a `step_<N>` directory, a run directory, or its `checkpoints/` folder.

    A run directory gives its newest intact checkpoint: a missing, cut short or corrupted latest
    one is skipped with a warning naming what that costs. `trust=True` also reads checkpoints
    that hold pickled objects (older rlgen versions), which can run code: only for files you trust."""
    path = Path(path)
    tried, newest = candidates(path)
    if not tried:
        raise RlgenError(f"no checkpoint found at {path}: {_why_none(path)}")
    problems: list[str] = []
    for ckpt in tried:
        try:
            state = read(ckpt, map_location, trust=trust)
        except UnsafeCheckpointError:
            raise
        except RlgenError as e:
            if len(tried) == 1:
                raise
            problems.append(str(e))
            continue
        if problems or (newest is not None and step_of(ckpt) < newest):
            _warn_fallback(ckpt, newest, problems)
        return state
    raise RlgenError(f"no intact checkpoint in {path}: " + "; ".join(problems))


def _why_none(path: Path) -> str:
    """What `path`, holding no checkpoint, is: gone, a run whose checkpoints/ went, a run that never saved one."""
    if not path.exists():
        return "it does not exist (moved or deleted?)"
    ckpts, ended = path / "checkpoints", (path / "summary.json").is_file()
    if ended and not ckpts.exists():
        return "the run's checkpoints/ folder is gone (deleted or not copied with the run)"
    if _never_saved(ckpts):
        if ended:
            return ("the run ended before its first checkpoint: there is nothing to continue or open; "
                    "start the run again")
        return "the run has not written its first checkpoint (killed before it, or still training toward it)"
    return ("expected a run directory with checkpoints/latest, a checkpoints/ folder, or a checkpoints/step_<N> "
            "directory (has the run saved one yet?)")


def _never_saved(ckpts: Path) -> bool:
    """A run makes its checkpoints/ when it starts: empty (a half-written step_N.tmp aside), the run
    never saved a checkpoint there."""
    try:
        return ckpts.is_dir() and all(name.endswith(".tmp") for name in os.listdir(ckpts))
    except OSError:  # unreadable: what it holds is unknown
        return False


def read(ckpt: Path, map_location: str | torch.device = "cpu", *, trust: bool = False) -> dict[str, Any]:
    """One checkpoint directory, verified against its checksum, read without running code."""
    file = ckpt / STATE
    if not file.is_file():
        raise RlgenError(f"checkpoint {ckpt} is missing ({STATE} not found)")
    data = file.read_bytes()
    checksum = ckpt / CHECKSUM
    if checksum.is_file():
        expected = checksum.read_text(encoding="utf-8").split()
        if not expected or hashlib.sha256(data).hexdigest() != expected[0]:
            raise RlgenError(f"checkpoint {ckpt} is corrupted or was cut short (its checksum does not match)")
    else:  # rlgen writes the checksum before a checkpoint appears: a copy that left it behind, or a hand-made one
        console.print(f"[yellow]warning:[/] checkpoint {escape(str(ckpt))} has no {CHECKSUM}, so whether {STATE} is "
                      "whole is not checked; copy the checkpoint directory with its checksum")
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" not in str(e).lower():  # not a refused global: a damaged file
            raise RlgenError(f"checkpoint {ckpt} is unreadable ({first_line(e)})") from None
        if not trust:
            raise UnsafeCheckpointError(f"refused to open {file}: it holds Python objects ({globals_in(data)}), "
                                        f"and loading them can run code; {TRUST_HINT}") from None
        state = load_trusted(file, data, map_location)
    except Exception as e:  # noqa: BLE001 - a corrupt file, whatever torch raises for it
        raise RlgenError(f"checkpoint {ckpt} is unreadable ({type(e).__name__}: {first_line(e)})") from None
    if not isinstance(state, dict):
        raise RlgenError(f"checkpoint {file} holds a {type(state).__name__}, not an rlgen checkpoint")
    state = plain.decode(state)
    if "global_step" in state:
        count(state["global_step"], f"checkpoint {ckpt}: its global_step")
    return state


def count(value: Any, what: str) -> int:
    """A counter read from a checkpoint (a step, an update count) as an int: a non-negative integer
    (numpy's too), or else one line naming `what` (None, a string or a float is a damaged or crafted file)."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0:
        return int(value)
    shown = repr(value) if len(repr(value)) <= 40 else f"a {type(value).__name__}"
    raise RlgenError(f"{what} is {shown}, not a count (a damaged or crafted checkpoint)")


@contextmanager
def to_use() -> Iterator[None]:
    """Within it, a checkpoint is opened to act with or to evaluate (`rlgen.load_run`), not to
    continue training: what a resume could not restore exactly does not matter, and is not warned of."""
    token = _to_use.set(True)
    try:
        yield
    finally:
        _to_use.reset(token)


def resuming() -> bool:
    """False while a checkpoint is opened only to be used (`to_use`)."""
    return not _to_use.get()


def _warn_fallback(ckpt: Path, newest: int | None, problems: list[str]) -> None:
    lost = "" if newest is None else f", {newest - step_of(ckpt):,} steps before step_{newest}"
    why = "; ".join(problems) if problems else f"the newest checkpoint step_{newest} is missing"
    cost = ": that progress is trained again" if resuming() else ""  # opened to act or evaluate: nothing is
    console.print(f"[yellow]warning:[/] {escape(why)}. Using {escape(ckpt.name)} instead{lost}{cost}")


def _prune(ckpt_dir: Path, keep: int) -> None:
    steps = sorted((p for p in ckpt_dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")), key=step_of)
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
