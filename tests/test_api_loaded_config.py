"""`Run.config` of a loaded run is the config as the run saved it, W&B settings included, so that
`rlgen.train(run.config, ...)` trains as that run did; opening and evaluating it still starts no W&B."""

from __future__ import annotations

import rlgen

GAN = ["train.total_steps=40", "train.eval_every=40", "eval.samples=100", "train.progress=false",
       "logging.console=false", "logging.wandb.mode=offline", "logging.wandb.project=theirs"]


def test_a_loaded_run_keeps_its_wandb_settings_and_starts_no_wandb(tmp_path, monkeypatch):
    import wandb

    # WANDB_MODE=disabled (tests/conftest.py) keeps training's W&B off; config.yaml says offline
    run = rlgen.train("gan_ring8", GAN, run_dir=tmp_path / "run")
    monkeypatch.setenv("WANDB_MODE", "offline")  # a sink made now would start
    monkeypatch.setattr(wandb, "init", lambda *a, **k: (_ for _ in ()).throw(AssertionError("W&B started")))
    with rlgen.load_run(run.run_dir) as loaded:
        assert loaded.config.logging.wandb.mode == "offline"  # was: disabled, whatever the run used
        assert loaded.config.logging.wandb.project == "theirs"
        loaded.evaluate()
    assert loaded.config.model_dump() == run.config.model_dump()
    assert not (run.run_dir / "wandb").exists()
