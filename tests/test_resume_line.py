"""Every "resume with" line rlgen prints (a run interrupted, seeds interrupted, a full disk) is a
command that works: with --trust where the run's config.yaml names code by import path, which a
resume reads only with it."""

import errno
import shlex
from pathlib import Path

import pytest

from rlgen import seeds
from rlgen.api_configs import load_config
from rlgen.cli import _report
from rlgen.config_load import save_config
from rlgen.logging import disk_error


def _interrupted(run_dir: Path, capsys) -> str:
    _report({"status": "interrupted", "global_step": 8, "wall_time_s": 1.0, "final": {}}, run_dir)
    return capsys.readouterr().err


def _seed_interrupted(run_dir: Path, capsys) -> str:
    seeds._report_interrupted([seeds.SeedResult(0, seeds.STOPPED[1], run_dir, "")], [])
    return capsys.readouterr().err


def _disk_full(run_dir: Path, capsys) -> str:
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "latest").write_text("step_8\n")
    return str(disk_error(OSError(errno.ENOSPC, "No space left on device"), run_dir / "metrics.jsonl", "logging"))


@pytest.mark.parametrize("printed", [_interrupted, _seed_interrupted, _disk_full])
@pytest.mark.parametrize("env_id, trust", [("gymnasium.envs.classic_control:CartPole-v1", ["--trust"]),
                                           ("CartPole-v1", [])], ids=["import_path", "registered"])
def test_the_resume_line_has_trust_where_the_runs_config_needs_it(tmp_path, capsys, printed, env_id, trust):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    save_config(load_config("ppo_cartpole", [f"env.id={env_id}"]), run_dir / "config.yaml")
    said = printed(run_dir, capsys).replace("\n", "")
    line = said.split("resume with", 1)[1].lstrip(": `").split("`")[0]
    assert shlex.split(line) == ["rlgen", "train", "--resume", str(run_dir), *trust]
