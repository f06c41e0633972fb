"""The GAN kind at its edges: a unit asked for with the budget spent, data near float32's largest
value in the scatter picture, and a source whose n_classes is no count."""

import numpy as np
import pytest

from rlgen.agents.gan.pictures import scatter
from rlgen.cli import main
from rlgen.testing import ExperimentCheckError, check_experiment

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


class Labeled:
    """200 points (2,) with labels 0..2, and `n_classes` as given (any value)."""

    modality, shape = "points", (2,)

    def __init__(self, n_classes=3):
        self.n_classes = n_classes

    def sample(self, batch, rng):
        return rng.standard_normal((batch, 2)).astype(np.float32), rng.integers(0, 3, batch)


def test_a_unit_with_the_budget_spent_is_the_checkers_line_not_a_division_by_zero():
    # the checker's third unit starts at train.total_steps: it runs no step, so there is no loss to average
    with pytest.raises(ExperimentCheckError, match=r"global_step went from 10 to 10; .*give the check a larger budget"):
        check_experiment("gan", "gan_ring8", ["train.total_steps=10", "perf.steps_per_unit=5", "eval.samples=200",
                                              "objective.batch_size=32"])


def test_the_scatter_of_points_near_float32s_largest_value_is_drawn(tmp_path):
    # |x| * 1.3 overflowed to inf in float32, and matplotlib refused the limits
    real = np.array([[3e38, -3e38], [1.0, 2.0]], np.float32)
    fake = np.zeros((2, 2), np.float32)
    assert scatter(fake, real, tmp_path / "big.png", "big").stat().st_size > 0
    assert scatter(fake, np.zeros((2, 2), np.float32), tmp_path / "zero.png", "zero").stat().st_size > 0


@pytest.mark.parametrize("n_classes", ["3.0", "3.5"])
def test_a_float_n_classes_names_the_source_not_the_generator(tmp_path, capsys, n_classes):
    assert main(["train", "gan_ring8", "data.source=tests.agents.gan.test_edges:Labeled",
                 f"data.kwargs={{n_classes: {n_classes}}}", "objective.conditional=concat", "eval.samples=100",
                 f"logging.dir={tmp_path}", *QUIET]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"error: data source 'tests.agents.gan.test_edges:Labeled' built a Labeled with n_classes {n_classes};" \
           in err and "generator.backbone" not in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []
