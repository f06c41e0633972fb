"""The GAN kind under torchrun: 2 CPU processes with gloo end with identical replicas."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("ddp_worker.py")


@pytest.mark.slow
def test_two_gloo_processes_keep_identical_weights(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(WORKER), str(tmp_path)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[3])
    assert done.returncode == 0, done.stderr[-3000:]
    (h0, world0, batch0), (h1, world1, batch1) = (
        (tmp_path / f"rank{r}.txt").read_text().split() for r in (0, 1))
    assert world0 == world1 == "2"
    assert batch0 != batch1  # each replica trained on its own data ...
    assert h0 == h1  # ... and still ends with the same weights, EMA and batch-norm statistics
    # only rank 0 wrote the run directory, metrics and checkpoints
    (run_dir,) = (tmp_path / "runs" / "gan_ddp").iterdir()
    assert (run_dir / "checkpoints" / "latest").is_file() and (run_dir / "metrics.jsonl").is_file()
