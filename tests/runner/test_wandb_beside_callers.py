"""W&B in a process that has W&B runs of its own (a notebook, an outer run's on_eval hook): each rlgen
run logs into a W&B run of its own, in its own run directory, and leaves every other run open."""

import pytest

from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config
from tests.wandb_log import wandb_records


def _evals(where):
    history = [r["history"]["item"] for r in wandb_records(where) if r["type"] == "history"]
    return [(h["global_step"], h["eval/score"]) for h in history if "eval/score" in h]


def _open_runs():
    import wandb

    return wandb.sdk.wandb_setup.singleton().most_recent_active_run


def test_a_run_leaves_the_callers_wandb_run_open_and_logs_into_its_own(tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "mine").mkdir()
    mine = wandb.init(project="mine", mode="offline", dir=str(tmp_path / "mine"))
    try:
        cfg = toy_config(tmp_path, total_steps=40, toy={"scores": [1, 2]})
        runner = Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "run")
        assert runner.run()["status"] == "completed"
        assert wandb.run is mine
        mine.log({"eval/score": 9, "global_step": 0})  # W&B's UsageError once the rlgen run had finished it
    finally:
        mine.finish()
    assert _evals(tmp_path / "run") == [(20, 1), (40, 2)]
    assert _evals(tmp_path / "mine") == [(0, 9)]


def test_a_run_trained_by_an_on_eval_hook_logs_apart_from_the_outer_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    inner_cfg = toy_config(tmp_path, total_steps=40, toy={"scores": [7, 8]})

    def on_eval(step, metrics):
        if step == 20:
            Runner(inner_cfg, ToyExperiment(inner_cfg), run_dir=tmp_path / "inner").run()
        return False

    cfg = toy_config(tmp_path, total_steps=60, toy={"scores": [1, 2, 3]})
    assert Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "outer", on_eval=on_eval).run()["status"] == "completed"
    assert _evals(tmp_path / "outer") == [(20, 1), (40, 2), (60, 3)]  # before: inner rows, then the last lost
    assert _evals(tmp_path / "inner") == [(20, 7), (40, 8)]


def test_an_interrupt_just_after_wandb_starts_finishes_its_run_and_not_the_callers(tmp_path, monkeypatch):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "mine").mkdir()
    mine = wandb.init(project="mine", mode="offline", dir=str(tmp_path / "mine"))
    try:
        monkeypatch.setattr(wandb.sdk.wandb_run.Run, "define_metric",
                            lambda self, *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
        cfg = toy_config(tmp_path)
        with pytest.raises(KeyboardInterrupt):
            Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "run").run()
        assert _open_runs() is mine  # the run's own W&B run was finished, not left open
        assert not (tmp_path / "run").exists()
        mine.log({"x": 1})
    finally:
        mine.finish()
    assert _open_runs() is None


def test_watch_beside_the_callers_run_is_skipped_with_a_warning_not_logged_into_theirs(tmp_path, monkeypatch,
                                                                                      capsys):
    import wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    (tmp_path / "mine").mkdir()
    mine = wandb.init(project="mine", mode="offline", dir=str(tmp_path / "mine"))
    try:
        cfg = toy_config(tmp_path, total_steps=40)
        cfg.logging.wandb = cfg.logging.wandb.model_copy(update={"watch": "gradients", "watch_every": 1})
        assert Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "run").run()["status"] == "completed"
    finally:
        mine.finish()
    assert "wandb.watch failed" in " ".join(capsys.readouterr().err.split())  # wandb.watch logs to wandb.run
    history = [r["history"]["item"] for r in wandb_records(tmp_path / "mine") if r["type"] == "history"]
    assert not any(k.startswith("gradients/") for h in history for k in h)
