"""Intervals valid for the number of runs, IQM, the metric's range, and the PNG band that matches."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml

from rlgen import stats
from rlgen.cli import main
from rlgen.compare import Group, compare, metric_bounds, read_run, read_runs
from rlgen.compare_report import band, curves_figure

T_975_1 = 12.706204736  # Student's t, 1 degree of freedom, 97.5% (any t table)
T_975_4 = 2.776445105


def test_t_interval_of_two_runs():
    # the two seeds: a percentile bootstrap printed [21.7, 34.6]; the t-interval is ±82
    lo, hi = stats.t_interval([21.7, 34.6])
    half = T_975_1 * (12.9 / math.sqrt(2)) / math.sqrt(2)
    assert half == pytest.approx(81.955, abs=1e-3)
    assert (lo, hi) == pytest.approx((28.15 - half, 28.15 + half), abs=1e-6)


def test_t_interval_of_five_runs():
    v = np.array([1.0, 2.0, 3.0, 4.0, 10.0])
    iv = stats.interval(v, "t")
    half = T_975_4 * v.std(ddof=1) / math.sqrt(5)
    assert (iv.lo, iv.hi) == pytest.approx((4 - half, 4 + half)) and iv.ok


def test_too_few_runs_say_so_instead_of_a_number():
    one = stats.interval([3.0], "t")
    assert math.isnan(one.lo) and one.note == "n=1: a t-interval needs 2+ runs"
    two = stats.interval([21.7, 34.6], "bca")
    assert math.isnan(two.lo) and math.isnan(two.hi)
    assert two.note == f"n=2: BCa needs {stats.MIN_BOOTSTRAP}+ runs"


def test_bca_with_enough_runs_is_close_to_the_t_interval():
    v = np.random.default_rng(0).normal(100, 10, size=40)
    bca, t = stats.interval(v, "bca"), stats.interval(v, "t")
    assert bca.ok and bca.lo < v.mean() < bca.hi
    assert bca.lo == pytest.approx(t.lo, abs=1.0) and bca.hi == pytest.approx(t.hi, abs=1.0)
    same = stats.interval([5.0] * 12, "bca")
    assert (same.lo, same.hi) == (5.0, 5.0)


def test_iqm():
    assert stats.iqm([1, 2, 3, 4, 5, 6, 7, 100]) == 4.5  # the middle half: 3, 4, 5, 6
    assert stats.iqm([21.7, 34.6]) == pytest.approx(28.15)


def test_clip_to_the_metric_range():
    iv = stats.clip(stats.interval([21.7, 34.6]), (0.0, 500.0), 28.15)
    assert iv.lo == 0.0 and iv.hi == pytest.approx(110.105, abs=1e-3)


def test_a_mean_outside_the_range_says_the_range_is_wrong_and_nothing_is_cut():
    whole = stats.interval([-1.0, -1.0])
    assert stats.clip(whole, (0.0, 500.0), -1.0) == whole  # cut, it was [0, -1]: lo above hi


def _cartpole_runs(make_run, values, kwargs=None):


    paths = []
    for seed, finals in enumerate(values):
        path = make_run("ppo_cartpole", seed, [(1000 * (i + 1), v, float(i)) for i, v in enumerate(finals)])
        config = yaml.safe_load((path / "config.yaml").read_text())
        config["env"] = {"id": "CartPole-v1", "n_envs": 8, **({"kwargs": kwargs} if kwargs else {})}
        (path / "config.yaml").write_text(yaml.safe_dump(config))
        paths.append(path)
    return paths


def test_cartpole_bounds_cut_the_table_and_the_band(make_run):
    paths = _cartpole_runs(make_run, [[10.0, 21.7], [480.0, 34.6]])
    runs = [read_run(p) for p in paths]
    assert metric_bounds(runs, "eval/return_mean") == (0.0, 500.0)
    assert metric_bounds(runs, "loss/value") is None
    _, (s,) = compare(runs, "eval/return_mean")
    assert s.bounds == (0.0, 500.0) and s.final.lo == 0.0 and s.final.hi == pytest.approx(110.105, abs=1e-3)
    steps, mean, lo, hi = band(Group("g", runs), "eval/return_mean", bounds=s.bounds)
    assert steps.tolist() == [1000, 2000]
    # step 1000: 10 and 480 -> 245 ± 12.71 * 235 would cross both 0 and 500
    assert (lo[0], hi[0]) == (0.0, 500.0) and mean[0] == 245.0
    assert (lo[1], hi[1]) == pytest.approx((0.0, 110.105), abs=1e-3)
    fig = curves_figure([Group("g", runs)], "eval/return_mean")
    (line,) = fig.axes[0].lines
    assert line.get_marker() == "o" and line.get_xdata().tolist() == [1000, 2000]  # evaluation points marked
    (poly,) = fig.axes[0].collections
    ys = np.concatenate([p.vertices[:, 1] for p in poly.get_paths()])
    assert ys.min() >= 0.0 and ys.max() <= 500.0
    assert "cut to [0, 500]" in fig.axes[0].get_title() and "t-interval" in fig.axes[0].get_title()


def test_cli_two_runs_with_bca_print_no_bootstrap_number(make_run, tmp_path, capsys):
    _cartpole_runs(make_run, [[10.0, 21.7], [480.0, 34.6]])
    png = tmp_path / "c.png"
    assert main(["compare", str(tmp_path / "ppo_cartpole"), "--ci", "bca", "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "BCa bootstrap interval" in out and "28.15 ± 9.122 [n=2: BCa needs 10+ runs]" in out
    assert "[21.7, 34.6]" not in out
    assert main(["compare", str(tmp_path / "ppo_cartpole"), "--out", str(png)]) == 0
    out = capsys.readouterr().out
    assert "28.15 ± 9.122 [0, 110.1]" in out and "IQM" in out and "[0, 500]" in out


def test_bounds_need_a_bounded_env_without_wrappers():
    from rlgen.envs.bounds import return_bounds

    assert return_bounds("CartPole-v1") == (0.0, 500.0)
    assert return_bounds("CartPole-v0") == (0.0, 200.0)
    assert return_bounds("CartPole-v1", {"max_episode_steps": 100}) == (0.0, 100.0)
    assert return_bounds("Acrobot-v1") == (-500.0, 0.0)
    assert return_bounds("Pendulum-v1") == pytest.approx((-3254.72, 0.0), abs=0.01)
    assert return_bounds("CartPole-v1", wrappers=["ClipReward"]) is None
    assert return_bounds("LunarLander-v3") is None and return_bounds("MountainCarContinuous-v0") is None


def test_kwargs_that_may_change_the_rewards_leave_no_range():
    from rlgen.envs.bounds import return_bounds

    assert return_bounds("CartPole-v1", {"sutton_barto_reward": True}) is None  # -1 on failure, 0 else
    assert return_bounds("Pendulum-v1", {"g": 9.81}) is None
    assert return_bounds("CartPole-v1", {"render_mode": "rgb_array", "max_episode_steps": 50}) == (0.0, 50.0)


@pytest.mark.parametrize("kwargs", [{"sutton_barto_reward": True}, None])
def test_sutton_barto_returns_are_not_cut_to_cartpoles_range(make_run, capsys, tmp_path, kwargs):
    # with kwargs the range is unknown; without (a config that hides the variant) the values say it is wrong
    _cartpole_runs(make_run, [[-1.0], [-1.0]], kwargs)
    runs = read_runs([str(tmp_path / "ppo_cartpole")])
    _, (s,) = compare(runs, "eval/return_mean")
    assert s.bounds is None and (s.final.lo, s.final.hi) == (-1.0, -1.0)
    assert main(["compare", str(tmp_path / "ppo_cartpole"), "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "cut to" not in out and "[-1, -1]" in out
