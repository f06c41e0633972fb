"""The one error type rlgen raises for bad input."""


class RlgenError(Exception):
    """Bad input or state the user can fix: the message says what, where, and how to fix it."""


class RlgenWarning(UserWarning):
    """Something a user should know that does not stop rlgen (a plugin left out); the CLI prints
    it as one `warning:` line, Python's warning filters apply as to any warning."""


class Diverged(RlgenError):
    """Training produced non-finite values; the runner adds what is on disk and how to go on."""


class RunFailed(RlgenError):
    """A run that failed part way by no fault of its config (a kind's env raised in its own code):
    one line, as bad input is, but the run keeps its directory, checkpoints and failed summary, as
    a crash does, even before its first unit ended."""


class ConfigError(RlgenError):
    """A config failed validation; `problems` holds one line per problem, each with its dotted path."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        self.salvaged = None  # the config with the failing keys set back (rlgen.config_load._salvage), if it validated
        self.paths: list[str] = []  # the dotted keys that failed
        if len(problems) == 1:  # one problem, one line
            super().__init__(f"{source}: {problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} config problems:\n{lines}")


class Interrupted(KeyboardInterrupt):
    """SIGTERM (or SIGINT) before a run's loop could stop at a unit's end; exit status 128 + signum."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def shell_line(*parts: object) -> str:
    """A command line to print for pasting into a shell, each part quoted as the shell needs (a
    path with spaces, `$` or `[`). Printed through rich's markup, it still needs escaping."""
    import shlex

    return shlex.join(map(str, parts))


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (a size-mismatch error runs to forty), or its type."""
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__
