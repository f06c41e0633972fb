"""W&B: an offline run holds the logged history; a dead W&B never stops training."""

import json
import os
import subprocess
import sys

import pytest


import rlgen.logging as rlog
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _jsonl(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def _wandb_records(run_dir):
    (log,) = run_dir.glob("wandb/offline-run-*/*.wandb")
    leet = [sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(log)]
    out = subprocess.run(leet, capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_offline_run_holds_the_history(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = toy_config(tmp_path, toy={"scores": [1, 2, 3, 4, 5]})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "completed"
    records = _wandb_records(runner.run_dir)
    history = [r["history"]["item"] for r in records if r["type"] == "history"]
    evals = [(h["global_step"], h["eval/score"]) for h in history if "eval/score" in h]
    assert evals == [(20, 1), (40, 2), (60, 3), (80, 4), (100, 5)]
    assert sum("loss/total" in h for h in history) == 10
    (run,) = [r["run"] for r in records if r["type"] == "run"][:1]
    assert run["run_group"] == "toy" and run["job_type"] == "toy" and "toy" in run["tags"]


def test_wandb_that_cannot_start_does_not_stop_training(tmp_path, monkeypatch, capsys):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(wandb, "init", lambda **kw: (_ for _ in ()).throw(ConnectionError("no route to host")))
    cfg = toy_config(tmp_path)
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "completed"
    assert len([r for r in _jsonl(runner.run_dir) if "eval/score" in r]) == 5
    assert len([r for r in _jsonl(runner.run_dir) if "loss/total" in r]) == 10


def test_wandb_that_fails_mid_run_is_dropped_once(tmp_path, monkeypatch):
    calls = []

    class Dying:
        def write(self, row):
            calls.append(row)
            raise ConnectionError("socket closed")

        def close(self):
            pass

    warnings = []
    monkeypatch.setattr(rlog.console, "print", lambda msg, *a, **k: warnings.append(str(msg)))
    cfg = toy_config(tmp_path)
    runner = Runner(cfg, ToyExperiment(cfg))
    real = runner._open_sinks

    def with_dying_sink(resumed):
        real(resumed)
        runner.logger.add(Dying())

    monkeypatch.setattr(runner, "_open_sinks", with_dying_sink)
    assert runner.run()["status"] == "completed"
    assert len(calls) == 1  # dropped after its first failure
    assert sum("Dying failed (ConnectionError: socket closed)" in w for w in warnings) == 1
    assert len([r for r in _jsonl(runner.run_dir) if "loss/total" in r]) == 10


def test_init_timeout_reaches_wandb_and_its_default_is_well_below_90_s(tmp_path, monkeypatch):
    import wandb

    seen = {}

    def init(**kw):
        seen.update(kw)
        raise TimeoutError("no answer")

    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setattr(wandb, "init", init)
    cfg = toy_config(tmp_path)
    assert cfg.logging.wandb.init_timeout <= 30
    cfg.logging.wandb.init_timeout = 7.0
    assert Runner(cfg, ToyExperiment(cfg)).run()["status"] == "completed"  # training went on without W&B
    assert seen["settings"].init_timeout == 7.0 and seen["mode"] == "online"


@pytest.mark.slow
def test_a_wandb_server_that_cannot_be_reached_does_not_hold_training(tmp_path):
    env = {**os.environ, "WANDB_MODE": "online", "WANDB_BASE_URL": "http://127.0.0.1:9",
           "WANDB_API_KEY": "0" * 40}
    cmd = [sys.executable, "-m", "rlgen", "train", "ppo_cartpole", "train.total_steps=256", f"logging.dir={tmp_path}",
           "logging.wandb.mode=online", "logging.wandb.init_timeout=3", "train.progress=false"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
    assert "warning: W&B did not start" in out.stderr and "completed at step 512" in out.stderr  # one unit: 16 x 32
