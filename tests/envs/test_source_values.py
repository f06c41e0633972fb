"""What a source's values and counts may be: targets are numbers that stay finite as the float32
training reads them, n_classes is a whole count, and a finite source holds samples. Each broken
one is one line naming the source."""

import numpy as np
import pytest

from rlgen.envs.datasets import ArrayData, Split, check_batch, make_source
from rlgen.errors import RlgenError


class Points:
    """Regression points (4, 2) with targets `y` as given; `n_classes` as given (any value)."""

    modality, shape = "points", (2,)

    def __init__(self, n_classes=0):
        self.n_classes = n_classes

    def sample(self, batch, rng):
        return np.zeros((batch, 2), np.float32), None


X = np.zeros((4, 2), np.float32)


@pytest.mark.parametrize("y", [np.array(["cat", "dog", "cat", "dog"]), np.array([1.0, 2.0, 3.0, 4.0], dtype=object)],
                         ids=["text", "object"])
def test_targets_that_are_not_numbers_are_one_line(y):
    # torch.as_tensor refused them at the first training step with a TypeError and a traceback
    with pytest.raises(RlgenError, match=rf"^data source 'mine': targets are {y.dtype}, not numbers; sample\(\) "
                                         r"gives numeric targets"):
        check_batch("mine", Points(), X, y, 4)


def test_targets_past_float32_range_are_the_sources_fault_not_a_divergence():
    # finite in float64, inf once the loss casts them to float32 (the runner then said "diverged")
    with pytest.raises(RlgenError, match=r"^data source 'mine': a target holds NaN or infinity, or a value beyond "
                                         r"float32's range"):
        check_batch("mine", Points(), X, np.array([1.0, 2.0, 1e39, 0.0]), 4)
    for y in (np.array([1.0, 2.0, 3e38, 0.0]), np.array([0, 1, 2, 3], np.int64), np.array([True, False] * 2)):
        check_batch("mine", Points(), X, y, 4)  # numbers that float32 holds


POINTS = "tests.envs.test_source_values:Points"  # by import path, as a user's own source is named


@pytest.mark.parametrize("n_classes", [3.0, 3.5, -1, True, "3"])
def test_n_classes_that_is_not_a_count_is_one_line_naming_the_source(n_classes):
    # a float reached the networks' sizes: "generator.backbone: ... in_dim must be 1 positive ints, got (11.0,)"
    with pytest.raises(RlgenError, match=rf"^data source '{POINTS}' built a Points with n_classes "
                                         rf"{n_classes!r}; n_classes is a whole number of classes, 0 for none"):
        make_source(POINTS, n_classes=n_classes)


@pytest.mark.parametrize("n_classes", [0, 3, np.int64(3), None])
def test_n_classes_that_is_a_count_or_none_is_taken(n_classes):
    assert make_source(POINTS, n_classes=n_classes).n_classes is n_classes


def test_a_finite_source_with_no_samples_says_so_not_the_split():
    with pytest.raises(RlgenError, match=r"^data source 'mine' holds no samples \(its `x` is empty\); check "
                                         r"data.kwargs"):
        Split(ArrayData(np.zeros((0, 2), np.float32), None, 0), validation=0.2, name="mine")
    # one sample and no share held out still trains
    assert len(Split(ArrayData(np.zeros((1, 2), np.float32), None, 0), validation=0.0, name="mine").train.x) == 1
