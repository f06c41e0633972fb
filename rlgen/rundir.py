"""One run, one directory: run directories are created exclusively and held by a lock while a
process trains in them.

    path = create(Path("runs/ppo_cartpole"), seed=0)   # runs/ppo_cartpole/20261121-101500-s0-3fa2c91b
    with locked(path): ...                             # a second process training here is refused

A new run's id ends in 32 random bits and its directory is made with an exclusive `mkdir`: two
runs that draw the same id (the same second, the same bits) cannot share it; the second draws
again. The lock is an advisory `flock` on `RUN_DIR/.lock`, released by the OS however the process
ends (SIGKILL included), so a killed run can be resumed at once: a process it forks (an env worker)
closes its copy of the lock at the fork, so the lock never outlives the trainer.

A run directory opened by rlgen (`--resume`, eval, export, play, record, `rlgen.load_run`) may hold
no symbolic link that leads outside it (`check_links`): rlgen writes into a run's files, and would
write through such a link into the file it names.
"""

from __future__ import annotations

import errno
import os
import re
from fnmatch import fnmatchcase
import secrets
import shutil
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Iterator

from rlgen.errors import RlgenError, shell_line

LOCK = ".lock"
ATTEMPTS = 20
_HELD: set[int] = set()  # the lock fds this process holds (`locked`)


def _drop_inherited_locks() -> None:
    """In a process forked while a run is locked (a SubprocVecEnv worker, a DataLoader worker):
    close its copy of the lock fd, which would otherwise keep the run locked after the trainer is
    gone (SIGKILL) for as long as the child lives. The trainer's own fd still holds the lock: a
    flock belongs to the open file and is released when the last fd on it closes."""
    for fd in _HELD:
        with suppress(OSError):
            os.close(fd)
    _HELD.clear()


if hasattr(os, "register_at_fork"):  # POSIX; Windows has neither fork nor flock
    os.register_at_fork(after_in_child=_drop_inherited_locks)


def run_id(seed: int) -> str:
    return f"{time.strftime('%Y%m%d-%H%M%S')}-s{seed}-{secrets.token_hex(4)}"


RUN_ID = re.compile(r"\d{8}-\d{6}-s\d+-[0-9a-f]{8}")
WANDB_ID = "wandb_id"  # the W&B run's id, kept in the run directory from the first time W&B starts there
_ID = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # the characters rlgen makes an id of
# a W&B run folder, `<offline-run|run>-<YYYYMMDD_HHMMSS>-<id>` (and `-<n>` when two start in one
# second), holding its log `run-<id>.wandb`: wandb.sdk.wandb_settings.Settings.sync_dir / sync_file
_WANDB_FOLDER = re.compile(r"(?:offline-)?run-(\d{8}_\d{6})-(.+)")
_WANDB_LOG = re.compile(r"run-([A-Za-z0-9_.-]{1,128})\.wandb")


def wandb_id(run_dir: Path) -> str:
    """The W&B run id of a run, kept in its `wandb_id` file with the directory it was written in,
    so that a run directory renamed or moved continues its own W&B run, while a copy resumed beside
    its original (which still holds the same id) starts a W&B run of its own. A run without the
    file (made by an rlgen that kept the id only for `--run-dir`) takes the id of the first W&B run
    folder it holds, else its directory's name when rlgen named it (unique), else an id made from
    the name: two `--run-dir .../a` never share one W&B run. Only names are read: nothing in the
    run's wandb/ folder is opened."""
    kept, here = run_dir / WANDB_ID, run_dir.resolve()
    found, written_in = _kept_id(kept)
    # a copy: the directory it was copied from is still there, holding the same W&B run
    if found is not None and written_in not in (None, here) and _kept_id(written_in / WANDB_ID)[0] == found:
        found = _made_id(run_dir.name)
    elif found is None:
        found = _wandb_folder_id(run_dir) or (run_dir.name if RUN_ID.fullmatch(run_dir.name) else None) \
            or _made_id(run_dir.name)
    if (found, here) != _kept_id(kept):
        kept.write_text(f"{found}\n{here}\n")
    return found


def _made_id(name: str) -> str:
    """A new W&B run id from a directory's name: `<name>-<hex>`."""
    return f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name).strip('-')[:48] or 'run'}-{secrets.token_hex(4)}"


def _kept_id(kept: Path) -> tuple[str | None, Path | None]:
    """(id, the directory it was written in) of a `wandb_id` file; (None, None) without a valid id.
    The directory is None in a file an earlier rlgen wrote (the id alone)."""
    try:
        if not kept.is_file():  # nothing else is opened (a fifo there would wait for ever)
            return None, None
        with open(kept, encoding="utf-8", errors="replace") as f:
            lines = f.read(4096).splitlines()
    except OSError:
        return None, None
    found = lines[0].strip() if lines else ""
    if not _ID.fullmatch(found):
        return None, None
    written_in = lines[1].strip() if len(lines) > 1 else ""
    return found, (Path(written_in) if written_in.startswith("/") else None)


def _wandb_folder_id(run_dir: Path) -> str | None:
    """The id of the first (oldest) W&B run folder in `run_dir`/wandb, from the name of the log
    W&B keeps in it (a folder's own name may end in `-<n>` after the id); None without one. Links
    are not followed (wandb/latest-run is one)."""
    found = []
    try:
        with os.scandir(run_dir / "wandb") as folders:
            for folder in folders:
                shape = _WANDB_FOLDER.fullmatch(folder.name)
                if shape is None or not folder.is_dir(follow_symlinks=False):
                    continue
                with os.scandir(folder.path) as files:
                    logs = [m[1] for e in files if (m := _WANDB_LOG.fullmatch(e.name))]
                found += [(shape[1], folder.name, log) for log in logs
                          if re.fullmatch(re.escape(log) + r"(-\d+)?", shape[2])]
    except OSError:  # no wandb/ folder (W&B never ran there), or one that cannot be listed
        return None
    return min(found)[2] if found else None


def plan(parent: Path, seed: int) -> Path:
    """Where a new run will most likely go (`create(..., planned=)` tries it first)."""
    return Path(parent) / run_id(seed)


def create(parent: Path, seed: int, planned: Path | None = None) -> Path:
    """A new, empty run directory under `parent`, created by this call and no other: `planned`
    when it is still free, else a new id. Refused, it leaves none of the parents it made."""
    with _parents_undone_if_refused(parent, "logging.dir and name"):
        for attempt in range(ATTEMPTS):
            path = planned if planned is not None and attempt == 0 else parent / run_id(seed)
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue  # another run drew the same id: draw again
            except OSError as e:
                raise _cannot_create(path, e, "logging.dir and name") from None
        raise RlgenError(f"could not create a new run directory under {parent}: {ATTEMPTS} ids were taken")


def claim(path: Path) -> Path:
    """A directory chosen for a new run (`--run-dir`, or by `--seeds --parallel`'s parent): created
    here, or already there and empty (the parent made it); never one that holds a run. Refused, it
    leaves none of the parents it made."""
    path = Path(path)
    with _parents_undone_if_refused(path.parent, "the run directory's path"):
        try:
            path.mkdir()
        except FileExistsError:
            if not path.is_dir():
                raise RlgenError(f"the run directory {path} is a file, not a directory") from None
            if any(p.name != LOCK for p in path.iterdir()):
                resume = (f", or continue that run with `{shell_line('rlgen', 'train', '--resume', path)}` (from "
                          f"Python: rlgen.train(resume={str(path)!r}))") if (path / "config.yaml").is_file() else ""
                raise RlgenError(f"the run directory {path} already holds files{' (a run)' if resume else ''}: give a "
                                 f"new or empty directory{resume}") from None
            check_links(path)  # its .lock: a link out would be created and locked where it points
        except OSError as e:
            raise _cannot_create(path, e, "the run directory's path") from None
    return path


@contextmanager
def _parents_undone_if_refused(parent: Path, check: str) -> Iterator[None]:
    """Make `parent` (and its parents); when what follows is refused (a name too long, a file in
    the way), remove again those of them this call made, as a refused run leaves nothing behind."""
    made = absent(parent, check)
    try:
        _make_parents(parent, check)
        yield
    except RlgenError:
        prune(made)
        raise


def absent(path: Path, check: str = "the run directory's path") -> list[Path]:
    """`path` and those of its parents that do not exist yet, innermost first: what making it makes.
    A path the system refuses to look up (a name too long) is one line naming it and `check`."""
    made = []
    for p in (Path(path), *Path(path).parents):
        try:
            if p.exists():
                break
        except OSError as e:  # exists() raises for ENAMETOOLONG, not only reports False
            raise _cannot_create(Path(path), e, check) from None
        made.append(p)
    return made


def discard(path: Path, made: list[Path]) -> None:
    """Undo a new run's directory after it failed to start: its files, and the directories in `made`
    (from `absent`, taken before it was made) while they are empty; a directory that was there,
    empty, before the run claimed it stays, emptied."""
    path = Path(path)
    if path in made:
        shutil.rmtree(path, ignore_errors=True)
    elif path.is_dir():
        for child in path.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    prune([p for p in made if p != path])


def prune(made: list[Path]) -> None:
    """Remove the directories `made` (innermost first, from `absent`) while they are empty."""
    for parent in made:
        try:
            parent.rmdir()
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ENAMETOOLONG):  # gone already, or never made (a name too long)
                continue
            break  # another run's directory is in there now


# W&B's own links in a run's wandb/ folder. W&B replaces the first three when it starts again
# (remove, then rename a new link into place: it never writes through them), and a W&B run folder's
# debug-core.log, which names the log in the W&B cache of the machine that wrote the run, is made
# only by the W&B that made that folder. They may point anywhere: a run copied to another
# directory or machine keeps them as they were, and opens.
WANDB_LINKS = ("wandb/latest-run", "wandb/debug.log", "wandb/debug-internal.log", "wandb/*/logs/debug-core.log")


def check_links(run_dir: Path) -> None:
    """Refuse a run directory in which any path is a symbolic link whose target lies outside it
    (W&B's own links aside, `WANDB_LINKS`): a resume appends to metrics.jsonl and rewrites
    summary.json and config.yaml, an evaluation records into media/, and a link there would have
    them write into whatever file it names. The directory is walked without following a link, and
    nothing is changed. The run directory itself may be a link (a run kept on another disk)."""
    root = os.path.realpath(run_dir)

    def unlisted(e: OSError) -> None:  # a folder rlgen cannot list could hide a link it writes through
        if isinstance(e, FileNotFoundError):
            return  # gone since it was listed (a checkpoint pruned by the run still training): nothing to hide
        raise RlgenError(f"refused to open {run_dir}: {e.filename} cannot be listed ({e.strerror}), so its links "
                         "cannot be checked; make it readable (chmod u+r) or copy the run") from None

    if not os.path.isdir(root):
        return  # nothing there to write through: what opens it says it is no run directory
    if not os.access(root, os.R_OK | os.X_OK):
        unlisted(PermissionError(13, "Permission denied", root))
    for parent, dirs, files in os.walk(root, onerror=unlisted):  # a link to a directory is listed, never entered
        for name in sorted(dirs + files):
            path = os.path.join(parent, name)
            if not os.path.islink(path):
                continue
            target, rel = os.path.realpath(path), os.path.relpath(path, root)
            if _inside(target, root) or _wandbs_own(path):
                continue
            raise RlgenError(f"refused to open {run_dir}: {rel} is a symbolic link to {target}, outside the run "
                             "directory, and what rlgen writes into the run (metrics, summary, checkpoints, media) "
                             "would go there; replace the link with the file it names (or link the run directory itself)")


def _inside(path: str, root: str) -> bool:
    try:
        return os.path.commonpath([root, path]) == root
    except ValueError:  # another drive (Windows)
        return False


def _wandbs_own(path: str) -> bool:
    """Whether the full `path` ends in one of `WANDB_LINKS`: wherever the run directory lies from
    the directory checked (a folder of runs given instead of a run, or a folder inside the run),
    so that what opens it can say what it is. rlgen writes nothing in a wandb/ folder."""
    parts = Path(path).parts
    return any(len(parts) >= len(shape := pattern.split("/")) and all(map(fnmatchcase, parts[-len(shape):], shape))
               for pattern in WANDB_LINKS)


@contextmanager
def locked(path: Path, new: bool = False) -> Iterator[None]:
    """Hold `path` for this process: another process training in it is refused with a message.
    `new`: the directory was chosen for a new run, not one to resume."""
    try:
        import fcntl
    except ImportError:  # Windows: no flock; runs still never share a directory they create
        yield
        return
    try:
        fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as e:
        raise _cannot_lock(path, e) from None
    owner = os.getpid()
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fix = ("give this run a new or empty directory" if new else
                   "wait for it to end (or stop it with Ctrl-C, which leaves a checkpoint) before resuming it")
            raise RlgenError(f"run directory {path} is in use by another rlgen process; {fix}") from None
        _HELD.add(fd)
        yield
    finally:
        if os.getpid() == owner:  # a forked child leaving this block closed its copy at the fork
            _HELD.discard(fd)
            os.close(fd)  # closing releases the lock


def _cannot_lock(path: Path, e: OSError) -> RlgenError:
    lock = path / LOCK
    if e.errno == errno.EISDIR:
        fix = f"{lock} is a directory, not rlgen's lock file: remove it (rmdir)"
    elif e.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        fix = f"make {lock} and the run directory writable (chmod u+w), or copy the run somewhere writable"
    else:
        fix = f"check {lock} and the run directory's permissions"
    return RlgenError(f"cannot use run directory {path}: its lock file cannot be opened ({e.strerror or e}); {fix}")


def _make_parents(parent: Path, check: str) -> None:
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise RlgenError(f"cannot create run directories under {parent}: a part of that path is a file, "
                         f"not a directory (check {check})") from None
    except OSError as e:
        raise _cannot_create(parent, e, check) from None


def _cannot_create(path: Path, e: OSError, check: str) -> RlgenError:
    return RlgenError(f"cannot create {path}: {e.strerror or e} (check {check})")
