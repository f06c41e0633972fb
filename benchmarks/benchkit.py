"""What every benchmark script shares: its argument parser and argument types, the check that an
rlgen run it started ran to its end, how the script ends, and a raw SB3 model that logs nowhere.

The scripts run as `python benchmarks/NAME.py`, which puts this folder first on `sys.path`, so
`import benchkit` finds this file (tests/bench.py puts it there for the tests that load a script).

Why: `rlgen.train` returns normally after Ctrl-C or SIGTERM (the run ends "interrupted", with
`Run.exit_code` 130 / 143), so a script that only reads the summary would score a run cut short as
a result and go on to its next arm. `finished` stops the script instead, as rlgen's own command
line stops: `main` turns that, and every `RlgenError` (a bad config name, an override rlgen
refuses, a run that failed), into one line and rlgen's exit codes (2; 128 + the signal).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, NoReturn, Sequence

from rlgen.cli_parser import _seed, _whole
from rlgen.config import device_problem
from rlgen.errors import Interrupted, RlgenError
from rlgen.seeds import parse_seeds

ENDED = ("completed", "stopped_early")  # a run that ran to its end: its figures are a result
TAIL_LINES = 20  # of a failed child process's output, shown in its error
_children: list[subprocess.Popen] = []  # started by `spawn`: a signal to the script is passed on to the live ones


# --- a run's end ----------------------------------------------------------------------------------


def finished(run: Any, ended: Sequence[str] = ENDED) -> Any:
    """`run` (an `rlgen.train` result), when it ran to its end; see `check_ended`."""
    check_ended(run.summary, run.exit_code, run.run_dir, ended)
    return run


def check_ended(summary: Mapping[str, Any] | None, exit_code: int, run_dir: Path | str,
                ended: Sequence[str] = ENDED) -> Mapping[str, Any]:
    """The summary of a run that ran to its end. A run stopped by a signal (`exit_code` 128 + N;
    also one whose last evaluation ended it while the signal came) raises `Interrupted(N)`: the
    user asked the benchmark to stop. Any other status than `ended` is an error: not a result."""
    if exit_code:  # its directory is mostly a temporary folder's, gone when the script ends: no resume hint
        raise Interrupted(exit_code - 128 if exit_code > 128 else signal.SIGINT)
    status = (summary or {}).get("status")
    if status not in ended:
        raise RlgenError(f"run {run_dir} ended {status!r}, not {' or '.join(ended)}: its figures are no result")
    return summary


def spawn(cmd: Sequence[str], **popen: Any) -> subprocess.Popen:
    """A child process (an `rlgen` command) in a session of its own, as `rlgen train --seeds` starts
    its seeds: a terminal's Ctrl-C reaches only the script, which passes it on exactly once and waits
    for the child's checkpoint (`main`) before the script's temporary folders, the child's run
    directory among them, are removed. Before, the cleanup raced the child's last checkpoint."""
    proc = subprocess.Popen(cmd, start_new_session=True, **popen)
    _children.append(proc)
    return proc


def check_process(returncode: int, output: str, what: str) -> None:
    """A child `rlgen` (or other) process that ended: nothing when it succeeded; one stopped by a
    signal (exit 130 / 143 after its checkpoint, or killed: -N) raises `Interrupted`; a failure
    raises an `RlgenError` holding the last lines of its output, which say why."""
    if returncode == 0:
        return
    signum = -returncode if returncode < 0 else returncode - 128 if returncode in (130, 143) else None
    if signum in (signal.SIGINT, signal.SIGTERM):
        raise Interrupted(signum)
    tail = "\n".join(f"  {line}" for line in output.rstrip().splitlines()[-TAIL_LINES:])
    raise RlgenError(f"{what} failed (exit code {returncode}); its output ends:\n{tail}")


def quiet_sb3(model: Any) -> Any:
    """`model`, a raw SB3 one, logging nowhere. Left to itself, its `learn` makes SB3's default
    logger, which makes an empty /tmp/SB3-<date> folder each run (and a `configure(None, [])` logger
    makes one too); set before a clock starts, so the folder is not timed either."""
    from stable_baselines3.common.logger import Logger

    model.set_logger(Logger(folder=None, output_formats=[]))
    return model


# --- how a script ends ------------------------------------------------------------------------------


def main(script_main: Callable[[], int | None]) -> NoReturn:
    """Run a script's `main` and exit with its return value (None: 0). An `RlgenError` is one
    `error:` line and exit 2, as rlgen's command line prints it; Ctrl-C or SIGTERM (during a run,
    after its checkpoint; elsewhere at once) exits 128 + the signal, temporary folders removed."""
    # default SIGTERM skips `finally` blocks; both pass the signal on to the children first
    previous = {s: signal.signal(s, _raise_interrupted) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        code = script_main()
    except RlgenError as e:
        print(f"error: {e}", file=sys.stderr)
        code = 2
    except KeyboardInterrupt as e:
        signum = getattr(e, "signum", signal.SIGINT)
        print(f"{signal.Signals(signum).name}: the benchmark stopped; a run cut short is no result, and none is "
              "reported", file=sys.stderr)
        code = 128 + signum
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    sys.exit(code or 0)


def _raise_interrupted(signum: int, frame: Any) -> None:
    """Outside an in-process run (which takes the signals while it trains): the live children get
    the signal and are waited for (a second Ctrl-C, arriving here again, passes on a second, which
    aborts them), then the script stops."""
    live = [p for p in _children if p.poll() is None]
    for proc in live:
        proc.send_signal(signum)
    for proc in live:
        _wait_unlocked(proc)
    raise Interrupted(signum)


def _wait_unlocked(proc: subprocess.Popen) -> None:
    """Until `proc` has ended, its exit code in `proc.returncode` as `Popen.wait` would leave it. Not
    `proc.wait()`: the signal may have interrupted the script's own `proc.wait()`, which holds the
    (not re-entrant) lock that one takes, and the handler then waited on that lock forever. Not
    `os.waitid(..., WNOWAIT)` either: macOS has it from Python 3.13 on only."""
    try:
        _, status = os.waitpid(proc.pid, 0)
    except ChildProcessError:
        return  # reaped already, by a `poll` in a second signal's handler
    proc.returncode = os.waitstatus_to_exitcode(status)


# --- arguments --------------------------------------------------------------------------------------


class Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one `error:` line and exit 2, like rlgen's own (no usage block)."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {message} (see `{self.prog} -h`)", file=sys.stderr)
        sys.exit(2)


def count(text: str) -> int:
    """A whole number >= 1 (steps, episodes, workers): 0 would silently mean a default or nothing.
    Unbounded, unlike rlgen's command-line counts: a step budget may well pass a million."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


seed = _seed  # a seed as rlgen's own command line reads one


def seeds(text: str) -> list[int]:
    """Seeds as rlgen's `--seeds` reads them: `0,1,2`, `100-104`, or both mixed."""
    try:
        return parse_seeds(text)
    except RlgenError as e:
        raise argparse.ArgumentTypeError(str(e).removeprefix(f"--seeds {text!r}: ")) from None


def counts(text: str) -> list[int]:
    """Comma-separated whole numbers >= 1, e.g. worker counts `1,2,4`."""
    try:
        return [count(part) for part in text.split(",")]
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected whole numbers >= 1 separated by commas, like 1,2,4, "
                                         f"not {text!r}") from None


def _real(text: str, fits: Callable[[float], bool], what: str) -> float:
    """`text` as a real number that `fits`, else argparse's one-line error expecting `what`."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not fits(value):
        raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}")
    return value


def positive(text: str) -> float:
    """A real number > 0 (a scale, a ratio)."""
    return _real(text, lambda v: 0 < v < float("inf"), "a number > 0")


def fraction(text: str) -> float:
    """A share of something, in (0, 1]."""
    return _real(text, lambda v: 0 < v <= 1, "a fraction in (0, 1]")


def directory(text: str) -> Path:
    """A directory that exists (a run directory to measure): a typo is refused before any work."""
    if not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    return Path(text)


def device(text: str) -> str:
    """A device name as rlgen's configs take it: auto, cpu, mps, cuda or cuda:N."""
    if (problem := device_problem(text)) is not None:
        raise argparse.ArgumentTypeError(problem)
    return text


def output_file(text: str) -> Path:
    """A file the script writes (--json, --out, --grid): refused while the arguments are read when
    it names a folder, or when a file stands where a folder above it must go. Before, it was a
    traceback once the first seed or section had trained."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a folder; give a file path in it, e.g. {Path(text) / 'out.json'}")
    return _no_file_above(text)


def output_folder(text: str) -> Path:
    """A folder the script makes or fills (runs kept, a venv built): refused when it is a file, or a
    file stands where a folder above it must go."""
    if Path(text).exists() and not Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file; give a folder (one that exists, or one to make)")
    return _no_file_above(text)


def _no_file_above(text: str) -> Path:
    """`text` as a path whose nearest existing folder above it is a folder, so what is missing can be made."""
    path = Path(text)
    parent = next(p for p in path.absolute().parents if p.exists())  # the root always does
    if not parent.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: {parent} is a file, so no folder can be made there for it")
    return path


class Distinct(argparse.Action):
    """A list flag (`nargs="+"`) whose words are flattened (`--seeds 0,1 2`: each word may be a list)
    and must all differ: a seed or config given twice trained twice and counted twice."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        flat = [v for word in values for v in (word if isinstance(word, list) else [word])]
        if twice := [v for i, v in enumerate(flat) if v in flat[:i]]:
            shown = twice[0][0] if isinstance(twice[0], tuple) else twice[0]  # zoo's specs: (text, ...)
            parser.error(f"{option_string or self.dest} lists {shown} twice; give each once")
        setattr(namespace, self.dest, flat)
