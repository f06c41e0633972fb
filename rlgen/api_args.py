"""The API's own arguments, checked before anything is read, built or written: a wrong one is an
RlgenError that names the function, the argument and what it takes, never a TypeError from deep
inside pathlib, numpy or torch. `rlgen.api` and its `Run` check their arguments with these.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rlgen.config import ExperimentConfig
from rlgen.errors import RlgenError


def _is_path(value: Any) -> bool:
    return isinstance(value, (str, os.PathLike)) and not isinstance(value, bytes)


def _path_arg(func: str, name: str, value: Any, what: str) -> Path:
    if not _is_path(value) or not str(value):
        raise RlgenError(f"{func}: {name} must be a str or pathlib.Path ({what}), not {_shown(value)}")
    return Path(value)


def _config_arg(func: str, config: Any) -> None:
    if not (isinstance(config, (ExperimentConfig, Mapping)) or (_is_path(config) and str(config))):
        raise RlgenError(f"{func}: config is a YAML path, a bundled config name (`rlgen list`), 'zoo:ALGO/ENV', a "
                         f"mapping or a loaded config, not {_shown(config)}")


def _count_arg(func: str, name: str, value: Any, low: int = 1) -> int:
    """A whole number >= low: bool, float and text are refused (3.0 is no count of episodes)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise RlgenError(f"{func}: {name} must be a whole number >= {low}, not {_shown(value)}")
    return int(value)


def _bool_arg(func: str, name: str, value: Any) -> bool:
    """True or False itself: "false", "no", 0 or None are refused, since by truthiness `trust="false"`
    would trust a run and `deterministic="false"` would act deterministically."""
    if not isinstance(value, (bool, np.bool_)):
        raise RlgenError(f"{func}: {name} must be True or False, not {_shown(value)}")
    return bool(value)


def _real_arg(func: str, name: str, value: Any) -> float:
    """A finite real number (a numpy scalar, or an array of one, too): text, bool, NaN and infinity
    are refused, since `float("x")` fails deep inside and a NaN reward would reach the policy's window."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        arr = np.asarray(None)
    if isinstance(value, bool) or arr.dtype.kind not in "iuf" or arr.size != 1 or not np.isfinite(arr).all():
        raise RlgenError(f"{func}: {name} must be a finite real number, not {_shown(value)}")
    return float(arr.reshape(()))


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:60] + '...' if len(text) > 60 else text}"


def _writable_dir(func: str, name: str, value: Any) -> Path:
    """A directory that exists (made, with its parents, if not) and can be written to; else one line
    naming it (a run copied read-only, a shared or downloaded one, keeps its files), or the file in
    its way."""
    path = _path_arg(func, name, value, "a directory to write into")
    try:
        path.mkdir(parents=True, exist_ok=True)
        writable = os.access(path, os.W_OK | os.X_OK)
        reason = "read-only"
    except OSError as e:
        writable, reason = False, e.strerror or type(e).__name__
    if not writable:
        from rlgen.cli_output import file_in_the_way  # here, on failure only: the API loads no command-line module

        if (blocking := file_in_the_way(path)) is not None:
            # `rlgen eval --video` has no video_dir to change (it writes under the run's media/): name the file
            raise RlgenError(f"{func}: cannot write into {name} {path}: {blocking} is a file, not a folder; "
                             "move or rename it")
        raise RlgenError(f"{func}: cannot write into {name} {path} ({reason}: a shared or downloaded run?); "
                         f"give a {name} you can write to, or copy the run")
    return path
