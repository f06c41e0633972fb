"""The contract of a data source, checked: a sample's shape against its modality, a finite
source's rows against its own sample(), a batch against the source's declaration, and sample()
called so that whatever goes wrong is one line naming the source. The built-in sources, `Split`
and `make_source` are in rlgen.envs.datasets, which re-exports these names."""

from __future__ import annotations

from typing import Any

import numpy as np

from rlgen.errors import RlgenError, first_line

# what sample(batch, rng) returns: x (batch, *shape), and labels, targets or None
Batch = tuple[np.ndarray, "np.ndarray | None"]


def shape_problems(name: str, modality: str, shape: Any) -> list[str]:
    """A source's sample shape against its modality, as every kind's networks, metrics and pictures
    read it: an image is (channels, height, width), a sequence (steps, features), points any shape
    of one or more dimensions (an mlp reads it flattened). Every dimension is a positive int."""
    where = f"data.source: {name!r} gives {modality} samples of shape"
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else ()
    if not dims or not all(isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > 0 for n in dims):
        return [f"{where} {shape!r}, but a sample's shape is a tuple of one or more positive ints "
                "(check the source's shape and data.kwargs)"]
    dims = tuple(int(n) for n in dims)
    if modality == "sequence" and len(dims) != 2:
        wanted = "a sequence sample is (steps, features)"
        fixed, how = ((dims[0], 1), "one feature per step") if len(dims) == 1 else \
            ((dims[0], int(np.prod(dims[1:]))), "each step's features flattened")
    elif modality == "image" and len(dims) != 3:
        wanted = "an image sample is (channels, height, width)"
        if len(dims) == 1:
            return [f"{where} {dims}, but {wanted}; a vector of {dims[0]} numbers is modality 'points'"]
        fixed, how = ((1, *dims), "one channel") if len(dims) == 2 else \
            ((int(np.prod(dims[:-2])), *dims[-2:]), "the leading axes folded into channels")
    else:
        return []
    batch = "(batch, " + ", ".join(map(str, fixed)) + ")"
    return [f"{where} {dims}, but {wanted}: give shape {fixed} ({how}), sample() returning {batch}"]


def check_rows_are_samples(name: str, source: Any, seed: int = 0, n: int = 8, targets: bool = True) -> None:
    """A finite source's `x` / `y` against a few draws of its own sample(): a split (`Split`) cuts its
    parts from `x` / `y` and uses those rows as they are (as float32), never through sample(), so
    what sample() gives must be rows of them as stored: not rescaled there (uint8 `x` divided by 255
    in sample()), not augmented, not relabelled (with `targets`: a kind that reads `y`). The draws
    are compared as float32, whatever dtype sample() gives; rows are found by a fingerprint (one
    pass over `x` in chunks, no copy of it), then compared exactly. One line naming the source."""
    x, y = getattr(source, "x", None), getattr(source, "y", None)
    if not isinstance(x, np.ndarray) or not len(x) or x.shape[1:] != tuple(source.shape) or not x[0].size:
        return  # not finite, or its shape is wrong: the split's own checks say so
    if x.dtype.kind not in "biuf":
        raise RlgenError(f"data source {name!r}: its `x` holds {x.dtype}, not numbers")
    labels = None if y is None or not targets else np.asarray(y)
    if labels is not None and (labels.ndim == 0 or len(labels) != len(x)):
        raise RlgenError(f"data source {name!r}: `y` holds {labels.size if labels.ndim == 0 else len(labels)} "
                         f"targets for the {len(x)} rows of `x`; give one target per row")
    n = min(n, len(x))  # a small source may draw without replacement
    got_x, got_y = sample_from(name, source, n, np.random.default_rng(seed), check=False)
    try:
        drawn = np.asarray(got_x, dtype=np.float32)
    except (TypeError, ValueError):
        return  # not numbers: the split's check of its first batch says so
    if drawn.shape != (n, *x.shape[1:]):
        return  # another shape: the same
    drawn = drawn.reshape(n, -1)
    rows = x.reshape(len(x), -1)
    probe = np.random.default_rng(0).standard_normal(rows.shape[1])
    finger = np.concatenate([np.nan_to_num(rows[k:k + 1024].astype(np.float32).astype(np.float64)) @ probe
                             for k in range(0, len(rows), 1024)])
    wanted = np.nan_to_num(drawn.astype(np.float64)) @ probe
    scale = 1e-6 * (np.abs(finger).max() + 1.0)
    for i, row in enumerate(drawn):
        near = np.flatnonzero(np.abs(finger - wanted[i]) <= scale)  # then exactly, as the split reads them
        hit = np.array([k for k in near if np.array_equal(rows[k].astype(np.float32), row, equal_nan=True)], int)
        if not len(hit):
            raise RlgenError(
                f"data source {name!r}: sample() gave a sample that is no row of its `x` (`x` as float32 spans "
                f"[{np.nanmin(rows):g}, {np.nanmax(rows):g}], sample() gave [{np.nanmin(drawn):g}, {np.nanmax(drawn):g}]); "
                "the pretraining kinds cut their fixed train / validation / test split from `x` and `y` and use those "
                "rows as they are, never sample(), so keep in `x` exactly what sample() gives (already scaled, "
                "no augmentation), or rename `x` to make the source endless (every batch drawn by sample())")
        if targets and (labels is None) != (got_y is None):
            has, lacks = ("sample()", "`y` is None") if labels is None else ("`y`", "sample() gives None")
            raise RlgenError(f"data source {name!r}: {has} gives targets but {lacks}; the supervised kind reads "
                             "`x` and `y` directly, so keep in `y` exactly the targets sample() gives")
        if labels is None:
            continue
        want = np.asarray(got_y[i]).reshape(-1)
        if not (labels[hit].reshape(len(hit), -1).astype(want.dtype) == want).all(1).any():
            raise RlgenError(
                f"data source {name!r}: sample() gave a target ({got_y[i]}) that `y` does not hold for that "
                f"row of `x` ({labels[hit[0]]}); the supervised kind reads `x` and `y` directly, so keep in "
                "`y` exactly the targets sample() gives")


def modality_of(source: Any) -> str | None:
    """"points", "image" or "sequence" for a source or its builder; None when it does not say."""
    value = getattr(source, "modality", None)
    return value if value in ("points", "image", "sequence") else None


_CHANGES = "what the source's sample() gives changes part way"
_TURNS_NON_FINITE = "the source's data turns non-finite part way"


def _drawn_later(first: bool, changed: str = _CHANGES) -> str:
    """What a refusal of a batch adds when it was drawn during training after the first."""
    return "" if first else f" (a batch drawn during training, not the first: {changed})"


def check_batch(name: str, source: Any, x: Any, y: Any, batch: int, first: bool = True) -> None:
    """A batch against the source's own declaration: `batch` rows of `shape`, float32, finite, and
    labels when it has classes (int64, 0 to n_classes - 1), else targets of numbers that stay finite
    as the float32 training reads them; one line naming the source when it breaks its contract.
    Cheap enough for every training batch (a pass over its floats for finiteness, a min and max of
    its labels); `first` False: a batch drawn during training after the first, which the line says
    (the source's output changed part way)."""

    def refusal(problem: str, changed: str = _CHANGES) -> RlgenError:
        return RlgenError(f"data source {name!r}{problem}{_drawn_later(first, changed)}")

    shape = tuple(source.shape)
    if not isinstance(x, np.ndarray) or x.shape != (batch, *shape):
        got = f"an array of shape {x.shape}" if isinstance(x, np.ndarray) else f"a {type(x).__name__}"
        raise refusal(f": sample({batch}, rng) gave {got}, not ({batch}, *shape) = {(batch, *shape)}")
    if x.dtype != np.float32:
        raise refusal(f": samples are {x.dtype}, not float32 (cast them in sample())")
    if not np.isfinite(x).all():
        # data that goes bad mid-run (a file read past its end, a sensor's gap): the source's fault
        # by name, not a divergence of the networks
        raise refusal(": a sample holds NaN or infinity", _TURNS_NON_FINITE)
    n_classes = int(getattr(source, "n_classes", 0) or 0)
    if n_classes > 0:
        if not isinstance(y, np.ndarray) or y.shape != (batch,):
            got = None if y is None else np.shape(y)
            raise refusal(f" has {n_classes} classes, so sample() returns ({batch},) labels beside the samples; "
                          f"it gave {got}")
        if y.dtype != np.int64:
            raise refusal(f": labels are {y.dtype}, not int64 (cast them in sample())")
        if batch and (y.min() < 0 or y.max() >= n_classes):
            raise refusal(f" has {n_classes} classes, so labels run from 0 to {n_classes - 1}; it gave labels "
                          f"from {y.min()} to {y.max()}")
    elif y is not None:  # a regression target, or labels the source does not count as classes
        if not isinstance(y, np.ndarray) or y.shape[:1] != (batch,):
            got = f"an array of shape {y.shape}" if isinstance(y, np.ndarray) else f"a {type(y).__name__}"
            raise refusal(f": sample({batch}, rng) gave {got} as targets, not {batch} rows (or None)")
        if y.dtype.kind not in "biuf":  # text or objects: torch takes no such tensor (as_tensor's TypeError)
            raise refusal(f": targets are {y.dtype}, not numbers; sample() gives numeric targets (float32 for "
                          "regression, int64 labels with n_classes > 0) or None")
        with np.errstate(over="ignore"):  # a value past float32's range becomes inf, which is the point
            as_trained = y.astype(np.float32)  # as the losses read them: float64 1e39 is inf there
        if not np.isfinite(as_trained).all():
            raise refusal(": a target holds NaN or infinity, or a value beyond float32's range (3.4e38) that "
                          "training would read as infinity", _TURNS_NON_FINITE)


def sample_from(name: str, source: Any, batch: int, rng: np.random.Generator, check: bool = True,
                first: bool = True) -> Batch:
    """`source.sample(batch, rng)` for the kinds: an exception the source raises becomes one line
    naming it, and with `check` the batch is held to the source's declaration (check_batch): every
    batch the kinds draw, training's and evaluation's; `first` False: one drawn during training
    after the first, which a refusal says. Without `check` (a caller that checks the batch against
    another declaration, or compares it itself), a pair is all it asks of it."""
    try:
        out = source.sample(batch, rng)
    except RlgenError:
        raise
    except StopIteration:  # a finite stream behind sample() (next(it) on a file, a loader) that ended
        raise RlgenError(f"data source {name!r}: sample({batch}, rng) ran out of data (StopIteration); make sample() "
                         f"endless, e.g. restart its iterator when it ends{_drawn_later(first)}") from None
    except Exception as e:  # noqa: BLE001 - whatever the source's own code raises
        raise RlgenError(f"data source {name!r}: sample({batch}, rng) raised {type(e).__name__}: "
                         f"{first_line(e)} (check the source and data.kwargs)") from None
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        got = f"an array of shape {out.shape}" if isinstance(out, np.ndarray) else f"a {type(out).__name__}"
        raise RlgenError(f"data source {name!r}: sample({batch}, rng) gave {got}, not a pair (x, labels or None)"
                         f"{_drawn_later(first)}")
    x, y = out
    if check:
        check_batch(name, source, x, y, batch, first)
    return x, y
