"""An env that raises in its own step() or reset() during a kind's rollout or evaluation, said in
one line naming the env, the phase, the step and where in the env's code (`RunFailed`: the run
keeps its directory and checkpoints, as a crash does), and a vector env whose subprocess worker
died closed without a second error. rlgen's and SB3's own errors keep their tracebacks. A PettingZoo
game (kind: selfplay, teams) is recognised by its own methods instead (`game=True`): rlgen's
adapters play it under a DummyVecEnv in training, and directly in evaluation and the ratings."""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Callable, Iterator

from pettingzoo import AECEnv, ParallelEnv
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

from rlgen.errors import RlgenError, RunFailed, first_line


@contextmanager
def env_failures(env_id: str, phase: str, step: Callable[[], int], game: bool = False) -> Iterator[None]:
    """What the env's own step() or reset() raises within, as one line naming the env, the phase
    and the step (`RunFailed`: the run keeps its directory, as a crash does); what rlgen's or SB3's
    own code raises goes on as it is. The env's traceback stays as the cause, for a debugger.
    `game`: `env_id` names a PettingZoo game that rlgen's adapters play (`_raised_by_game`)."""
    try:
        yield
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - only what `_raised_by_env` finds in the env's code
        if (raised := _raised_by_game(e) if game else _raised_by_env(e)) is None:
            raise
        did, detail, where = raised
        what = "game" if game else "env"
        raise RunFailed(f"{what} {env_id!r} {did} in {phase} at step {step():,}: {detail} ({where}: fix the {what})") from e


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


def _raised_by_game(e: BaseException) -> tuple[str, str, str] | None:
    """What a PettingZoo game did and said, and where (its innermost frame of its own), when `e` came
    out of one of its methods (`_is_game`); else None. Not the DummyVecEnv rule: in self-play the
    opponent's moves are played inside the learner's step(), so an error of a policy's (torch's
    frames, not rlgen's) also comes from below the vector env, and it is not the game's."""
    frames = [frame for frame, _ in traceback.walk_tb(e.__traceback__)]  # outermost first
    if frames[-1].f_globals.get("__name__", "").startswith("rlgen."):
        return None  # raised by rlgen's own code (a game module of rlgen's, an adapter): its traceback stays
    lines = traceback.extract_tb(e.__traceback__)
    game_lines = [line for frame, line in zip(frames, lines) if _is_game(frame)]
    if not game_lines:
        return None
    line = game_lines[-1]  # the game's own line, where its code called what raised
    return f"raised {type(e).__name__}", first_line(e), f"{Path(line.filename).name}:{line.lineno}, in {line.name}()"


def _is_game(frame: FrameType) -> bool:
    """Whether `frame` runs a method of a PettingZoo game that is not rlgen's (rlgen's adapters, such
    as kind: teams' one-side env, are ParallelEnvs too, and their errors are rlgen's)."""
    return (isinstance(frame.f_locals.get("self"), (AECEnv, ParallelEnv))
            and not frame.f_globals.get("__name__", "").startswith("rlgen."))


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
