"""A run resumed after a kill re-logs the steps between its checkpoint and the kill: its curve
counts each step once, the resumed row."""

from pathlib import Path

import numpy as np

from rlgen.compare import RunData, curve


def test_a_step_logged_twice_counts_once_with_its_last_row():
    rows = [{"global_step": s, "eval/return_mean": v} for s, v in [(100, 1.0), (200, 2.0), (300, 9.0)]]
    rows += [{"global_step": 200, "loss/total": 0.5}]  # another metric at a step: not a duplicate of it
    rows += [{"global_step": s, "eval/return_mean": v} for s, v in [(200, 2.0), (300, 3.0), (400, 4.0)]]  # resumed at 100
    steps, values, _ = curve(RunData(Path("run"), {}, rows, None), "eval/return_mean")
    assert steps.tolist() == [100, 200, 300, 400] and values.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert np.all(np.diff(steps) > 0)
