"""Intervals and averages over a few runs, honest about how few they are.

With 2 seeds at 21.7 and 34.6 a percentile bootstrap can only resample {21.7, 28.15, 34.6} and
prints [21.7, 34.6]; the t-interval of the mean (Student, n - 1 degrees of freedom) is 28.15 ± 82.
`interval(values, "t")` needs 2 runs; `interval(values, "bca")` (scipy's bias-corrected and
accelerated bootstrap, Efron 1987) needs `MIN_BOOTSTRAP` runs, below which it says so instead of
printing a number. `iqm` is the interquartile mean across runs that rliable reports (Agarwal et
al. 2021): the mean of the middle 50%, robust to one outlier seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
from scipy import stats as sps

Method = Literal["t", "bca"]
LEVEL = 0.95
MIN_T = 2  # a sample standard deviation needs two values
MIN_BOOTSTRAP = 10  # fewer distinct resamples than this make a bootstrap interval too narrow (Efron & Tibshirani 1993)


@dataclass(frozen=True)
class Interval:
    lo: float
    hi: float
    method: Method
    note: str = ""  # why there is no interval (too few runs), else ""

    @property
    def ok(self) -> bool:
        return not self.note


def interval(values: Sequence[float], method: Method = "t", level: float = LEVEL) -> Interval:
    """A `level` confidence interval of the mean of `values`, or an Interval with a note saying
    why there is none."""
    v = np.asarray(values, dtype=float)
    n = len(v)
    need = MIN_T if method == "t" else MIN_BOOTSTRAP
    if n < need:
        what = "a t-interval" if method == "t" else "BCa"
        return Interval(math.nan, math.nan, method, f"n={n}: {what} needs {need}+ runs")
    if method == "t":
        return Interval(*t_interval(v, level), "t")
    return Interval(*bca_interval(v, level), "bca")


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float]:
    """mean ± t_{n-1, (1+level)/2} · s / sqrt(n)."""
    v = np.asarray(values, dtype=float)
    half = sps.t.ppf((1 + level) / 2, len(v) - 1) * v.std(ddof=1) / math.sqrt(len(v))
    return float(v.mean() - half), float(v.mean() + half)


def bca_interval(values: Sequence[float], level: float = LEVEL, n_resamples: int = 4000,
                 seed: int = 0) -> tuple[float, float]:
    """scipy's BCa bootstrap interval of the mean; seeded so that one comparison prints one answer."""
    v = np.asarray(values, dtype=float)
    if np.all(v == v[0]):  # no spread: the bootstrap distribution is one point
        return float(v[0]), float(v[0])
    res = sps.bootstrap((v,), np.mean, confidence_level=level, n_resamples=n_resamples, method="BCa",
                        random_state=np.random.default_rng(seed))
    return float(res.confidence_interval.low), float(res.confidence_interval.high)


def iqm(values: Sequence[float]) -> float:
    """Interquartile mean: the mean after dropping the lowest and highest 25% (rliable's IQM)."""
    v = np.asarray(values, dtype=float)
    return float(sps.trim_mean(v, 0.25)) if len(v) else math.nan


def clip(iv: Interval, bounds: tuple[float, float] | None, mean: float) -> Interval:
    """The interval cut to the values the metric can take: the true mean lies inside them, so the
    cut interval covers it as often as the whole one does. A sample `mean` outside them says the
    range is wrong (an env variant it does not fit), and then nothing is cut."""
    if bounds is None or not iv.ok or not bounds[0] <= mean <= bounds[1]:
        return iv
    return Interval(max(iv.lo, bounds[0]), min(iv.hi, bounds[1]), iv.method)
