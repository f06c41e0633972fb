"""Evaluating a loaded GAN (or autoencoder, or classifier) run writes nothing into it: a shared,
downloaded or read-only run stays as it is."""

import os

import pytest

from rlgen import api
from rlgen.cli import main

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def stat_snapshot(root):
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


@pytest.mark.parametrize("config, overrides, picture, metric", [
    ("gan_ring8", ["eval.samples=200", "perf.steps_per_unit=2"], "samples_step_*.png", "eval/modes_covered"),
    ("autoencoder_digits", ["fit.steps_per_unit=2"], "*.png", "eval/recon_mse"),
    ("supervised_digits", ["fit.steps_per_unit=2"], "confusion_step_*.png", "eval/test_accuracy"),
])
def test_evaluating_a_loaded_run_draws_no_picture_into_it(tmp_path, capsys, config, overrides, picture, metric):
    run = api.train(config, [*overrides, "eval.pictures=true", "train.total_steps=2", "train.eval_every=2",
                             *QUIET, f"logging.dir={tmp_path}"]).run_dir
    assert list((run / "media").glob(picture))  # training draws them
    for picture in (run / "media").iterdir():
        os.utime(picture, ns=(0, 0))  # a rewrite of the same bytes shows as a new mtime
    before = stat_snapshot(run)
    with api.load_run(run) as loaded:
        metrics = loaded.evaluate()
    assert "eval/samples" not in metrics and metric in metrics
    assert main(["eval", str(run)]) == 0
    assert "samples_step" not in capsys.readouterr().out
    assert stat_snapshot(run) == before
