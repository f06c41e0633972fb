"""What the evaluator scores a source on: the mode metrics only for a mixture it can read."""

import numpy as np
import pytest

from rlgen.cli import main
from rlgen.envs.datasets import Mixture, ring8
from tests.agents.gan.sources import Centred


def test_rlgens_mixtures_and_a_source_with_centres_and_a_std_get_mode_metrics():
    from rlgen.agents.gan.evaluation import mode_centres

    modes, std = mode_centres(ring8())
    assert modes.shape == (8, 2) and std == 0.02
    modes, std = mode_centres(Centred(std=0.1))
    assert np.array_equal(modes, Centred.centres) and std == 0.1


@pytest.mark.parametrize("source", [
    Centred(),  # modes, no std: an AttributeError at the first evaluation before
    Centred(std=0.0), Centred(std=-0.1), Centred(std="0.1"), Centred(std=True),
    Centred(modes=[0.0, 3.0], std=0.1),  # (K,), not (K, D)
    Centred(modes=[[0.0, 0.0, 0.0]], std=0.1),  # D = 3 for samples (2,)
], ids=["no-std", "zero", "negative", "text", "bool", "1-d", "other-d"])
def test_a_source_whose_modes_and_std_are_no_mixture_gets_none(source):
    from rlgen.agents.gan.evaluation import mode_centres

    assert mode_centres(source) is None


def test_a_mixture_built_with_a_negative_std_gets_no_mode_metrics():
    from rlgen.agents.gan.evaluation import mode_centres

    assert mode_centres(Mixture(np.zeros((2, 2)), -0.1)) is None  # its real data would score 0


def test_a_source_with_modes_but_no_std_trains_and_is_scored_without_mode_metrics(tmp_path):
    assert main(["train", "gan_ring8", "data.source=tests.agents.gan.sources:Centred", "data.kwargs={}",
                 "objective.batch_size=16", "eval.samples=50", "eval.pictures=false", "perf.steps_per_unit=5",
                 "train.total_steps=5", "train.eval_every=5", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                 "logging.console=false", "train.progress=false"]) == 0
    (metrics,) = tmp_path.glob("gan_ring8/*/metrics.jsonl")
    assert '"eval/mmd"' in metrics.read_text() and "eval/modes_covered" not in metrics.read_text()


def small_classifier(monkeypatch):
    """A tiny untrained digits classifier in place of the real one (seconds of training)."""
    from rlgen.agents.gan import classifier

    monkeypatch.setattr(classifier, "train_classifier", lambda x, y: (classifier.DigitsClassifier([4, 4]), 1.0))


@pytest.mark.parametrize("name", ["digits", "rlgen.envs.datasets:digits"])
def test_digits_named_by_its_import_path_gets_the_digits_metrics(name, tmp_path, monkeypatch):
    """The classifier metrics (and gan_digits_dcgan's early-stop metric, eval/frechet) followed the
    name's spelling: by import path, digits was scored as any source."""
    from rlgen.agents.gan.evaluation import Evaluator
    from rlgen.api import load_config
    from rlgen.envs.datasets import make_source

    small_classifier(monkeypatch)
    cfg = load_config("gan_digits_dcgan", [f"data.source={name}", "eval.samples=100",
                                           f"eval.classifier_cache={tmp_path}"])
    evaluator = Evaluator(cfg, make_source(cfg.data.source), "image", 0)
    scores = evaluator.score(evaluator.real, None)
    assert {"eval/frechet", "eval/classes_covered"} <= scores.keys()


def test_data_of_no_spread_has_no_diversity_ratio():
    """The generator's spread over 1e-12 read as a ratio of 5e11 before: NaN, nothing to read."""
    from rlgen.agents.gan.evaluation import Evaluator
    from rlgen.api import load_config
    from tests.agents.gan.sources import Flat

    cfg = load_config("gan_ring8", ["data.source=tests.agents.gan.sources:Flat", "data.kwargs={}",
                                    "eval.samples=100"])
    scores = Evaluator(cfg, Flat(), "points", 0).score(np.ones((100, 2), np.float32), None)
    assert np.isnan(scores["eval/diversity_ratio"])


@pytest.mark.parametrize("amplitude", [0, -0.8])
def test_a_sine_of_no_positive_amplitude_is_refused_as_a_mixtures_std_is(amplitude):
    from rlgen.envs.datasets import make_source
    from rlgen.errors import RlgenError

    with pytest.raises(RlgenError, match=rf"^data source 'sine': data.kwargs.amplitude is {float(amplitude)}, "
                                         "but it must be > 0; give a positive amplitude$"):
        make_source("sine", amplitude=amplitude)
