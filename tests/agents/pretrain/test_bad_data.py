"""Data that the pretraining kinds cannot learn from, stopped in one line naming the source, exit 2
and no run directory: targets that are text or objects, targets past float32's range (not a
"divergence"), and a finite source with no samples."""

from __future__ import annotations

import numpy as np
import pytest

from rlgen.cli import main

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
SMALL = ["train.total_steps=20", "train.eval_every=10", "fit.steps_per_unit=10", "fit.batch_size=16"]
HERE = "tests.agents.pretrain.test_bad_data"


class Stored:
    """`n` points (4,) with regression targets of kind `targets`, kept as `x` / `y` and drawn from them."""

    modality, shape, n_classes = "points", (4,), 0

    def __init__(self, targets: str = "float", n: int = 200):
        rng = np.random.default_rng(0)
        self.x = rng.standard_normal((n, 4)).astype(np.float32)
        self.y = {"float": rng.standard_normal(n).astype(np.float32),
                  "text": rng.choice(["cat", "dog"], n),
                  "object": rng.standard_normal(n).astype(object),
                  "huge": rng.standard_normal(n) * 1e39}[targets]

    def sample(self, batch, rng):
        i = rng.integers(0, len(self.x), batch)
        return self.x[i], self.y[i]


def _train(tmp_path, config, kwargs, nets):
    return main(["train", config, f"data.source={HERE}:Stored", f"data.kwargs={kwargs}", *nets, *SMALL, *QUIET,
                 f"logging.dir={tmp_path}"])


REGRESSION = ["model.backbone={type: mlp, hidden: [16]}", "objective.task=regression", "objective.loss=mse",
              "data.test=0.0"]
MLP_AE = ["encoder.backbone={type: mlp, hidden: [16]}", "decoder.backbone={type: mlp, hidden: [16]}"]


@pytest.mark.parametrize("targets, says", [
    ("text", "targets are <U3, not numbers"),
    ("object", "targets are object, not numbers"),
    ("huge", "a target holds NaN or infinity, or a value beyond float32's range"),
])
def test_regression_targets_training_cannot_read_are_one_line_and_no_run(tmp_path, capsys, targets, says):
    assert _train(tmp_path, "supervised_digits", f"{{targets: {targets}}}", REGRESSION) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: data source '{HERE}:Stored': {says}" in err, err
    assert "Traceback" not in err and "diverged" not in err
    assert list(tmp_path.iterdir()) == []


def test_regression_on_float_targets_trains(tmp_path):
    assert _train(tmp_path, "supervised_digits", "{targets: float}", REGRESSION) == 0


def test_a_source_with_no_samples_says_so_not_the_split(tmp_path, capsys):
    assert _train(tmp_path, "autoencoder_digits", "{n: 0}", MLP_AE) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: data source '{HERE}:Stored' holds no samples (its `x` is empty); check data.kwargs" in err, err
    assert "leave no training samples" not in err and list(tmp_path.iterdir()) == []
