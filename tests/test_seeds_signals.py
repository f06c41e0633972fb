"""`--seeds 0,1 --parallel 2` and a signal to the parent alone: every child checkpoints, and the
parent prints each run directory with its resume command."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rlgen import checkpoint

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_parent_reaches_every_child_and_each_can_resume(tmp_path, sig, code):
    args = [sys.executable, "-m", "rlgen", "train", "ppo_cartpole", "--seeds", "0,1", "--parallel", "2",
            f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.total_steps=100000000",
            "train.early_stop.target=null", "train.eval_every=2048"]
    parent = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                              env={**os.environ, "COLUMNS": "1000"})
    deadline = time.time() + 300  # a bound on waiting for the children to start, not a measurement
    while time.time() < deadline and len([p for p in tmp_path.glob("*/*/metrics.jsonl") if p.stat().st_size]) < 2:
        time.sleep(0.2)
    assert len(list(tmp_path.glob("*/*/metrics.jsonl"))) == 2, "the children never logged"
    parent.send_signal(sig)  # the parent alone: the children run in sessions of their own
    out, _ = parent.communicate(timeout=300)
    assert parent.returncode == code, out
    resumes = re.findall(r"resume with: rlgen train --resume (\S+)", out)
    run_dirs = {Path(p) for p in resumes}
    assert len(run_dirs) == 2 and {d.parent.parent for d in run_dirs} == {tmp_path}, out
    for run_dir in run_dirs:
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["status"] == "interrupted"
        assert checkpoint.load(run_dir)["global_step"] == summary["global_step"] > 0
    assert sorted(d.name.split("-")[2] for d in run_dirs) == ["s0", "s1"]
