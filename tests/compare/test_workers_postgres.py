"""Many workers, one study, a real PostgreSQL server: `rlgen sweep` and `rlgen train --seeds
--storage` started as separate processes, as on separate machines (tests/postgres.py starts the
server; .ci/run installs it). The trials are the toy of queue_toy.py: they sleep instead of
training, so the workers overlap without loading the CPU."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from rlgen.study_queue import is_surplus, latest_attempts

from .queue_toy import write_config

ROOT = Path(__file__).resolve().parents[2]


def start_workers(args: list[str], n: int, tmp_path: Path) -> list[subprocess.Popen]:
    env = {**os.environ, "COLUMNS": "200", "OMP_NUM_THREADS": "1"}
    logs = [open(tmp_path / f"worker{i}.log", "w") for i in range(n)]  # noqa: SIM115 - closed by the OS at exit
    return [subprocess.Popen([sys.executable, "-m", "rlgen", *args], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT) for log in logs]


def wait_all(workers: list[subprocess.Popen], tmp_path: Path) -> tuple[list[int], list[str]]:
    codes = [w.wait() for w in workers]
    return codes, [(tmp_path / f"worker{i}.log").read_text() for i in range(len(workers))]


def sweep_file(tmp_path: Path, n_trials: int, pruner: dict, heartbeat: dict | None = None, **toy) -> Path:
    base = write_config(tmp_path, **toy)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "config": str(base), "study": "pg", "n_trials": n_trials, "sampler": {"type": "random", "seed": 0},
        "pruner": pruner, "heartbeat": heartbeat or {"interval": 1, "grace_period": 5},
        "space": {"x": {"type": "float", "low": 1.0, "high": 10.0}},
    }))
    return path


@pytest.mark.slow
def test_three_workers_share_one_study_on_postgres(tmp_path, postgres_url):
    """9 trials over 3 workers: 9 distinct trials finish, none twice, the pruned ones marked, every
    worker's runs in the one study folder, the best config written."""
    path = sweep_file(tmp_path, 9, {"type": "threshold", "lower": 5.0}, unit_sleep=0.3)
    codes, logs = wait_all(start_workers(["sweep", str(path), "--storage", postgres_url], 3, tmp_path), tmp_path)
    assert codes == [0, 0, 0], "\n\n".join(logs)

    trials = optuna.load_study(study_name="pg", storage=postgres_url).trials
    ran = [t for t in trials if not is_surplus(t)]
    assert all("run_dir" not in t.user_attrs for t in trials if is_surplus(t))  # a surplus trial never ran
    assert len(ran) == 9 and len(latest_attempts(trials)) == 9
    run_dirs = [t.user_attrs["run_dir"] for t in ran]
    assert len(set(run_dirs)) == 9  # nine runs, none run twice ...
    assert len({t.params["x"] for t in ran}) == 9  # ... and nine different parameter draws
    assert sorted(p.parent.name for p in (tmp_path / "runs" / "pg").glob("*/summary.json")) == \
        sorted(Path(d).name for d in run_dirs)
    for t in ran:  # first eval x * 1 < 5: pruned there, in the study and in the run's own summary
        summary = json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())
        pruned = t.params["x"] < 5
        assert t.state == (TrialState.PRUNED if pruned else TrialState.COMPLETE)
        assert (summary["status"], summary["global_step"]) == (("pruned", 10) if pruned else ("completed", 50))
    assert len({t.user_attrs["worker"] for t in ran}) >= 2  # the study was shared, not run by one worker
    best = max((t for t in ran if t.state == TrialState.COMPLETE), key=lambda t: t.value)
    assert f"# Best trial of sweep 'pg': trial {best.number}," in (tmp_path / "runs" / "pg" / "best.yaml").read_text()
    assert all(f"best: trial {best.number}" in log for log in logs)  # every worker ends with the study's best

    status = subprocess.run([sys.executable, "-m", "rlgen", "sweep", str(path), "--storage", postgres_url,
                             "--status"], cwd=ROOT, capture_output=True, text=True)
    n_pruned = sum(t.state == TrialState.PRUNED for t in ran)
    assert f"9 finished: {9 - n_pruned} complete, {n_pruned} pruned, 0 failed; 0 running" in status.stdout


@pytest.mark.slow
def test_a_sigkilled_worker_s_trial_finishes_from_its_checkpoint_on_postgres(tmp_path, postgres_url):
    """The first trial to reach step 30 SIGKILLs its worker (checkpoints at 10 and 20). Its
    heartbeat stops; a surviving worker retries it in the same run directory from step 20."""
    marker = tmp_path / "died"
    path = sweep_file(tmp_path, 4, {"type": "none"}, {"interval": 1, "grace_period": 4},
                      unit_sleep=0.2, die_at=30, die_once=str(marker))
    codes, logs = wait_all(start_workers(["sweep", str(path), "--storage", postgres_url], 3, tmp_path), tmp_path)
    assert sorted(codes) == [-9, 0, 0], "\n\n".join(logs)  # one worker was killed, the others finished

    trials = optuna.load_study(study_name="pg", storage=postgres_url).trials
    (dead,) = [t for t in trials if t.state == TrialState.FAIL and not is_surplus(t)]
    (retry,) = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert retry.state == TrialState.COMPLETE and retry.params == dead.params
    assert retry.user_attrs["run_dir"] == dead.user_attrs["run_dir"]
    assert retry.user_attrs["worker"] != dead.user_attrs["worker"]
    assert [t.state for t in latest_attempts(trials)] == [TrialState.COMPLETE] * 4
    run_dir = Path(dead.user_attrs["run_dir"])
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    # trained to 20, killed inside the unit to 30, resumed at 20: the steps never restart at 0
    assert [r["global_step"] for r in rows if "loss/toy" in r] == [10, 20, 30, 40, 50]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "completed"
    assert any(f"resuming {run_dir}" in log for log in logs)


@pytest.mark.slow
def test_two_workers_run_each_seed_exactly_once_on_postgres(tmp_path, postgres_url):
    config = write_config(tmp_path, unit_sleep=0.3)
    args = ["train", str(config), "--seeds", "0-5", "--storage", postgres_url]
    codes, logs = wait_all(start_workers(args, 2, tmp_path), tmp_path)
    assert codes == [0, 0], "\n\n".join(logs)
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "qtoy").glob("*/summary.json")]
    assert sorted(s["seed"] for s in summaries) == [0, 1, 2, 3, 4, 5]  # each seed once, over both workers
    assert all(s["status"] == "completed" for s in summaries)
    (name,) = [s.study_name for s in optuna.get_all_study_summaries(postgres_url)]
    trials = [t for t in optuna.load_study(study_name=name, storage=postgres_url).trials if not is_surplus(t)]
    assert sorted(t.user_attrs["seed"] for t in trials) == [0, 1, 2, 3, 4, 5]
    assert len({t.user_attrs["worker"] for t in trials}) == 2
