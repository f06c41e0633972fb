"""A throwaway PostgreSQL server on loopback, for the tests, the scale benchmark and .ci/run.

Debian's binaries (`apt-get install postgresql` puts them in /usr/lib/postgresql/<version>/bin),
`initdb` into a fresh temporary directory, trust authentication, 127.0.0.1 and a free port. As root
the server runs as the `postgres` user the package creates (PostgreSQL refuses to run as root).
Standard library only, so that .ci/run can call it before any virtual environment exists:

    python3 tests/postgres.py start          # prints: URL DATA_DIR
    python3 tests/postgres.py stop DATA_DIR
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

USER = "postgres"


def bindir() -> Path | None:
    """The directory of initdb and pg_ctl: on PATH, else the newest Debian version."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def missing() -> str | None:
    """Why no server can be started here, or None."""
    if bindir() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql; .ci/run installs it)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(USER)
        except KeyError:
            return f"running as root, and there is no {USER!r} user to run the server as"
    return None


def _as_owner(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *cmd] if os.geteuid() == 0 else cmd


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(durable: bool = False) -> tuple[str, Path]:
    """Start a server; returns its URL (database `postgres`, user `postgres`) and its data dir.
    `durable=False` turns fsync off: a throwaway server for tests need not survive a power cut."""
    why = missing()
    if why:
        raise RuntimeError(why)
    bins = bindir()
    assert bins is not None
    data = Path(tempfile.mkdtemp(prefix="rlgen-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, USER, USER)
    run = lambda cmd: subprocess.run(_as_owner(cmd), check=True, capture_output=True, text=True)  # noqa: E731
    run([str(bins / "initdb"), "-D", str(data / "db"), "-U", USER, "-A", "trust", "-E", "UTF8", "--no-sync"])
    port = _free_port()
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c max_connections=200"
    if not durable:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    run([str(bins / "pg_ctl"), "-D", str(data / "db"), "-l", str(data / "server.log"), "-w", "-t", "120",
         "-o", options, "start"])
    return f"postgresql://{USER}@127.0.0.1:{port}/postgres", data


def stop(data: Path) -> None:
    bins = bindir()
    if bins is not None and (data / "db" / "postmaster.pid").is_file():
        subprocess.run(_as_owner([str(bins / "pg_ctl"), "-D", str(data / "db"), "-m", "immediate", "stop"]),
                       capture_output=True)
    shutil.rmtree(data, ignore_errors=True)


def create_database(server_url: str, name: str) -> str:
    """A new, empty database on the server; its URL."""
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + f"/{name}"


def drop_database(server_url: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    if sys.argv[1:2] == ["start"]:
        url, data = start()
        print(url, data)
    elif sys.argv[1:2] == ["stop"] and len(sys.argv) == 3:
        stop(Path(sys.argv[2]))
    else:
        sys.exit(__doc__)
