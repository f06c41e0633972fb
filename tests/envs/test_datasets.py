"""Data sources: shapes, ranges, labels, determinism; nothing downloads."""

import numpy as np
import pytest

from rlgen.envs.datasets import frames, make_source, modality_of
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


def test_ring_modes_lie_on_the_circle():
    src = make_source("ring8", radius=2.0, std=0.02)
    assert np.allclose(np.linalg.norm(src.modes, axis=1), 2.0)
    x, _ = src.sample(4000, np.random.default_rng(1))
    assert abs(np.linalg.norm(x, axis=1).mean() - 2.0) < 0.01


def test_grid_has_25_modes_two_apart():
    src = make_source("grid25")
    assert src.modes.shape == (25, 2) and src.modes.min() == -4 and src.modes.max() == 4


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
