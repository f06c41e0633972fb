"""An env that raises in its own step() or reset() during a kind's rollout or evaluation, said in
one line naming the env, the phase, the step and where in the env's code (`RunFailed`: the run
keeps its directory and checkpoints, as a crash does), and a vector env whose subprocess worker
died closed without a second error. rlgen's and SB3's own errors keep their tracebacks."""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from rlgen.errors import RlgenError, RunFailed, first_line


@contextmanager
def env_failures(env_id: str, phase: str, step: Callable[[], int]) -> Iterator[None]:
    """What the env's own step() or reset() raises within, as one line naming the env, the phase
    and the step (`RunFailed`: the run keeps its directory, as a crash does); what rlgen's or SB3's
    own code raises goes on as it is. The env's traceback stays as the cause, for a debugger."""
    try:
        yield
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - only what `_raised_by_env` finds in the env's code
        if (raised := _raised_by_env(e)) is None:
            raise
        did, detail, where = raised
        raise RunFailed(f"env {env_id!r} {did} in {phase} at step {step():,}: {detail} ({where}: fix the env)") from e


def _raised_by_env(e: BaseException) -> tuple[str, str, str] | None:
    """What the env did and said, and where, when `e` came out of its copies: raised below a DummyVecEnv's
    call to a copy's step() or reset(), by no rlgen module (a bug of rlgen's own envs and wrappers
    keeps its traceback); or the pipe to a SubprocVecEnv worker that died, which sends no error
    (SB3's `_worker` lets it kill the process, which prints its traceback). Else None."""
    frames = [frame for frame, _ in traceback.walk_tb(e.__traceback__)]  # outermost first
    for frame, below in zip(frames, frames[1:]):
        vec = frame.f_locals.get("self") if frame.f_code.co_name in ("step_wait", "reset") else None
        if isinstance(vec, SubprocVecEnv) and isinstance(e, (EOFError, OSError)):
            return "failed", (f"its worker process (env.vectorize: subproc) died ({type(e).__name__}); its error is "
                              "printed above, and env.vectorize: dummy shows it here"), "in its step() or reset()"
        if isinstance(vec, DummyVecEnv) and below.f_code.co_filename != frame.f_code.co_filename:
            if frames[-1].f_globals.get("__name__", "").startswith("rlgen."):
                return None
            line = traceback.extract_tb(e.__traceback__)[-1]  # the env's own line: its traceback is not shown
            return f"raised {type(e).__name__}", first_line(e), f"{Path(line.filename).name}:{line.lineno}, in {line.name}()"
    return None


def close_vec_env(venv: VecEnv) -> None:
    """Close `venv`. SubprocVecEnv.close waits for the answer of a worker that died (its env raised):
    EOFError; the others, which ignore SIGTERM (make_vec_env), are killed instead."""
    try:
        venv.close()
    except (EOFError, OSError):
        workers = venv.unwrapped
        if not isinstance(workers, SubprocVecEnv):
            raise
        for process in workers.processes:
            process.kill()
            process.join()
        workers.closed = True
