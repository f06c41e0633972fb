"""The digits classifier's cache folder: a bad `eval.classifier_cache` is one line naming it, and no run."""

import numpy as np
import pytest
import torch

from rlgen.agents.gan import classifier
from rlgen.cli import main
from rlgen.errors import RlgenError


def test_a_cache_folder_under_a_file_names_the_setting_and_leaves_no_run(tmp_path, capsys):
    (tmp_path / "a_file").write_text("")
    runs = tmp_path / "runs"
    assert main(["train", "gan_digits_dcgan", f"eval.classifier_cache={tmp_path / 'a_file' / 'cache'}",
                 "train.total_steps=5", "perf.steps_per_unit=5", "eval.samples=100", f"logging.dir={runs}",
                 "logging.wandb.mode=disabled", "train.progress=false"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"eval.classifier_cache: {tmp_path / 'a_file'} is a file, so the digits classifier's cache folder" in err
    assert "Traceback" not in err
    assert not runs.exists() or list(runs.iterdir()) == []  # refused when the config loads: no run directory


def test_a_cache_folder_that_cannot_be_written_names_the_setting(tmp_path, monkeypatch):
    monkeypatch.setattr(classifier, "train_classifier", lambda x, y: (classifier.DigitsClassifier([4, 4]), 1.0))

    def refused(obj, path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(torch, "save", refused)
    x, y = np.zeros((4, 1, 8, 8), np.float32), np.arange(4)
    with pytest.raises(RlgenError, match=r"^eval\.classifier_cache: the digits classifier cannot be cached in .*"
                                         r"Permission denied"):
        classifier.load_classifier(x, y, tmp_path / "cache")
