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
format (pickled objects) load only with `trust=True`, which runs whatever the file holds.
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

from rlgen import plain, rundir
from rlgen.errors import RlgenError, first_line
from rlgen.logging import console, disk_error

LATEST = "latest"
BEST = "best"  # checkpoints/best/: the checkpoint of the best evaluation, kept beside the last k
STATE = "state.pt"
CHECKSUM = "state.pt.sha256"
FORMAT = 2  # 1: pickled objects, no checksum (before rlgen checked what it opens)
TRUST_HINT = "pass --trust (rlgen.load_run(..., trust=True), rlgen.train(resume=..., trust=True)) only if you trust its source"

_trusted: contextvars.ContextVar[bool] = contextvars.ContextVar("rlgen_trusted_checkpoint", default=False)
_to_use: contextvars.ContextVar[bool] = contextvars.ContextVar("rlgen_checkpoint_to_use", default=False)


class UnsafeCheckpointError(RlgenError):
    """A checkpoint that could run code when loaded; loading it needs `trust=True`."""


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


# --- find -----------------------------------------------------------------------------------------


def step_of(path: Path) -> int:
    """The global step of a `step_<N>` or `best` checkpoint directory (-1 when it does not say)."""
    try:
        if path.name == BEST:
            return int((path / "step").read_text())
        return int(path.name.split("_", 1)[1])
    except (IndexError, ValueError, OSError):
        return -1


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


def best(ckpt_dir: Path) -> Path | None:
    """`checkpoints/best/` when the run has kept one (not yet verified)."""
    path = ckpt_dir / BEST
    return path if (path / STATE).is_file() and (path / "step").is_file() else None


def latest(ckpt_dir: Path) -> Path | None:
    """The checkpoint directory `latest` points to, when it exists (not yet verified)."""
    pointer = ckpt_dir / LATEST
    if not pointer.is_file():
        return None
    path = ckpt_dir / pointer.read_text().strip()
    return path if (path / STATE).is_file() else None


def candidates(path: Path) -> tuple[list[Path], int | None]:
    """Checkpoints to try for `path`, best first, and the newest step the run had written.

    A `step_<N>` directory: only itself. A run directory or its `checkpoints/` folder: every
    complete step directory, newest first (each is verified when read, so `latest` is only a
    hint: a process killed between renaming a checkpoint and moving `latest` loses nothing),
    with `best/` in its place by step when no step directory holds the same step."""
    path = Path(path)
    if (path / STATE).is_file() or path.name.startswith("step_") or path.name == BEST:
        return [path], step_of(path)
    ckpt_dir = path if (path / LATEST).exists() or any(path.glob("step_*")) else path / "checkpoints"
    if not ckpt_dir.is_dir():
        return [], None
    steps = [p for p in ckpt_dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")]
    kept = best(ckpt_dir)
    if kept is not None and step_of(kept) not in {step_of(p) for p in steps}:
        steps.append(kept)  # pruned from the last k, still a complete checkpoint of this run
    steps.sort(key=step_of, reverse=True)
    named = ckpt_dir / (ckpt_dir / LATEST).read_text().strip() if (ckpt_dir / LATEST).is_file() else None
    newest = max([step_of(p) for p in steps] + ([step_of(named)] if named is not None else []), default=None)
    return steps, newest


FINISHED = ("completed", "stopped_early", "pruned")  # summary.json statuses of a run that ended on its own
CHOICES = "best, latest or step_N"


def select(path: Path, which: str | None = None) -> tuple[Path, Path, str]:
    """`(run_dir, what to load, label)` for `--checkpoint which` of `path`.

    `path` is a run directory (or a W&B model artifact's folder) or one of its checkpoint
    directories (`checkpoints/step_N`, `checkpoints/best`). `which` is `best`, `latest`, `step_N`
    (or `N`), or a checkpoint directory of the same run. By default a checkpoint directory is
    itself, and a run directory gives its best checkpoint when the run finished and kept one
    (`best/`, by `train.early_stop.metric`), else its latest: an interrupted run is opened where
    it stopped, as `--resume` would continue it."""
    path = Path(path)
    if path.is_file():  # `runs/x/<id>/config.yaml`: its folder was meant
        meant = path.parent if (path.parent / "config.yaml").is_file() or (path.parent / STATE).is_file() else None
        raise RlgenError(f"{path} is a file, not a run directory: "
                         + (f"give its folder, {meant}" if meant else "runs live under runs/<name>/<id>"))
    if which is not None and not str(which).strip():
        raise RlgenError(f"the checkpoint to open is empty ({which!r}): give {CHOICES}, or none for the default "
                         "(a finished run's best, an interrupted run's latest)")
    full = path.absolute()  # `step_N` given from inside checkpoints/ has a parent only in full
    # a run directory may itself sit in a folder named "checkpoints": it holds its config
    in_ckpts = full.parent.name == "checkpoints" and not (path / "config.yaml").is_file()
    run_dir = path
    if in_ckpts:  # relative paths stay relative (messages name what the user typed)
        run_dir = full.parent.parent if path.is_absolute() else Path(os.path.relpath(full.parent.parent))
    if not (run_dir / "config.yaml").is_file() and not (path / STATE).is_file():
        raise RlgenError(f"{path} is not a run directory (no config.yaml); runs live under runs/<name>/<id>")
    rundir.check_links(run_dir)  # what opens it may write into it (eval --video, media)
    ckpt_dir = run_dir / "checkpoints"
    if which is None:
        if in_ckpts or (path / STATE).is_file():
            return run_dir, path, "best" if path.name == BEST else path.name
        kept = best(ckpt_dir)
        if run_status(run_dir) in FINISHED and (kept is not None or (ckpt_dir / BEST).is_dir()):
            # a damaged best/ fails to load, and Run.experiment falls back to the newest, with a warning
            return run_dir, kept or ckpt_dir / BEST, "best"
        return run_dir, run_dir, "latest"
    if in_ckpts:
        raise RlgenError(f"give either a checkpoint directory ({path}) or --checkpoint {which}, not both")
    text = str(which).strip()
    if text == LATEST:
        return run_dir, run_dir, "latest"
    if text == BEST:
        kept = best(ckpt_dir)
        if kept is None and (ckpt_dir / BEST).is_dir():
            raise RlgenError(f"the best checkpoint {ckpt_dir / BEST} is missing or damaged ({STATE} or its step file "
                             "is gone); use --checkpoint latest or step_N")
        if kept is None:
            raise RlgenError(f"{run_dir} has no best checkpoint (checkpoints/best): the run never evaluated "
                             f"its early-stop metric; use --checkpoint latest or step_N")
        return run_dir, kept, "best"
    name = f"step_{text}" if text.isdigit() else text
    if name.startswith("step_") and "/" not in name:
        target = ckpt_dir / name
    else:  # a checkpoint directory by path: it must belong to this run
        target = Path(text)
        if target.parent.resolve() != ckpt_dir.resolve():
            raise RlgenError(f"--checkpoint {which} is not a checkpoint of {run_dir}; use {CHOICES}")
    if not (target / STATE).is_file() and (kept := best(ckpt_dir)) is not None and target.parent == ckpt_dir \
            and step_of(kept) >= 0 and target.name == f"step_{step_of(kept)}":
        return run_dir, kept, target.name  # pruned from the last k, kept as best: the same state
    if not (target / STATE).is_file():
        have = sorted((p.name for p in ckpt_dir.glob("step_*") if (p / STATE).is_file()), key=lambda n: step_of(Path(n)))
        have += [BEST] if best(ckpt_dir) is not None else []
        raise RlgenError(f"no checkpoint {which!r} in {run_dir}: it has {', '.join(have) or 'none'} "
                         f"(--checkpoint takes {CHOICES})")
    return run_dir, target, "best" if target.name == BEST else target.name


def run_status(run_dir: Path, quiet: bool = False) -> str | None:
    """The status in a run's summary.json; None when it has none (a run that never finished writing
    one: interrupted, or running) or one that cannot be read (said on the console unless `quiet`)."""
    import json

    path = run_dir / "summary.json"
    try:
        status = json.loads(path.read_text()).get("status")
        return status if isinstance(status, str) else None
    except FileNotFoundError:
        return None
    except (OSError, ValueError, AttributeError) as e:
        if quiet:
            return None
        from rlgen.logging import console

        console.print(f"[yellow]warning:[/] {path} is unreadable ({type(e).__name__}), so whether the run finished "
                      "is unknown: opening its newest intact checkpoint (--checkpoint best for its best)")
        return None


# --- load -----------------------------------------------------------------------------------------


def load(path: Path, map_location: str | torch.device = "cpu", *, trust: bool = False) -> dict[str, Any]:
    """Load a checkpoint: a `step_<N>` directory, a run directory, or its `checkpoints/` folder.

    A run directory gives its newest intact checkpoint: a missing, cut short or corrupted latest
    one is skipped with a warning naming what that costs. `trust=True` also reads checkpoints
    that hold pickled objects (older rlgen versions), which can run code: only for files you trust."""
    path = Path(path)
    tried, newest = candidates(path)
    if not tried:
        raise RlgenError(
            f"no checkpoint found at {path}: expected a run directory with checkpoints/latest, "
            "a checkpoints/ folder, or a checkpoints/step_<N> directory (has the run saved one yet?)"
        )
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


def read(ckpt: Path, map_location: str | torch.device = "cpu", *, trust: bool = False) -> dict[str, Any]:
    """One checkpoint directory, verified against its checksum, read without running code."""
    file = ckpt / STATE
    if not file.is_file():
        raise RlgenError(f"checkpoint {ckpt} is missing ({STATE} not found)")
    data = file.read_bytes()
    checksum = ckpt / CHECKSUM
    if checksum.is_file():
        expected = checksum.read_text().split()
        if not expected or hashlib.sha256(data).hexdigest() != expected[0]:
            raise RlgenError(f"checkpoint {ckpt} is corrupted or was cut short (its checksum does not match)")
    else:  # rlgen writes the checksum before a checkpoint appears: a copy that left it behind, or a hand-made one
        console.print(f"[yellow]warning:[/] checkpoint {ckpt} has no {CHECKSUM}, so whether {STATE} is whole is "
                      "not checked; copy the checkpoint directory with its checksum")
    try:
        state = torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        if "weights only" not in str(e).lower():  # not a refused global: a damaged file
            raise RlgenError(f"checkpoint {ckpt} is unreadable ({first_line(e)})") from None
        if not trust:
            raise UnsafeCheckpointError(f"refused to open {file}: it holds Python objects ({_globals_in(data)}), "
                                        f"and loading them can run code; {TRUST_HINT}") from None
        state = _load_trusted(file, data, map_location)
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


# What an old-format (pickled) checkpoint may name, and nothing else, even under --trust: numpy
# arrays, scalars and RNG states, torch devices, gymnasium spaces and SB3's replay buffers, so a
# crafted file is refused by name instead of being executed.
_SPACES = frozenset(f"gymnasium.spaces.{m}.{c}" for m, c in (
    ("box", "Box"), ("discrete", "Discrete"), ("dict", "Dict"), ("multi_discrete", "MultiDiscrete"),
    ("multi_binary", "MultiBinary"), ("tuple", "Tuple")))
_BUFFERS = frozenset(f"stable_baselines3.common.buffers.{c}" for c in ("ReplayBuffer", "DictReplayBuffer"))
# Of those, the classes a pickle makes without calling them: NEWOBJ (`cls.__new__(cls)`, what
# `__reduce_ex__(2)` writes for an ordinary object), then BUILD sets its attributes. Only the
# pickled replay buffer of an old checkpoint holds them (`unpickle`), and a call of one (REDUCE) is
# refused: it would run __init__ with the file's arguments (`ReplayBuffer(10**12, ...)` allocates
# terabytes). The other classes are called harmlessly (`numpy.dtype("f8")`, `torch.device("cpu")`).
NEW_ONLY = _SPACES | _BUFFERS
OLD_FORMAT_GLOBALS = frozenset({
    "builtins.set", "builtins.frozenset", "builtins.slice", "collections.OrderedDict", "collections.deque",
    "numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
    "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
    "numpy.random._pickle.__generator_ctor", "numpy.random._pickle.__bit_generator_ctor",
    "numpy.random._pickle.__randomstate_ctor", "numpy.random._pcg64.PCG64", "numpy.random._mt19937.MT19937",
    "numpy.random.bit_generator.__pyx_unpickle_SeedSequence", "numpy.random.bit_generator.SeedSequence",
    "torch.device", *NEW_ONLY,
})


class _OldFormatUnpickler(pickle._Unpickler):  # the Python implementation: each opcode can be checked
    """Reads only `OLD_FORMAT_GLOBALS`, and makes a `NEW_ONLY` class's objects only by NEWOBJ."""

    dispatch = dict(pickle._Unpickler.dispatch)

    def __init__(self, file: Any):
        super().__init__(file)
        self._new_only: list[type] = []

    def find_class(self, module: str, name: str) -> Any:
        dotted = f"{module}.{name}"
        if dotted not in OLD_FORMAT_GLOBALS and not module.startswith("numpy.dtypes"):
            raise UnsafeCheckpointError(f"refused {dotted}: an old-format checkpoint may hold numpy "
                                        "arrays, RNG states, gymnasium spaces and SB3 replay buffers, not this")
        found = super().find_class(module, name)
        if dotted in NEW_ONLY:
            self._new_only.append(found)
        return found

    def _refuse_call(self, func: Any) -> None:
        if any(func is cls for cls in self._new_only):
            raise UnsafeCheckpointError(f"refused a call of {func.__module__}.{func.__qualname__}: an old-format "
                                        "checkpoint holds gymnasium spaces and SB3 replay buffers with their "
                                        "attributes set, never made by calling the class (which runs its __init__)")

    def load_reduce(self) -> None:
        self._refuse_call(self.stack[-2])  # the callable, under its arguments
        super().load_reduce()

    def _instantiate(self, klass: Any, args: Any) -> None:  # INST and OBJ (protocols 0 and 1)
        self._refuse_call(klass)
        super()._instantiate(klass, args)

    dispatch[pickle.REDUCE[0]] = load_reduce


def _old_format_objects() -> list[Any]:
    """`OLD_FORMAT_GLOBALS` as objects, for torch's own allowlist (`torch.serialization.safe_globals`),
    less `NEW_ONLY`: torch's unpickler calls an allowed class that a REDUCE names, and an old
    checkpoint held spaces and buffers only inside its pickled replay buffer (`unpickle`)."""
    import importlib

    import numpy as np

    found = [type(np.dtype(t)) for t in np.sctypeDict.values()]  # numpy.dtypes.Float32DType, ...: dtype classes
    for dotted in OLD_FORMAT_GLOBALS - NEW_ONLY:
        module, name = dotted.rsplit(".", 1)
        try:
            found.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            continue  # another numpy or gymnasium version names it otherwise
    return found


def _load_trusted(file: Path, data: bytes, map_location: str | torch.device) -> dict[str, Any]:
    """An old-format checkpoint under --trust: read by torch's weights-only unpickler with the
    old format's few classes allowed; anything else it names is refused, not run."""
    console.print(f"[yellow]warning:[/] {file} is an old-format checkpoint; reading its numpy, gymnasium and "
                  "SB3 objects (--trust)")
    try:
        with torch.serialization.safe_globals(_old_format_objects()):
            return torch.load(io.BytesIO(data), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as e:
        raise UnsafeCheckpointError(f"refused to open {file}: it holds Python objects an old-format checkpoint "
                                    f"never held ({_globals_in(data, OLD_FORMAT_GLOBALS - NEW_ONLY)})") from None
    except Exception as e:  # noqa: BLE001
        raise RlgenError(f"checkpoint {file} is unreadable ({type(e).__name__}: {first_line(e)})") from None


def _globals_in(data: bytes, allowed: frozenset[str] = frozenset()) -> str:
    """What a refused checkpoint would import to load (`os.system`, `numpy...scalar`), a few names
    (less those `allowed`)."""
    try:
        names = [n for n in torch.serialization.get_unsafe_globals_in_checkpoint(io.BytesIO(data)) if n not in allowed]
    except Exception:  # noqa: BLE001 - only for the message
        return "classes or functions"
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "") or "classes or functions"


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


@contextmanager
def trusted(trust: bool = True) -> Iterator[None]:
    """Within it, `unpickle` may read pickled blobs of an old-format checkpoint the user trusts."""
    token = _trusted.set(trust)
    try:
        yield
    finally:
        _trusted.reset(token)


def unpickle(blob: bytes, what: str) -> Any:
    """A pickled blob inside an old-format checkpoint (an old replay buffer): only under `trusted()`,
    and only with the classes an old checkpoint held (`OLD_FORMAT_GLOBALS`)."""
    if not _trusted.get():
        raise UnsafeCheckpointError(f"refused to unpickle the {what} stored in this checkpoint (a pickle can run "
                                    f"code); {TRUST_HINT}")
    return _OldFormatUnpickler(io.BytesIO(blob)).load()


def _warn_fallback(ckpt: Path, newest: int | None, problems: list[str]) -> None:
    lost = "" if newest is None else f", {newest - step_of(ckpt):,} steps before step_{newest}"
    why = "; ".join(problems) if problems else f"the newest checkpoint step_{newest} is missing"
    cost = ": that progress is trained again" if resuming() else ""  # opened to act or evaluate: nothing is
    console.print(f"[yellow]warning:[/] {why}. Using {ckpt.name} instead{lost}{cost}")


def _prune(ckpt_dir: Path, keep: int) -> None:
    steps = sorted((p for p in ckpt_dir.glob("step_*") if p.is_dir() and not p.name.endswith(".tmp")), key=step_of)
    for old in steps[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
