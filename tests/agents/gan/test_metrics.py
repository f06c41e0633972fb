"""Sample-quality metrics on samples whose answers are known."""

import numpy as np
import pytest

from rlgen.agents.gan.metrics import frechet_distance, frechet_from_features, mmd2, mode_quality, spread, training_warning
from rlgen.envs.datasets import grid25, ring8


def test_perfect_samples_cover_every_mode_with_high_quality():
    src = ring8()
    x, _ = src.sample(2500, np.random.default_rng(0))
    covered, hq = mode_quality(x, src.modes, src.std)
    assert covered == 8
    assert hq > 0.99  # 3 std in 2-D holds 98.9% of the mass


def test_collapsed_and_off_mode_samples():
    src = grid25()
    rng = np.random.default_rng(0)
    on_two = src.modes[rng.integers(0, 2, 900)] + 0.01 * rng.standard_normal((900, 2))
    off = np.full((100, 2), 1.0)  # (1, 1): 1.41 from the nearest mode, far outside 3 std = 0.15
    covered, hq = mode_quality(np.concatenate([on_two, off]).astype(np.float32), src.modes, src.std)
    assert covered == 2
    assert hq == pytest.approx(0.9)


def test_mode_needs_its_share_of_samples():
    modes = np.array([[0.0, 0.0], [10.0, 0.0]])
    x = np.concatenate([np.zeros((95, 2)), np.full((5, 2), [10.0, 0.0])])
    assert mode_quality(x, modes, 0.1, share=0.2)[0] == 1  # 5 < 0.2 * 100 / 2 = 10
    assert mode_quality(x, modes, 0.1, share=0.1)[0] == 2  # 5 >= 5


def test_frechet_distance_closed_forms():
    mu, cov = np.array([1.0, 2.0]), np.array([[2.0, 0.3], [0.3, 1.0]])
    assert frechet_distance(mu, cov, mu, cov) == pytest.approx(0.0, abs=1e-9)
    # 1-D: (m1 - m2)^2 + (s1 - s2)^2
    assert frechet_distance(np.array([0.0]), np.array([[4.0]]), np.array([3.0]), np.array([[1.0]])) == pytest.approx(10.0)
    # diagonal covariances add per axis
    value = frechet_distance(np.zeros(2), np.diag([1.0, 9.0]), np.ones(2), np.diag([4.0, 1.0]))
    assert value == pytest.approx(2 + 1 + 4)


def test_frechet_from_features_small_for_same_distribution():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4000, 3)), rng.standard_normal((4000, 3))
    assert frechet_from_features(a, b) < 0.02
    assert frechet_from_features(a, b + 1) == pytest.approx(3.0, abs=0.05)


def test_mmd_zero_for_same_samples_and_larger_for_shifted():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 2))
    assert mmd2(x, x) == pytest.approx(0.0, abs=1e-12)
    near, far = mmd2(x, rng.standard_normal((200, 2))), mmd2(x, rng.standard_normal((200, 2)) + 2)
    assert near < 0.05 < far


def test_spread_of_points_on_a_line():
    assert spread(np.array([[1.0], [4.0]])) == pytest.approx(3.0)  # one pair, whatever the order
    x = np.array([[0.0], [1.0], [3.0], [5.0]])
    # the three ways to pair 4 points: {0-1, 3-5} 1.5, {0-3, 1-5} 3.5, {0-5, 1-3} 3.5
    assert round(spread(x), 9) in (1.5, 3.5)
    assert spread(x) == spread(x.copy())  # a fixed pairing: real and generated sets of one size pair alike


def test_spread_pairs_do_not_line_up_with_an_order_in_the_samples():
    """Samples in label order i % 2, one point per label: pairs (i, i + N/2) would join each label
    with itself (spread 0, a perfect conditional generator read as collapsed); random pairs join
    different labels half the time."""
    x = (np.arange(400) % 2).astype(np.float64)[:, None]
    assert 0.4 < spread(x) < 0.6


def test_training_warning():
    assert training_warning([0.7] * 5, [0.7] * 5, 1.0) is None
    assert "collapse" in training_warning([0.7] * 5, [0.7] * 5, 0.05)
    assert "diverging" in training_warning([0.01] * 5, [1, 2, 3, 4, 5], 1.0)
    assert training_warning([0.01] * 5, [5, 4, 3, 2, 1], 1.0) is None  # G recovering


@pytest.mark.parametrize("cached", [False, True])
def test_the_digits_classifier_leaves_the_global_torch_rng_alike_with_or_without_a_cache(tmp_path, cached):
    """A GAN run on digits builds it in its setup, after its players: training it (no cache yet)
    reseeded torch, so a machine's first run trained other weights than its second."""
    import torch
    from sklearn.datasets import load_digits

    from rlgen.agents.gan.classifier import load_classifier

    x, y = load_digits(return_X_y=True)
    x = (x / 16.0).astype(np.float32)
    load_classifier(x, y, tmp_path / "cache")  # a cache there
    torch.manual_seed(123)
    load_classifier(x, y, tmp_path / "cache")
    expected = torch.rand(3)  # where the cached path leaves the RNG
    torch.manual_seed(123)
    load_classifier(x, y, tmp_path / ("cache" if cached else "empty"))
    assert torch.equal(torch.rand(3), expected)
