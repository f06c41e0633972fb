"""Data sources: shapes, ranges, labels, determinism; nothing downloads."""

import numpy as np
import pytest

from rlgen.envs.datasets import ArrayData, Split, check_batch, frames, make_source, modality_of, sample_from
from rlgen.registry import SOURCES
from rlgen.errors import RlgenError


@pytest.mark.parametrize("name", [n for n in SOURCES.names() if n != "frames"])
def test_source_shapes_and_determinism(name):
    src = make_source(name)
    x, y = src.sample(16, np.random.default_rng(0))
    assert x.dtype == np.float32 and x.shape == (16, *src.shape)
    # declared before it is built, by the builders that can know (observations depend on the env)
    assert modality_of(SOURCES.get(name)) in (modality_of(src), None) and modality_of(src) == src.modality
    assert (y is None) == (src.n_classes == 0 and not getattr(src, "regression", False))
    again, _ = src.sample(16, np.random.default_rng(0))
    assert np.array_equal(x, again)
    check_batch(name, src, x, y, 16)  # every bundled source keeps the contract the kinds hold it to


def test_ring_modes_lie_on_the_circle():
    src = make_source("ring8", radius=2.0, std=0.02)
    assert np.allclose(np.linalg.norm(src.modes, axis=1), 2.0)
    x, _ = src.sample(4000, np.random.default_rng(1))
    assert abs(np.linalg.norm(x, axis=1).mean() - 2.0) < 0.01


def test_grid_has_25_modes_two_apart():
    src = make_source("grid25")
    assert src.modes.shape == (25, 2) and src.modes.min() == -4 and src.modes.max() == 4


@pytest.mark.parametrize("name, kwargs, bad", [
    ("ring8", {"std": -0.02}, "std"),  # the same points as 0.02, but no sample within 3 std of a mode
    ("ring8", {"radius": 0.0}, "radius"),
    ("grid25", {"std": 0.0}, "std"),
    ("grid25", {"spacing": -2.0}, "spacing"),
    ("gaussian", {"std": float("nan")}, "std"),
])
def test_a_mixture_size_that_is_not_positive_names_its_kwarg(name, kwargs, bad):
    with pytest.raises(RlgenError, match=rf"^data source '{name}': data\.kwargs\.{bad} is .*, but it must be > 0"):
        make_source(name, **kwargs)


def test_digits_are_bundled_labeled_and_in_range():
    src = make_source("digits")
    assert src.shape == (1, 8, 8) and src.n_classes == 10
    assert src.x.min() == -1.0 and src.x.max() == 1.0
    assert set(np.unique(src.y)) == set(range(10))


def test_sines_have_bounded_amplitude():
    src = make_source("sine", length=24, amplitude=0.5)
    x, _ = src.sample(64, np.random.default_rng(0))
    assert x.shape == (64, 24, 1) and np.abs(x).max() <= 0.5 + 1e-6


def test_frames_from_a_cartpole_rollout():
    src = frames(n_frames=6, size=16)
    assert src.x.shape == (6, 1, 16, 16) and src.modality == "image"
    assert -1.0 <= src.x.min() < src.x.max() <= 1.0  # a picture, not a blank
    assert not np.array_equal(src.x[0], src.x[5])  # the cart moved


def test_unknown_source_suggests():
    assert "did you mean 'ring8'" in SOURCES.problem("ring")
    with pytest.raises(RlgenError, match="data source 'ring8'"):
        make_source("ring8", radius=1.0, bogus=3)


class _Video:
    """A source whose modality is none of the three."""

    modality, shape, n_classes = "video", (2,), 0

    def sample(self, batch, rng):
        return np.zeros((batch, 2), np.float32), None


def test_a_modality_of_another_name_is_named_with_the_allowed_ones():
    SOURCES.register("test_video", _Video)
    try:
        with pytest.raises(RlgenError) as e:
            make_source("test_video")
    finally:
        SOURCES.unregister("test_video")
    assert str(e.value) == ("data source 'test_video' built a _Video with modality 'video'; a source's modality is "
                            "'points', 'image' or 'sequence'")


def test_friedman1_is_a_regression_problem_with_float_targets():
    src = make_source("friedman1", n_samples=100)
    assert src.shape == (10,) and src.regression and src.y.dtype == np.float32 and src.y.shape == (100,)


def test_a_split_is_fixed_by_its_seed_and_covers_the_set_once():
    from rlgen.envs.datasets import Split

    a, b = Split(make_source("digits"), 0.2, 0.1, seed=0), Split(make_source("digits"), 0.2, 0.1, seed=0)
    assert np.array_equal(a.validation[0], b.validation[0]) and np.array_equal(a.test[1], b.test[1])
    assert len(a.validation[0]) == 359 and len(a.test[0]) == 180 and len(a.train.x) == 1797 - 359 - 180
    # the three parts add up to the whole set: every image in exactly one of them
    whole = np.concatenate([a.train.x, a.validation[0], a.test[0]])
    assert np.array_equal(np.sort(whole.reshape(len(whole), -1), 0),
                          np.sort(make_source("digits").x.reshape(1797, -1), 0))
    other = Split(make_source("digits"), 0.2, 0.1, seed=1)
    assert not np.array_equal(a.validation[0], other.validation[0])


def test_an_endless_source_holds_out_fixed_draws():
    from rlgen.envs.datasets import Split

    split = Split(make_source("sine"), validation=0.1, n_held_out=32)
    assert split.validation[0].shape == (32, 32, 1) and split.test[0].shape == (0, 32, 1)
    assert split.train is split.source


# --- the first batch: a source of one's own held to its declaration, one line when it breaks it ---


class _Labeled:
    """Points with `n_classes` classes; `fault` breaks one part of the contract, at `batch` rows
    only (None: at every size), so that a test can reach the first training batch past the held-out draws."""

    modality, shape = "points", (2,)

    def __init__(self, fault=None, n_classes=3, at=None):
        self.fault, self.n_classes, self.at = fault, n_classes, at

    def sample(self, batch, rng):
        fault = self.fault if self.at in (None, batch) else None
        if fault == "raise":
            raise ValueError("no such file: data.csv\n  (and a second line)")
        if fault == "single":
            return rng.standard_normal((batch, 2)).astype(np.float32)
        x = rng.standard_normal((batch, 3 if fault == "shape" else 2))
        x = x if fault == "float64" else x.astype(np.float32)
        if fault == "nan":
            x[-1, 0] = np.nan
        y = rng.integers(0, self.n_classes, size=batch)
        if fault == "range":
            y[0] = self.n_classes + 4
        if fault == "negative":
            y[0] = -1
        return x, {"float32": y.astype(np.float32), "int32": y.astype(np.int32), "none": None,
                   "list": list(y)}.get(fault, y)


FAULTS = [
    ("raise", "data source 'mine': sample(8, rng) raised ValueError: no such file: data.csv (check the source"),
    ("single", "data source 'mine': sample(8, rng) gave an array of shape (8, 2), not a pair (x, labels or None)"),
    ("shape", "data source 'mine': sample(8, rng) gave an array of shape (8, 3), not (8, *shape) = (8, 2)"),
    ("float64", "data source 'mine': samples are float64, not float32 (cast them in sample())"),
    ("nan", "data source 'mine': a sample holds NaN or infinity"),
    ("none", "data source 'mine' has 3 classes, so sample() returns (8,) labels beside the samples; it gave None"),
    ("list", "data source 'mine' has 3 classes, so sample() returns (8,) labels beside the samples; it gave (8,)"),
    ("float32", "data source 'mine': labels are float32, not int64 (cast them in sample())"),
    ("int32", "data source 'mine': labels are int32, not int64 (cast them in sample())"),
    ("range", "data source 'mine' has 3 classes, so labels run from 0 to 2; it gave labels from 0 to 7"),
    ("negative", "data source 'mine' has 3 classes, so labels run from 0 to 2; it gave labels from -1 to "),
]


@pytest.mark.parametrize("fault, says", FAULTS, ids=[f for f, _ in FAULTS])
def test_a_first_batch_that_breaks_the_contract_is_one_line_naming_the_source(fault, says):
    with pytest.raises(RlgenError) as e:
        sample_from("mine", _Labeled(fault), 8, np.random.default_rng(0))
    assert str(e.value).startswith(says) and "\n" not in str(e.value)
    assert e.value.__context__ is None or e.value.__suppress_context__  # no chained traceback
    x, y = sample_from("mine", _Labeled(), 8, np.random.default_rng(0))  # a source that keeps it passes
    assert x.shape == (8, 2) and y.dtype == np.int64


@pytest.mark.parametrize("fault, says", FAULTS, ids=[f for f, _ in FAULTS])
def test_a_later_batch_that_breaks_the_contract_is_one_line_saying_it_was_drawn_during_training(fault, says):
    """Every batch is held to the source's declaration, not only the first: a source whose batches
    change part way (labels out of range, float64, another shape) is named, not a torch traceback."""
    with pytest.raises(RlgenError) as e:
        sample_from("mine", _Labeled(fault), 8, np.random.default_rng(0), first=False)
    assert str(e.value).startswith(says) and "\n" not in str(e.value)
    if fault != "raise":  # what the source raises is its own fault, first batch or not
        changed = "the source's data turns non-finite" if fault == "nan" else "what the source's sample() gives changes"
        assert str(e.value).endswith(f"(a batch drawn during training, not the first: {changed} part way)")
    assert e.value.__context__ is None or e.value.__suppress_context__
    x, y = sample_from("mine", _Labeled(), 8, np.random.default_rng(0), first=False)
    assert x.shape == (8, 2) and y.dtype == np.int64


def test_a_source_whose_iterator_runs_out_is_told_to_make_sample_endless():
    class Stream:
        """Two batches from an iterator, then StopIteration: a file read once."""

        modality, shape, n_classes = "points", (2,), 0

        def __init__(self):
            self.batches = iter([np.zeros((8, 2), np.float32)] * 2)

        def sample(self, batch, rng):
            return next(self.batches), None

    source, rng = Stream(), np.random.default_rng(0)
    for first in (True, False):
        sample_from("mine", source, 8, rng, first=first)
    with pytest.raises(RlgenError) as e:
        sample_from("mine", source, 8, rng, first=False)
    # before: "raised StopIteration: StopIteration (check the source and data.kwargs)"
    assert str(e.value) == ("data source 'mine': sample(8, rng) ran out of data (StopIteration); make sample() endless, "
                            "e.g. restart its iterator when it ends (a batch drawn during training, not the first: "
                            "what the source's sample() gives changes part way)")
    assert e.value.__suppress_context__


def test_a_split_checks_every_training_batch_of_an_endless_source():
    class Late(_Labeled):
        """Keeps its contract for its first `after` draws, then gives labels out of range."""

        def __init__(self, after):
            super().__init__()
            self.after = after

        def sample(self, batch, rng):
            self.after -= 1
            self.fault = "range" if self.after < 0 else None
            return super().sample(batch, rng)

    split = Split(Late(after=3), validation=0.1, n_held_out=32, name="mine")  # draw 1: the held-out part
    split.sample(8, np.random.default_rng(0))  # the first training batch
    split.sample(8, np.random.default_rng(0))
    with pytest.raises(RlgenError, match=r"^data source 'mine' has 3 classes, so labels run from 0 to 2; it gave "
                                         r"labels from 0 to 7 \(a batch drawn during training, not the first"):
        split.sample(8, np.random.default_rng(0))


def test_a_split_of_a_finite_source_checks_its_training_part_whole_when_made():
    """A bad stored row is found when the split is made, not at whichever batch first draws it."""
    x, y = np.zeros((50, 1, 2, 2), np.float32), np.zeros(50, np.int64)
    y[7] = 3
    with pytest.raises(RlgenError, match=r"^data source 'mine' has 3 classes, so labels run from 0 to 2; it gave "
                                         r"labels from 0 to 3$"):
        Split(ArrayData(x, y, 3), validation=0.0, name="mine")
    y[7] = 2
    assert Split(ArrayData(x, y, 3), validation=0.0, name="mine").sample(64, np.random.default_rng(0))[1].max() <= 2


def test_unlabeled_targets_are_rows_and_finite():
    unlabeled, x = _Labeled(n_classes=0), np.zeros((4, 2), np.float32)
    check_batch("mine", unlabeled, x, None, 4)
    check_batch("mine", unlabeled, x, np.ones(4, np.float32), 4)  # a regression target
    with pytest.raises(RlgenError, match="'mine': a target holds NaN or infinity"):
        check_batch("mine", unlabeled, x, np.array([0, 1, np.nan, 2], np.float32), 4)
    for y in (np.ones(3, np.float32), np.float32(1.0)):
        with pytest.raises(RlgenError, match=r"'mine': sample\(4, rng\) gave an array of shape \(3?,?\) as targets"):
            check_batch("mine", unlabeled, x, np.asarray(y), 4)


@pytest.mark.parametrize("fault", ["raise", "float64", "range"])
def test_a_split_checks_its_held_out_draws_and_its_first_training_batch(fault):
    with pytest.raises(RlgenError, match="data source 'mine'"):
        Split(_Labeled(fault), validation=0.1, n_held_out=32, name="mine")
    # held-out draws that keep the contract, a training batch that breaks it: refused at the first batch
    split = Split(_Labeled(fault, at=8), validation=0.1, test=0.1, n_held_out=32, name="mine")
    with pytest.raises(RlgenError, match="data source 'mine'"):
        split.sample(8, np.random.default_rng(0))
    split = Split(_Labeled(), validation=0.1, n_held_out=32, name="mine")
    assert split.sample(8, np.random.default_rng(0))[0].shape == (8, 2)


def test_a_finite_source_is_checked_on_its_held_out_and_training_parts():
    class Finite:
        modality, shape, n_classes = "points", (2,), 3

        def __init__(self, x, y):
            self.x, self.y = x, y

        def sample(self, batch, rng):
            raise AssertionError("a split of a finite source samples its own training part")

    x, y = np.zeros((100, 2), np.float32), np.arange(100) % 3
    Split(Finite(x, y), validation=0.2, name="mine").sample(8, np.random.default_rng(0))
    with pytest.raises(RlgenError, match="'mine' has 3 classes, so labels run from 0 to 2; it gave labels from 0 to 9"):
        Split(Finite(x, np.arange(100) % 10), validation=0.2, name="mine")
    with pytest.raises(RlgenError, match=r"gave an array of shape \(20, 3\), not \(20, \*shape\) = \(20, 2\)"):
        Split(Finite(np.zeros((100, 3), np.float32), y), validation=0.2, name="mine")
    # no held-out part to check: the training part is held to the declared shape, whole
    with pytest.raises(RlgenError, match=r"gave an array of shape \(100, 3\), not \(100, \*shape\) = \(100, 2\)"):
        Split(Finite(np.zeros((100, 3), np.float32), y), validation=0.0, name="mine")


def test_frames_of_minatar_are_not_black():
    """MinAtar renders (10, 10, 3) floats in [0, 1], which the source read as uint8 pixels: all -1."""
    pytest.importorskip("minatar")
    x, _ = frames("MinAtar/Breakout-v1", n_frames=4, size=16).sample(4, np.random.default_rng(0))
    assert np.isfinite(x).all() and x.max() > 0.0


def test_frames_of_cartpole_are_its_uint8_screens_resized():
    import gymnasium as gym

    from rlgen.envs.datasets import _resize

    env = gym.make("CartPole-v1", render_mode="rgb_array")
    env.reset(seed=0)
    expected = _resize(env.render(), 16, True).astype(np.float32) / 127.5 - 1.0
    env.close()
    assert np.array_equal(frames(n_frames=1, size=16).x[0], expected)
