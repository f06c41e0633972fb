"""How rlgen's commands meet the terminal: the console for a command's result (stdout), command
lines to paste and text escaped for rich's markup; and the one line `rlgen.cli.main` prints for
each failure it catches (a reader of stdout gone, an output encoding that cannot hold the text, a
path that cannot be written, rlgen's own warnings), instead of a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from rlgen.checkpoint_select import CheckpointChoiceError
from rlgen.cli_parser import CHECKPOINT
from rlgen.errors import RlgenError, shell_line
from rlgen.logging import console

if TYPE_CHECKING:
    from rich.console import Console


def _pipe_closed() -> int:
    """The reader of stdout went away (`rlgen eval RUN | head -1`): stop at once, quietly, as a
    program killed by SIGPIPE does: exit 141, 128 + SIGPIPE, as 130 after Ctrl-C, so that a script
    can tell the output was cut short. Stdout then points to /dev/null, so that Python's flush at
    exit writes nothing more."""
    import signal

    from rlgen.logging import to_devnull

    to_devnull(sys.stdout)
    return 128 + signal.SIGPIPE


def _stdout_gone() -> bool:
    """Whether stdout is a pipe whose reader went away (poll says POLLERR): a BrokenPipeError from
    anything else, a SubprocVecEnv worker that died, is an error to say, not a reader gone."""
    import select

    try:
        poller = select.poll()
        poller.register(sys.stdout.fileno(), select.POLLOUT)
        return any(events & select.POLLERR for _, events in poller.poll(0))
    except (AttributeError, OSError, ValueError):  # no file descriptor (a test's capture), or no poll
        return False


def _unwritable(e: UnicodeEncodeError) -> str | None:
    """One line for text that the output's encoding cannot hold (PYTHONIOENCODING=ascii, a legacy
    code page); None for an encoding error that is not the output's."""
    import codecs

    streams = {codecs.lookup(s.encoding).name for s in (sys.stdout, sys.stderr) if getattr(s, "encoding", None)}
    if codecs.lookup(e.encoding).name not in streams:
        return None
    return (f"the output's encoding, {e.encoding}, cannot write {ascii(e.object[e.start:e.end])}: run the command with "
            "PYTHONIOENCODING=utf-8 (or in a UTF-8 locale)")


def _said(e: RlgenError) -> str:
    """The error's message; a checkpoint choice, worded for rlgen.load_run's `checkpoint=`, as the
    commands take it (--checkpoint), the only way a command passes a choice on."""
    return e.worded(CHECKPOINT) if isinstance(e, CheckpointChoiceError) else str(e)


def _one_line_warnings() -> None:
    """rlgen's own warnings (a plugin left out) as `warning: ...` lines; any other as Python prints it."""
    import warnings

    from rlgen.errors import RlgenWarning

    show = warnings.showwarning
    if getattr(show, "rlgen", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, RlgenWarning):
            console.print(f"[yellow]warning:[/] {_esc(str(message))}")
        else:
            show(message, category, filename, lineno, file, line)

    showwarning.rlgen = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


def os_error_text(e: OSError) -> str:
    """One line for a path that cannot be read or written; a file in the way of a folder is named."""
    if isinstance(e, (FileExistsError, NotADirectoryError)) and e.filename:
        if (blocking := file_in_the_way(Path(e.filename))) is not None:
            return f"{blocking} is a file, so no folder can be made there or under it: give another path"
    return f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}"


def file_in_the_way(folder: Path) -> Path | None:
    """The file at `folder` or at one of its parents, if any."""
    return next((p for p in (folder, *folder.parents) if p.is_file()), None)


def _out() -> Console:
    """The console for a command's result: stdout (`rlgen eval RUN > scores.txt`, `| cat`), whole
    lines off a terminal. A stdout closed at the start (`>&-`) is refused: the result would vanish."""
    from rlgen.logging import report_console

    if sys.stdout is None:
        raise RlgenError("stdout is closed, and this command writes its result there: send it to a file "
                         "(> out.txt), or to > /dev/null to drop it")
    return report_console()


def _command(*parts: object) -> str:
    """A command line to print for pasting into a shell: each part quoted as the shell needs
    (a path with spaces or `$`), then escaped for rich's markup."""
    return _esc(shell_line(*parts))


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)
