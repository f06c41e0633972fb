"""Every file in configs/ validates and trains for one unit (the smallest run the runner can do).

A config may add overrides for its smoke run in a comment line `# smoke: key=value key=value`
(e.g. a smaller replay buffer); the run itself is never skipped. A config that starts from another
run's backbone says which with `# smoke-first: OTHER_CONFIG -> dotted.key.of.init.run`: OTHER_CONFIG
is smoke-run first and the key points at its runs.
A config that learns from demonstrations names the bundled expert config that makes them,
`# demos: ppo_cartpole`: the smoke run gets demos recorded from a briefly trained run of it
(tests/conftest.py, `expert_demos`).
"""

import json
from pathlib import Path

import pytest

from rlgen.api import load_config
from rlgen.cli import main

CONFIGS = sorted((Path(__file__).resolve().parent.parent / "configs").glob("*.yaml"))


def smoke_overrides(path: Path) -> list[str]:
    return comment_values(path, "smoke")


def comment_values(path: Path, key: str) -> list[str]:
    """The words of the config's `# key: ...` comment line (none without one)."""
    for line in path.read_text().splitlines():
        if line.startswith(f"# {key}:"):
            return line.split(":", 1)[1].split()
    return []


def smoke_first(path: Path) -> tuple[str, str] | None:
    """(the config to smoke-run first, the key that takes its runs folder), from `# smoke-first:`."""
    for line in path.read_text().splitlines():
        if line.startswith("# smoke-first:"):
            name, _, key = line.split(":", 1)[1].partition("->")
            return name.strip(), key.strip()
    return None


def smoke_run(path: Path, logdir: Path, quiet: list[str]) -> list[str]:
    """Smoke-run `path` into `logdir` (its prerequisite first); returns the overrides it ran with."""
    overrides = [*quiet, f"logging.dir={logdir}", "train.total_steps=1", "train.eval_every=1",
                 "train.eval_episodes=2", *smoke_overrides(path)]
    if (first := smoke_first(path)) is not None:
        name, key = first
        smoke_run(path.parent / f"{name}.yaml", logdir.parent / f"{logdir.name}-first", quiet)
        overrides.append(f"{key}={logdir.parent / f'{logdir.name}-first' / name}")
    assert main(["train", str(path), *overrides]) == 0
    return overrides


def test_there_are_configs():
    assert any(p.stem == "ppo_cartpole" for p in CONFIGS)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_validates(path):
    cfg = load_config(path, [])
    assert cfg.name and cfg.kind


@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_smoke_run(path, tmp_path, quiet, request):
    demos = [f"demos.path={request.getfixturevalue('expert_demos')(expert)}" for expert in comment_values(path, "demos")]
    smoke_run(path, tmp_path / "runs", [*quiet, *demos, *(["demos.episodes=null"] if demos else [])])
    (summary_path,) = (tmp_path / "runs").glob("*/*/summary.json")
    summary = json.loads(summary_path.read_text())
    assert summary["status"] in ("completed", "stopped_early")
    assert summary["global_step"] >= 1
    assert any(k.startswith("eval/") for k in summary["final"])
