"""A source of one's own against what the pretraining kinds read: a finite source's `x` / `y` are
what sample() gives (the split reads them directly), a sample's shape is what its modality takes
(an image (C, H, W), a sequence (steps, features)). Either broken is one line naming the source,
exit 2 and no run directory. And the pictures: the confusion matrix's cost stays bounded whatever
the class count, and the reconstructions of 1-D points draw something."""

from __future__ import annotations

import matplotlib.axes
import numpy as np
import pytest

import rlgen
from rlgen.agents.pretrain import pictures
from rlgen.cli import main
from rlgen.envs.datasets import check_rows_are_samples, make_source
from rlgen.errors import ConfigError, RlgenError

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
SMALL = ["train.total_steps=20", "train.eval_every=10", "fit.steps_per_unit=10", "fit.batch_size=16"]
MLP_AE = ["encoder.backbone={type: mlp, hidden: [16]}", "decoder.backbone={type: mlp, hidden: [16]}"]
MLP_CLS = ["model.backbone={type: mlp, hidden: [16]}"]
HERE = "tests.agents.pretrain.test_source_fit"


class Stored:
    """200 labeled (1, 4, 4) pictures kept as `x` / `y`; `way` says how sample() departs from them:
    uint8 (x stored 0..255, sample() / 255), augment (noise added), labels (y stored shifted by one
    class: in range, so no other check sees it), float64 (x stored float64, sample() casts: the same rows), none (returns rows)."""

    modality, shape, n_classes = "image", (1, 4, 4), 3

    def __init__(self, way: str = "none"):
        rng = np.random.default_rng(0)
        self.way = way
        self.labels = rng.integers(0, 3, 200)  # what sample() gives
        self.y = (self.labels + 1) % 3 if way == "labels" else self.labels  # what the split reads
        pixels = rng.integers(0, 256, (200, 1, 4, 4))
        self.x = pixels.astype(np.uint8 if way == "uint8" else np.float64 if way == "float64" else np.float32)

    def sample(self, batch, rng):
        i = rng.integers(0, len(self.x), batch)
        x = self.x[i].astype(np.float32)
        if self.way == "uint8":
            x = x / np.float32(255)
        if self.way == "augment":
            x = x + rng.normal(0, 0.1, x.shape).astype(np.float32)
        return x, self.labels[i].astype(np.int64)


class Shaped:
    """Labeled uniform noise of any `shape`, declared as any `modality` (known once it is built)."""

    n_classes = 3

    def __init__(self, shape=(8,), modality="points"):
        self.shape, self.modality = tuple(shape), modality

    def sample(self, batch, rng):
        x = rng.uniform(-1, 1, size=(batch, *self.shape)).astype(np.float32)
        return x, rng.integers(0, 3, batch)


class DeclaredFlatImage:
    """A class that declares an (H, W) image: judged when the config loads."""

    modality, shape, n_classes = "image", (8, 8), 0

    def sample(self, batch, rng):
        return rng.random((batch, 8, 8)).astype(np.float32), None


def _run(tmp_path, config, source, kwargs, *overrides):
    nets = MLP_CLS if config == "supervised_digits" else MLP_AE
    return main(["train", config, f"data.source={HERE}:{source}", f"data.kwargs={kwargs}", *nets, *SMALL, *QUIET,
                 f"logging.dir={tmp_path}", *overrides])


def _one_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err, err
    return " ".join(err.split())


# --- a finite source's x / y are what sample() gives ----------------------------------------------


@pytest.mark.parametrize("config, way, says", [
    # the split trained on 0..255 while sample() gives 0..1 (and the GAN kind, which calls sample(), 0..1)
    *[(c, "uint8", "sample() gave a sample that is no row of its `x` (`x` as float32 spans [0, 255], sample() gave [0,")
      for c in ("autoencoder_digits", "supervised_digits")],
    *[(c, "augment", "sample() gave a sample that is no row of its `x`") for c in ("autoencoder_digits",
                                                                                  "supervised_digits")],
    ("supervised_digits", "labels", "that `y` does not hold for that row of `x`"),  # the autoencoder reads no `y`
])
def test_a_finite_source_whose_x_is_not_what_sample_gives_is_one_line_and_no_run(tmp_path, capsys, config, way,
                                                                                  says):
    assert _run(tmp_path, config, "Stored", f"{{way: {way}}}") == 2
    err = _one_line(capsys)
    assert f"error: data source '{HERE}:Stored': " in err and says in err, err
    assert "use those rows as they are, never sample()" in err or "reads `x` and `y` directly" in err
    assert list(tmp_path.iterdir()) == []


def test_what_the_check_does_not_hold_against_a_source(tmp_path):
    """An autoencoder reads no `y` (a source may keep one for itself); a source smaller than the
    check's draws is drawn whole; float64 rows are compared as the float32 the split trains on."""
    assert _run(tmp_path, "autoencoder_digits", "Stored", "{way: labels}") == 0
    small = Stored("float64")
    small.x, small.y = small.x[:5], small.y[:5]
    small.sample = lambda batch, rng: (small.x[rng.choice(5, batch, replace=False)], None)
    check_rows_are_samples("mine", small, targets=False)


@pytest.mark.parametrize("way", ["none", "float64"])
def test_a_finite_source_whose_sample_returns_its_rows_trains(tmp_path, way):
    assert _run(tmp_path, "supervised_digits", "Stored", f"{{way: {way}}}") == 0
    check_rows_are_samples("mine", Stored(way))  # float64 rows cast to float32 are the same rows


@pytest.mark.parametrize("name", ["digits", "friedman1"])
def test_the_bundled_finite_sources_hold_what_they_sample(name):
    check_rows_are_samples(name, make_source(name))


def test_targets_that_do_not_line_up_with_x_are_one_line():
    odd = Stored()
    odd.y = odd.y[:150]
    with pytest.raises(RlgenError, match="`y` holds 150 targets for the 200 rows of `x`; give one target per row"):
        check_rows_are_samples("mine", odd)
    odd.y = None
    with pytest.raises(RlgenError, match="sample\\(\\) gives targets but `y` is None"):
        check_rows_are_samples("mine", odd)


# --- a sample's shape is what its modality takes -----------------------------------------------


@pytest.mark.parametrize("config, extra", [
    ("autoencoder_digits", []),  # mlp encoder and decoder: the reconstructions' image grid raised
    ("vae_digits", []),  # and the prior samples' grid
    ("supervised_digits", []),
    ("autoencoder_digits", ["encoder.backbone={type: gru, hidden_size: 8}", "decoder.backbone={type: gru, hidden_size: 8}"]),
])
@pytest.mark.parametrize("modality, shape, says", [
    ("image", [8, 8], "an image sample is (channels, height, width): give shape (1, 8, 8) (one channel), sample() "
     "returning (batch, 1, 8, 8)"),
    ("image", [1, 1, 8, 8], "give shape (1, 8, 8) (the leading axes folded into channels)"),
    ("image", [8], "a vector of 8 numbers is modality 'points'"),
    ("sequence", [16], "a sequence sample is (steps, features): give shape (16, 1) (one feature per step)"),
    ("sequence", [4, 4, 2], "give shape (4, 8) (each step's features flattened)"),
])
def test_a_sample_shape_its_modality_does_not_take_is_one_line_and_no_run(tmp_path, capsys, config, extra, modality,
                                                                           shape, says):
    assert _run(tmp_path, config, "Shaped", f"{{shape: {shape}, modality: {modality}}}", *extra) == 2
    err = _one_line(capsys)
    assert f"error: data.source: '{HERE}:Shaped' gives {modality} samples of shape" in err and says in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("config, shape", [("autoencoder_digits", [1, 8, 8]), ("supervised_digits", [1, 8, 8]),
                                           ("autoencoder_digits", [2, 3])])
def test_shapes_the_modalities_take_train(tmp_path, config, shape):
    modality = "image" if len(shape) == 3 else "points"
    assert _run(tmp_path, config, "Shaped", f"{{shape: {shape}, modality: {modality}}}") == 0


def test_a_class_that_declares_its_shape_is_refused_when_the_config_loads():
    with pytest.raises(ConfigError) as e:
        rlgen.load_config("autoencoder_digits", [f"data.source={HERE}:DeclaredFlatImage", *MLP_AE])
    assert (f"data.source: '{HERE}:DeclaredFlatImage' gives image samples of shape (8, 8), but an image sample is "
            "(channels, height, width): give shape (1, 8, 8) (one channel), sample() returning (batch, 1, 8, 8)"
            ) in " ".join(str(e.value).split())


# --- pictures ------------------------------------------------------------------------------------


def test_the_confusion_picture_stays_bounded_and_writes_counts_only_for_a_few_classes(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    texts = []
    real_text = matplotlib.axes.Axes.text
    monkeypatch.setattr(matplotlib.axes.Axes, "text", lambda self, *a, **k: texts.append(a) or real_text(self, *a, **k))
    small = np.diag([5, 4, 3]) + np.eye(3, k=1, dtype=int)
    pictures.confusion(small, tmp_path / "small.png", "t")
    assert sorted((int(j), int(i), s) for j, i, s in texts) == [(0, 0, "5"), (1, 0, "1"), (1, 1, "4"), (2, 1, "1"),
                                                                 (2, 2, "3")]
    texts.clear()
    k = 50  # was a 24-inch figure with 2,500 texts (200 classes: 55 s and 3 GiB each evaluation)
    pictures.confusion(np.ones((k, k), dtype=np.int64), tmp_path / "many.png", "t")
    assert texts == []
    height, width = plt.imread(tmp_path / "many.png").shape[:2]
    assert max(height, width) <= pictures.MAX_INCHES * 100


def _red_pixels(path) -> int:
    import matplotlib.pyplot as plt

    rgb = plt.imread(path)[..., :3]
    return int((rgb[..., 0] - rgb[..., 1:].max(-1) > 0.2).sum())  # reds, blended or not


@pytest.mark.parametrize("shape", [(1,), (1, 1), (2,), (5,), (5, 3)])
def test_reconstructions_of_points_draw_them(tmp_path, shape):
    """1-D points (the bundled gaussian) drew an empty plot: a line through one value."""
    rng = np.random.default_rng(0)
    real = rng.normal(3, 0.5, (32, *shape)).astype(np.float32)
    path = pictures.reconstructions(real, real * 0.9, "points", tmp_path / "r.png", "t", float(real.min()),
                                    float(real.max()))
    assert _red_pixels(path) > 200  # 32 reconstructions (a legend's red marker and one point: under 100)
