"""`kind: autoencoder` and `kind: supervised`: they learn on digits, draw their pictures, and
resume exactly (the shipped checker)."""

import numpy as np
import pytest

import rlgen
from rlgen.testing import check_experiment

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
SMALL = ["train.total_steps=40", "train.eval_every=20", "fit.steps_per_unit=10", "fit.batch_size=16"]
SINE_AE = ["data={source: sine, kwargs: {length: 16}, n_held_out: 64}", "encoder.backbone={type: gru, hidden_size: 16}",
           "decoder.out_activation=null"]


def _train(config, tmp_path, *overrides):
    run = rlgen.train(config, [*QUIET, f"logging.dir={tmp_path}", *overrides])
    assert run.summary["status"] in ("completed", "stopped_early")
    return run


# --- the shipped checker: exact resume --------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    [],
    ["objective.type=denoising"],
    ["objective.type=variational", "encoder.backbone={type: mlp, hidden: [32], dropout: 0.1}"],
    [*SINE_AE, "decoder.backbone={type: lstm, hidden_size: 16}"],
    [*SINE_AE, "encoder.backbone={type: transformer, d_model: 16, n_heads: 2, n_layers: 1, ff_dim: 32}",
     "decoder.backbone={type: transformer, d_model: 16, n_heads: 2, n_layers: 1, ff_dim: 32}", "objective.type=variational"],
], ids=["plain-cnn", "denoising", "vae-dropout", "gru-lstm-sines", "transformer-vae-sines"])
def test_autoencoder_resumes_exactly(overrides):
    report = check_experiment("autoencoder", "autoencoder_digits", [*SMALL, *overrides], exact=True)
    assert "loss/reconstruction" in report.metric_names and "eval/recon_mse" in report.eval_names


@pytest.mark.parametrize("overrides", [
    [],
    ["model.backbone={type: cnn, channels: [8], kernels: [3], strides: [1], padding: [1], hidden: 32, norm: batch, dropout: 0.2}",
     "objective.loss=hinge", "optim.l1=1e-4"],
    ["data={source: friedman1, validation: 0.2, test: 0.2}", "objective={task: regression, loss: mse}"],
], ids=["mlp-batchnorm-dropout", "cnn-hinge-l1", "regression"])
def test_supervised_resumes_exactly(overrides):
    report = check_experiment("supervised", "supervised_digits", [*SMALL, *overrides], exact=True)
    assert "loss/total" in report.metric_names and "eval/val_loss" in report.eval_names


# --- learning ---------------------------------------------------------------------------------


def _pixel_variance() -> float:
    from rlgen.envs.datasets import digits

    return float(digits().x.var(0).mean())  # the error of always drawing the mean digit


@pytest.mark.slow
def test_autoencoder_reconstruction_error_falls_below_a_bar_on_digits(tmp_path):
    run = _train("autoencoder_digits", tmp_path, "train.total_steps=600", "train.eval_every=300")
    rows = [r for r in _rows(run) if "eval/recon_mse" in r]
    assert rows[0]["eval/recon_mse"] > rows[-1]["eval/recon_mse"]
    # always drawing the mean digit scores ~0.29; after 600 steps the 16-number code gets ~0.03
    assert rows[-1]["eval/recon_mse"] < 0.25 * _pixel_variance()
    media = sorted(p.name for p in (run.run_dir / "media").iterdir())
    assert "reconstructions_step_00000600.png" in media


def test_vae_reports_its_kl_and_draws_samples_from_the_prior(tmp_path):
    run = _train("vae_digits", tmp_path, "train.total_steps=300", "train.eval_every=300")
    final = run.summary["final"]
    assert final["eval/kl"] > 0 and final["eval/recon_mse"] < _pixel_variance()
    assert (run.run_dir / "media" / "samples_step_00000300.png").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("loss", ["cross_entropy", "hinge", "mse"])
def test_classifier_beats_95_percent_held_out_accuracy_on_digits(loss, tmp_path):
    run = _train("supervised_digits", tmp_path, f"objective.loss={loss}", "train.total_steps=1500",
                 "train.eval_every=500")
    assert run.summary["final"]["eval/test_accuracy"] > 0.95, run.summary["final"]
    assert (run.run_dir / "media" / "confusion_step_00001500.png").is_file()


@pytest.mark.slow
def test_early_stopping_on_the_validation_split(tmp_path):
    run = _train("supervised_digits", tmp_path, "train.total_steps=20000", "train.eval_every=100",
                 "train.early_stop.patience=2", "optim.lr=3e-3")
    assert run.summary["status"] == "stopped_early" and run.summary["global_step"] < 20000
    assert run.summary["best"]["metric"] == "eval/val_loss"


@pytest.mark.slow
def test_regression_on_friedman1_beats_the_mean(tmp_path):
    run = _train("supervised_digits", tmp_path, "data={source: friedman1, validation: 0.2, test: 0.2}",
                 "objective={task: regression, loss: mse}", "model.backbone.dropout=0.0", "train.total_steps=1500",
                 "train.eval_every=1500", "train.early_stop.patience=null")
    from rlgen.envs.datasets import friedman1

    variance = float(np.var(friedman1().y))  # the error of always predicting the mean
    assert run.summary["final"]["eval/test_mse"] < 0.3 * variance


def test_a_source_without_labels_is_refused_before_training(tmp_path):
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError, match="objective.task: 'ring8' has no classes"):
        rlgen.load_config("supervised_digits", ["data.source=ring8"])


def test_regression_on_a_source_without_targets_names_the_key_and_the_fixes(tmp_path, capsys):
    from rlgen.cli import main

    assert main(["train", "supervised_digits", "data={source: ring8}", "objective.task=regression",
                 "objective.loss=mse", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert "data.source: 'ring8' has no targets (its samples come with y = None), and kind supervised learns " \
           "targets; give a labeled source (digits for classes, friedman1 for regression), or kind: autoencoder" in err
    assert not list(tmp_path.iterdir())


def test_bce_on_data_outside_0_1_is_refused(tmp_path):
    from rlgen.errors import RlgenError

    with pytest.raises(RlgenError, match=r"bce needs data in \[0, 1\], but 'digits' spans \[-1, 1\]"):
        _train("autoencoder_digits", tmp_path, "objective.reconstruction=bce", "decoder.out_activation=null")


def test_a_finite_source_too_small_to_hold_out_any_says_so(tmp_path, capsys):
    """2 samples with the default data.validation 0.2: the share rounds to none. The source is too
    small; data.validation is not 0."""
    from rlgen.cli import main

    assert main(["train", "autoencoder_digits", "data.source=tests.agents.pretrain.sources:Few",
                 "encoder.backbone={type: mlp, hidden: [8]}", "decoder.backbone={type: mlp, hidden: [8]}", *QUIET,
                 f"logging.dir={tmp_path}"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("data source 'tests.agents.pretrain.sources:Few' holds 2 samples, too few to hold out any for "
            "validation (data.validation 0.2 of 2 rounds to 0)") in err
    assert "data.validation is 0" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def _rows(run):
    import json

    return [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]


# --- a source of one's own that breaks its contract: one line, no run directory ------------------


BROKEN = [
    ("sample", "sample({n}, rng) raised ValueError: boom"),
    ("shape", "sample({n}, rng) gave an array of shape ({n}, 3), not ({n}, *shape) = ({n}, 2)"),
    ("float64", "samples are float64, not float32 (cast them in sample())"),
    ("nan", "a sample holds NaN or infinity"),
    ("labels", "has 3 classes, so labels run from 0 to 2; it gave labels from 7 to 7"),
]


@pytest.mark.parametrize("config", ["vae_digits", "supervised_digits"])
@pytest.mark.parametrize("fault, says", BROKEN, ids=[f for f, _ in BROKEN])
@pytest.mark.parametrize("at", [None, 64], ids=["held-out", "first-batch"])
def test_a_source_that_breaks_its_contract_is_one_line_and_no_run(tmp_path, capsys, config, fault, says, at):
    from rlgen.cli import main

    says = says.format(n=at or 32)  # the held-out draws (n_held_out of them) come first, in setup
    kwargs = f"{{fault: {fault}, at: {at or 'null'}, n_classes: 3}}"
    source = f"{{source: 'tests.broken_source:BrokenSource', kwargs: {kwargs}"
    assert main(["train", config, f"data={source}, n_held_out: 32}}", "fit.batch_size=64", *QUIET,
                 f"logging.dir={tmp_path}"]) == 2
    err = capsys.readouterr().err
    assert "data source 'tests.broken_source:BrokenSource'" in err and says in err, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("error: data source")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fault, says", [
    ("labels", " has 3 classes, so labels run from 0 to 2; it gave labels from 7 to 7"),
    ("float64", ": samples are float64, not float32 (cast them in sample())"),
], ids=["labels", "float64"])
def test_a_source_whose_batches_change_mid_run_is_one_line(tmp_path, capsys, fault, says):
    from rlgen.cli import main

    # draws 1-2: the validation and test parts; 3: the first batch; the 20th draw breaks, in the second unit
    source = f"{{source: 'tests.broken_source:BrokenSource', kwargs: {{fault: {fault}, after: 19, n_classes: 3}}"
    assert main(["train", "supervised_digits", f"data={source}, n_held_out: 32}}", "fit.batch_size=16",
                 "fit.steps_per_unit=10", "train.total_steps=40", "train.eval_every=10", *QUIET,
                 f"logging.dir={tmp_path}"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: data source 'tests.broken_source:BrokenSource'{says} (a batch drawn during training, not the " \
           "first: what the source's sample() gives changes part way)" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("half", ["encoder", "decoder"])
def test_a_transformer_shorter_than_the_sequences_names_its_half_and_no_run(tmp_path, capsys, half):
    from rlgen.cli import main

    both = ["encoder.backbone={type: transformer, d_model: 8, n_heads: 2, n_layers: 1, ff_dim: 16}",
            "decoder.backbone={type: transformer, d_model: 8, n_heads: 2, n_layers: 1, ff_dim: 16}"]
    assert main(["train", "autoencoder_digits", *SINE_AE[:1], "decoder.out_activation=null", *both,
                 f"{half}.backbone.max_len=8", *QUIET, f"logging.dir={tmp_path}"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: {half}.backbone: transformer backbone: sequence of 16 steps is longer than max_len 8 — " \
           "set backbone.max_len >= 16" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("config, path, more", [
    ("supervised_digits", "model.backbone", []),
    ("autoencoder_digits", "decoder.backbone", ["decoder.backbone={type: mlp, hidden: [32], norm: batch}"]),
])
def test_batch_norm_with_batches_of_one_is_refused_as_the_config_loads(config, path, more):
    """torch's batch norm refuses one row in training mode (an mlp's, over features): one line
    naming the key, not its traceback."""
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError, match=rf"{path}\.norm: batch norm needs batches of 2 or more; fit.batch_size is 1 "
                                          r"\(raise it, or use norm: layer\)"):
        rlgen.load_config(config, [*more, "fit.batch_size=1"])
    rlgen.load_config(config, [*more, "fit.batch_size=2"])


def test_a_cnns_batch_norm_takes_batches_of_one():
    """BatchNorm2d has H x W values per channel in one image: the autoencoder's cnn decoder trains on it."""
    rlgen.load_config("autoencoder_digits", ["fit.batch_size=1", "encoder.backbone.norm=batch"])
