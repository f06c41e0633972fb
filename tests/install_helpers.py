"""Installing into a throwaway folder and running rlgen in a fresh interpreter, for the packaging
and plugin tests: what a user gets from `pip install`, not what this checkout's sys.path gives."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# build outputs and local state: never a build's input (a build in the source tree writes build/
# and *.egg-info there, and an egg-info on sys.path would shadow an install's entry points)
NOT_SOURCES = (".git", ".venv", "build", "dist", "*.egg-info", "runs", "wandb", "outputs", "__pycache__",
               ".pytest_cache", ".gl")
LIST_SECTIONS = ("configs", "kinds", "sources", "games", "backbones", "wrappers", "envs (gymnasium ids)")


def copy_sources(src: Path, dest: Path) -> Path:
    """A clean copy of a project folder to build from, so the build leaves nothing in `src`."""
    shutil.copytree(src, dest, ignore=shutil.ignore_patterns(*NOT_SOURCES))
    return dest


def pip(*args: str) -> None:
    """The test venv's pip (its setuptools builds: `--no-build-isolation` needs no network)."""
    out = subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                         capture_output=True, text=True)
    assert out.returncode == 0, f"pip {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"


def run_python(args: list[str], cwd: Path, pythonpath: Path | None, check: bool = True) -> subprocess.CompletedProcess:
    """`python ARGS` in `cwd` with only `pythonpath` put ahead of the venv's site-packages; wide
    output (rich wraps at COLUMNS), W&B off."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(COLUMNS="200", WANDB_MODE="disabled")
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    out = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)
    if check:
        assert out.returncode == 0, f"python {' '.join(args)} exited {out.returncode}:\n{out.stdout}\n{out.stderr}"
    return out


def list_sections(text: str) -> dict[str, list[str]]:
    """`rlgen list` output -> section title -> its lines (stripped, blank ones dropped)."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        if line.strip() in LIST_SECTIONS:
            current = sections.setdefault(line.strip(), [])
        elif current is not None and line.strip():
            current.append(line.strip())
    return sections


def names_in(lines: list[str]) -> dict[str, str]:
    """The rows of one `rlgen list` section: name -> the rest of its line."""
    return {line.split()[0]: line.partition(" ")[2].strip() for line in lines if line[:1] != " "}
