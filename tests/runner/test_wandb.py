"""W&B: an offline run holds the logged history; a dead W&B never stops training."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest


import rlgen.logging as rlog
from rlgen.logging_wandb import WandbSink
from rlgen.run_files import RunFiles
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config
from tests.wandb_log import merged, wandb_records


def _jsonl(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_offline_run_holds_the_history(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = toy_config(tmp_path, toy={"scores": [1, 2, 3, 4, 5]})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "completed"
    records = wandb_records(runner.run_dir)
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


def test_a_setting_wandb_refuses_is_named_in_the_warning(tmp_path, monkeypatch, capsys):
    """wandb.Settings refuses WANDB_MODE=Offline with a pydantic error whose first line, all the
    warning kept, was "1 validation error for Settings"."""
    monkeypatch.setenv("WANDB_MODE", "Offline")
    cfg = toy_config(tmp_path)
    assert Runner(cfg, ToyExperiment(cfg)).run()["status"] == "completed"
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: W&B did not start (ValidationError: W&B setting mode: Input should be 'online', 'offline'" in err
    assert "(got 'Offline')); training continues" in err


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
    real = RunFiles.open

    def with_dying_sink(self, logger, *args, **kwargs):
        real(self, logger, *args, **kwargs)
        logger.add(Dying())

    monkeypatch.setattr(RunFiles, "open", with_dying_sink)
    assert runner.run()["status"] == "completed"
    assert len(calls) == 1  # dropped after its first failure
    assert sum("Dying failed (ConnectionError: socket closed)" in w for w in warnings) == 1
    assert len([r for r in _jsonl(runner.run_dir) if "loss/total" in r]) == 10


# --- what users of SB3's WandbCallback and CleanRL's --track expect to find in the run -------------


def _offline(monkeypatch, tmp_path):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))  # artifact staging, not ~/.local


def test_best_and_final_checkpoints_are_model_artifacts(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    cfg = toy_config(tmp_path, keep_checkpoints=1, toy={"scores": [1, 5, 2, 3, 4]})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "completed"
    # the best evaluation (5, at step 40) is kept beside the last checkpoint, whatever the pruning
    ckpts = runner.run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.iterdir()) == ["best", "latest", "step_100"]
    assert (ckpts / "best" / "step").read_text().strip() == "40"
    from rlgen import checkpoint

    assert checkpoint.load(ckpts / "best")["global_step"] == 40
    records = wandb_records(runner.run_dir)
    artifacts = [r["artifact"] for r in records if r["type"] == "artifact"]
    assert [a["type"] for a in artifacts] == ["model", "model"]
    assert {a["name"] for a in artifacts} == {f"model-{runner.run_dir.name}"}
    best, final = artifacts  # the best first: W&B gives `latest` to the version logged last
    assert {"best", "step_40"} <= set(best["aliases"])
    assert {"latest", "step_100"} <= set(final["aliases"]) and "best" not in final["aliases"]
    for a in artifacts:
        assert sorted(c["path"] for c in a["manifest"]["contents"]) == ["config.yaml", "state.pt", "state.pt.sha256"]
    summary = merged(records, "summary")
    assert summary["eval/score"] == {"max": 5, "last": 4}  # the early-stop metric: its best and last
    assert (summary["best/value"], summary["best/global_step"], summary["best/metric"]) == (5, 40, "eval/score")


def test_target_step_and_min_mode_in_the_summary(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    cfg = toy_config(tmp_path, toy={"scores": [9, 4, 1, 3]},
                     early_stop={"metric": "eval/score", "mode": "min", "target": 2})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "stopped_early"
    records = wandb_records(runner.run_dir)
    summary = merged(records, "summary")
    assert summary["eval/score"] == {"min": 1, "last": 1}
    assert (summary["target/value"], summary["target/global_step"]) == (2, 60)
    assert summary["best/global_step"] == 60
    (artifact,) = [r["artifact"] for r in records if r["type"] == "artifact"]  # final == best: one version
    assert {"latest", "best", "step_60"} <= set(artifact["aliases"])


def test_switches_system_metrics_watch_and_no_artifacts(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    runs = {}
    for name, wandb_cfg in {"on": {"watch": "gradients", "watch_every": 1},
                            "off": {"system_metrics": False, "log_model": False, "capture_console": False}}.items():
        cfg = toy_config(tmp_path / name)
        cfg.logging.wandb = cfg.logging.wandb.model_copy(update=wandb_cfg)
        runner = Runner(cfg, ToyExperiment(cfg))
        assert runner.run()["status"] == "completed"
        runs[name] = wandb_records(runner.run_dir)
    kinds = {name: {r["type"] for r in records} for name, records in runs.items()}
    assert "stats" in kinds["on"] and "stats" not in kinds["off"]  # W&B's system metrics sampler
    assert "artifact" in kinds["on"] and "artifact" not in kinds["off"]
    console = [r["output_raw"]["line"] for r in runs["on"] if r["type"] == "output_raw"]
    assert "toy (toy) on cpu" in "".join(console)  # the runner's own console line, captured
    assert "output_raw" not in kinds["off"] and "output" not in kinds["off"]
    grads = [h for r in runs["on"] if r["type"] == "history" for h in [r["history"]["item"]]
             if "gradients/weight._type" in h]
    assert len(grads) == 10  # wandb.watch: one histogram per backward pass, on the training rows
    assert not any(k.startswith("gradients/") for r in runs["off"] if r["type"] == "history" for k in r["history"]["item"])


def test_artifact_failure_does_not_stop_training(tmp_path, monkeypatch):
    _offline(monkeypatch, tmp_path)
    def no_room(self, *a, **k):
        raise OSError("disk quota")

    monkeypatch.setattr(WandbSink, "log_model", no_room)
    warnings = []
    monkeypatch.setattr(rlog.console, "print", lambda msg, *a, **k: warnings.append(str(msg)))
    monkeypatch.setattr("rlgen.runner.console.print", lambda msg, *a, **k: warnings.append(str(msg)))
    cfg = toy_config(tmp_path)
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "completed"
    assert any("W&B summary/artifacts failed (OSError: disk quota)" in w for w in warnings)
    assert (runner.run_dir / "checkpoints" / "best" / "state.pt").is_file()


def _wandb_init_seen(monkeypatch, mode: str) -> dict:
    """wandb.init's arguments, captured by an init that then fails as an unreachable server does."""
    import wandb

    seen = {}

    def init(**kw):
        seen.update(kw)
        raise TimeoutError("no answer")

    monkeypatch.setenv("WANDB_MODE", mode)
    monkeypatch.setattr(wandb, "init", init)
    return seen


def test_init_timeout_reaches_wandb_and_its_default_is_well_below_90_s(tmp_path, monkeypatch):
    seen = _wandb_init_seen(monkeypatch, "online")
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


def test_the_wandb_run_ends_with_the_process_exit_code(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = toy_config(tmp_path, checkpoint_every=1000, toy={"on_unit": "sigint", "signal_at": 30})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "interrupted" and runner.exit_code == 130
    exits = [r["exit"] for r in wandb_records(runner.run_dir) if r["type"] == "exit"]
    assert [e.get("exitCode", e.get("exit_code")) for e in exits] == [130]


def test_runs_in_chosen_directories_of_one_name_are_two_wandb_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    ids = []
    for parent in ("x", "y"):
        cfg = toy_config(tmp_path / "runs")
        runner = Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / parent / "a#1")  # '#' is no W&B id character
        runner.run()
        (run,) = [r["run"] for r in wandb_records(runner.run_dir) if r["type"] == "run"][:1]
        ids.append(run["run_id"])
    assert ids[0] != ids[1] and all(i.startswith("a-1-") for i in ids)
    # a resume continues its own W&B run
    resumed_cfg = toy_config(tmp_path / "runs", total_steps=120)
    Runner(resumed_cfg, ToyExperiment(resumed_cfg), resume_dir=tmp_path / "y" / "a#1").run()
    folders = sorted(p.name for p in (tmp_path / "y" / "a#1" / "wandb").glob("offline-run-*"))
    # W&B's offline-run-<time>-<id> (and -1 after it when both starts fall in one second)
    assert len(folders) == 2 and all(f.split("-", 3)[3].startswith(ids[1]) for f in folders), folders


def test_a_kinds_tag_past_wandbs_limit_reaches_wandb_cut_and_apart(tmp_path, monkeypatch):
    """A kind's own tags (an env id, a data source given by import path) can run past W&B's 64
    characters, which would stop W&B from starting: they arrive cut, two long ones still two."""
    seen = _wandb_init_seen(monkeypatch, "offline")
    cfg = toy_config(tmp_path)
    long = ["mypkg.envs.a_very_long_module_name:AnEnvironmentWithAVeryLongName" + s for s in "AB"]
    monkeypatch.setattr(type(cfg), "tags", lambda self: ["toy", *long])
    assert Runner(cfg, ToyExperiment(cfg)).run()["status"] == "completed"
    cut = [t for t in seen["tags"] if t != "toy"]
    assert len(cut) == 2 and all(len(t) <= 64 for t in cut) and cut[0] != cut[1]


def test_an_off_policy_model_artifact_leaves_the_replay_buffer_in_the_run(tmp_path, monkeypatch, capsys):
    """SB3's model.zip leaves the buffer out; so does rlgen's model artifact (an Atari DQN's buffer
    is gigabytes, staged once per version), while the run directory keeps it for an exact resume."""
    import shutil

    import rlgen
    from rlgen import checkpoint

    _offline(monkeypatch, tmp_path)
    run = rlgen.train("dqn_cartpole", overrides=[
        f"logging.dir={tmp_path}", "logging.wandb.mode=offline", "train.total_steps=256", "train.eval_every=256",
        "train.eval_episodes=1", "agent.hyperparams.learning_starts=64"])
    kept = checkpoint.load(run.run_dir)["experiment"]["replay_buffer"]
    assert kept is not None and kept["pos"] == 256  # the run directory resumes exactly
    (artifact,) = [r["artifact"] for r in wandb_records(run.run_dir) if r["type"] == "artifact"]
    folder = tmp_path / "download"  # as artifact.download() lays the version out
    folder.mkdir()
    for c in artifact["manifest"]["contents"]:
        shutil.copyfile(c["local_path"], folder / c["path"])
    assert checkpoint.read(folder)["experiment"]["replay_buffer"] is None  # verified against the artifact's own checksum
    assert (folder / "state.pt").stat().st_size < checkpoint.latest(run.run_dir / "checkpoints").joinpath(
        "state.pt").stat().st_size
    with rlgen.load_run(folder) as trained:
        assert trained.agent().predict(np.zeros(4, np.float32)) in (0, 1)
        assert trained.evaluate(episodes=1)["eval/return_mean"] > 0
    capsys.readouterr()
    resumed = rlgen.train(resume=folder, overrides=["train.total_steps=320", "logging.wandb.mode=disabled"])
    assert resumed.summary["status"] == "completed"
    assert "the checkpoint holds no replay buffer" in capsys.readouterr().err


def test_a_run_that_keeps_no_replay_buffer_resumes_saying_so_without_the_artifact_warning(tmp_path, capsys):
    """`agent.save_replay_buffer: false` is the user's choice: its resumes start an empty buffer as
    asked, and say that this makes them inexact (before, they said nothing), naming the key, not the
    W&B artifact."""
    import rlgen

    quiet = [f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.eval_every=256", "train.eval_episodes=1",
             "agent.hyperparams.learning_starts=64", "agent.save_replay_buffer=false"]
    run = rlgen.train("dqn_cartpole", [*quiet, "train.total_steps=256"])
    capsys.readouterr()
    rlgen.train(resume=run.run_dir, overrides=["train.total_steps=512"])
    err = " ".join(capsys.readouterr().err.split())
    assert "this resume is not exact: the checkpoint holds no replay buffer (agent.save_replay_buffer: false)" in err
    assert "artifact" not in err


def test_an_interrupt_just_after_wandb_starts_leaves_no_run_open_and_no_directory(tmp_path, monkeypatch):
    """Ctrl-C / SIGTERM after `wandb.init` returned, before its sink held the run: the new run's
    directory was removed, but the W&B run stayed open, and its console capture made the directory
    again at exit (a folder neither resumable nor reusable as --run-dir)."""
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setattr(wandb.sdk.wandb_run.Run, "define_metric",
                        lambda self, *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    cfg = toy_config(tmp_path)
    runner = Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "run")
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert wandb.run is None
    assert not (tmp_path / "run").exists()
