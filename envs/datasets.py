"""Data sources a GAN, an autoencoder or a classifier learns from: a 1-D Gaussian, 2-D mixtures,
sklearn's digits, sine sequences, env frames and observations, a regression problem.

A source is a small object with a `shape` (one sample), a `modality` ("points", "image" or
"sequence"), `n_classes` (0 = no labels) and `sample(batch, rng) -> (x, y)`: x is float32
(batch, *shape), y int64 (batch,) for classes (float32 for a regression target) or None. `Split`
cuts a fixed train / validation / test split for the kinds that hold data out. Everything is generated or bundled locally; nothing
downloads. Numpy only: the GAN moves batches to its device.

Sources are found by name in `rlgen.registry.SOURCES` (these arrive through rlgen's entry points,
a user's through theirs, or by import path `mypkg.shapes:Spiral`). A builder may declare
`modality` and `labeled` as attributes, so a config is checked before the source is built.

    src = make_source("ring8")
    x, _ = src.sample(512, np.random.default_rng(0))   # (512, 2)
"""

from __future__ import annotations

import os
from typing import Any, Callable, ClassVar, TypeVar

import numpy as np

# what callers took from here before the checks moved (tests/test_module_names.py) stays importable from here
from rlgen.envs.source_checks import (Batch, check_batch, check_rows_are_samples, modality_of,  # noqa: F401
                                      sample_from, shape_problems)
from rlgen.errors import RlgenError, first_line
from rlgen.registry import SOURCES

F = TypeVar("F", bound=Callable[..., Any])


def declares(modality: str, labeled: bool = False) -> Callable[[F], F]:
    """Mark a source builder with what it gives, for config checks before it is built."""

    def mark(fn: F) -> F:
        fn.modality, fn.labeled = modality, labeled  # type: ignore[attr-defined]
        return fn

    return mark


def _positive(source: str, **values: float) -> None:
    """Refuse a size of a built-in source that is not > 0: a negative std draws the same points as
    its absolute value, but the mode metrics (within 3 std of a centre) then read 0 even for real data."""
    for key, value in values.items():
        if not value > 0:  # NaN too
            raise RlgenError(f"data source {source!r}: data.kwargs.{key} is {value!r}, but it must be > 0; "
                             f"give a positive {key}")


class Mixture:
    """Equal-weight isotropic Gaussians; `modes` (K, D) are the centres, `std` their spread."""

    modality: ClassVar[str] = "points"
    n_classes: ClassVar[int] = 0

    def __init__(self, modes: np.ndarray, std: float):
        self.modes = np.asarray(modes, dtype=np.float32)
        self.std = float(std)
        self.shape = (self.modes.shape[1],)

    def sample(self, batch: int, rng: np.random.Generator) -> Batch:
        which = rng.integers(0, len(self.modes), size=batch)
        x = self.modes[which] + self.std * rng.standard_normal((batch, *self.shape), dtype=np.float32)
        return x.astype(np.float32), None


@declares("points")
def gaussian(mean: float = 3.0, std: float = 0.5) -> Mixture:
    """One 1-D Gaussian: the smallest GAN problem with a known answer (G's mean should reach `mean`)."""
    _positive("gaussian", std=std)
    return Mixture(np.array([[mean]]), std)


@declares("points")
def ring8(radius: float = 2.0, std: float = 0.02) -> Mixture:
    """8 Gaussians on a circle (Metz et al. 2017, Unrolled GAN; VEEGAN uses radius 2, std 0.02)."""
    _positive("ring8", radius=radius, std=std)
    angles = 2 * np.pi * np.arange(8) / 8
    return Mixture(radius * np.stack([np.cos(angles), np.sin(angles)], 1), std)


@declares("points")
def grid25(spacing: float = 2.0, std: float = 0.05) -> Mixture:
    """5x5 Gaussians at {-4, -2, 0, 2, 4}^2 with std 0.05 (VEEGAN; PacGAN section 4)."""
    _positive("grid25", spacing=spacing, std=std)
    axis = spacing * (np.arange(5) - 2)
    return Mixture(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), std)


class SwissRoll:
    """The 2-D swiss roll (sklearn's make_swiss_roll, (x, z) plane), scaled by 1/5 to about [-2.5, 3]."""

    modality: ClassVar[str] = "points"
    n_classes: ClassVar[int] = 0
    shape = (2,)

    def __init__(self, noise: float = 0.25):
        self.noise = float(noise)

    def sample(self, batch: int, rng: np.random.Generator) -> Batch:
        t = 1.5 * np.pi * (1 + 2 * rng.random(batch))
        x = np.stack([t * np.cos(t), t * np.sin(t)], 1) + self.noise * rng.standard_normal((batch, 2))
        return (x / 5.0).astype(np.float32), None


class ArrayData:
    """A fixed set of samples (and labels), drawn with replacement."""

    modality: ClassVar[str] = "image"

    def __init__(self, x: np.ndarray, y: np.ndarray | None, n_classes: int):
        self.x, self.y, self.n_classes = x.astype(np.float32), y, n_classes
        self.shape = tuple(x.shape[1:])

    def sample(self, batch: int, rng: np.random.Generator) -> Batch:
        idx = rng.integers(0, len(self.x), size=batch)
        return self.x[idx], (None if self.y is None else self.y[idx])


@declares("image", labeled=True)
def digits() -> ArrayData:
    """sklearn's bundled 8x8 digits (1,797 images, 10 classes) as (1, 8, 8) in [-1, 1]."""
    from sklearn.datasets import load_digits  # bundled with sklearn: no download

    d = load_digits()
    x = (d.images / 16.0 * 2.0 - 1.0)[:, None]  # (N, 1, 8, 8), pixel values 0..16 -> [-1, 1]
    return ArrayData(x, d.target.astype(np.int64), 10)


class Sines:
    """Sequences sin(2 pi f t / length + phase), (length, 1), f ~ U[freq], phase ~ U[0, 2 pi)
    (the sine task of Esteban et al. 2017, RCGAN)."""

    modality: ClassVar[str] = "sequence"
    n_classes: ClassVar[int] = 0

    def __init__(self, length: int = 32, freq: tuple[float, float] = (1.0, 3.0), amplitude: float = 0.8):
        self.length, self.freq, self.amplitude = int(length), tuple(freq), float(amplitude)
        # amplitude 0 draws one flat line, whose spread of 0 no diversity ratio can be read against
        _positive("sine", amplitude=self.amplitude)
        self.shape = (self.length, 1)

    def sample(self, batch: int, rng: np.random.Generator) -> Batch:
        f = rng.uniform(*self.freq, size=(batch, 1))
        phase = rng.uniform(0, 2 * np.pi, size=(batch, 1))
        t = np.arange(self.length)[None] / self.length  # (1, T)
        x = self.amplitude * np.sin(2 * np.pi * f * t + phase)  # (B, T)
        return x[..., None].astype(np.float32), None


@declares("image")
def frames(env_id: str = "CartPole-v1", n_frames: int = 512, size: int = 32, gray: bool = True,
           seed: int = 0) -> ArrayData:
    """`n_frames` screens of a gymnasium env under a random policy, resized to size x size, in [-1, 1].

    Collected once when the source is built (CartPole: about 1 ms a frame), so a GAN can learn to
    draw the game's screens.
    """
    import gymnasium as gym

    from rlgen.envs import ensure_registered
    from rlgen.envs.pixels import rgb_frame

    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render off-screen: no display, and no SDL complaint about one
    env = gym.make(ensure_registered(env_id), render_mode="rgb_array")
    rng = np.random.default_rng(seed)
    env.action_space.seed(seed)
    env.reset(seed=seed)
    shots = []
    try:
        while len(shots) < n_frames:
            # uint8 RGB, at least size x size (MinAtar renders 10x10 floats in [0, 1]); a smaller
            # frame would leave _resize's averaging bins empty
            shots.append(_resize(rgb_frame(env.render(), min_side=size), size, gray))
            _, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                env.reset(seed=int(rng.integers(2**31)))
    finally:
        env.close()
    x = np.stack(shots).astype(np.float32) / 127.5 - 1.0  # (N, C, size, size)
    return ArrayData(x, None, 0)


def _resize(frame: np.ndarray, size: int, gray: bool) -> np.ndarray:
    """(H, W, 3) uint8 -> (C, size, size) by area averaging over a centre-padded square."""
    h, w, _ = frame.shape
    side = max(h, w)
    square = np.full((side, side, 3), 255, dtype=np.float32)  # pad with white, the usual background
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = frame
    edges = np.linspace(0, side, size + 1).astype(int)
    rows = np.add.reduceat(square, edges[:-1], axis=0) / np.diff(edges)[:, None, None]
    small = np.add.reduceat(rows, edges[:-1], axis=1) / np.diff(edges)[None, :, None]  # (size, size, 3)
    if gray:
        small = small.mean(-1, keepdims=True)
    return small.transpose(2, 0, 1)


def observations(env_id: str = "MinAtar/Breakout-v1", n_frames: int = 20_000, seed: int = 0,
                 kwargs: dict[str, Any] | None = None) -> ArrayData:
    """`n_frames` observations of a gymnasium env under a random policy, as the agent sees them.

    Channel-last (H, W, C) frames (MinAtar's 10x10xC booleans) become (C, H, W), the layout of the
    CNN backbone and of rlgen's RL extractor; values stay as they are (bool -> 0 / 1). uint8
    pictures (Atari's) are scaled to [0, 1] and put channels first, as SB3 hands them to a policy
    (`preprocess_obs`, VecTransposeImage). Discrete and
    MultiDiscrete observations become one-hots (a FrozenLake cell: 16 numbers), as SB3's
    `preprocess_obs` hands them to a policy. An autoencoder or a GAN trained on them makes a
    backbone that fits an RL policy on the same env. They are not scaled by VecNormalize: a policy
    with `env.normalize.obs` reads its observations standardised, not as these are.
    """
    import gymnasium as gym

    from rlgen.envs import ensure_registered

    env = gym.make(ensure_registered(env_id), **(kwargs or {}))
    space = env.observation_space
    if not isinstance(space, (gym.spaces.Box, gym.spaces.Discrete, gym.spaces.MultiDiscrete, gym.spaces.MultiBinary)):
        env.close()
        raise RlgenError(f"data source 'observations': {env_id} observes {space}, but this source takes Box, "
                         "Discrete, MultiDiscrete or MultiBinary observations; give data.kwargs.env_id an env whose "
                         "observations are one of those (one registered with gymnasium's FlattenObservation)")
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    shots = []
    try:
        while len(shots) < n_frames:
            shots.append(np.asarray(obs))
            obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
            if terminated or truncated:
                obs, _ = env.reset()
    finally:
        env.close()
    x = as_policy_reads(np.stack(shots), space)
    if x.ndim == 4 and channel_last(np.asarray(obs)):
        x = x.transpose(0, 3, 1, 2)  # (N, C, H, W)
    source = ArrayData(x, None, 0)
    source.modality = "image" if x.ndim == 4 else "sequence" if x.ndim == 3 else "points"  # type: ignore[misc]
    return source


def as_policy_reads(obs: np.ndarray, space: Any) -> np.ndarray:
    """A batch of observations (N, *shape) as SB3 hands them to a policy: its `preprocess_obs`
    (float; uint8 pictures / 255; Discrete and MultiDiscrete one-hot), pictures channels first as
    its VecTransposeImage puts them."""
    import torch
    from gymnasium import spaces
    from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first, preprocess_obs

    x = preprocess_obs(torch.as_tensor(obs), space).numpy().astype(np.float32)
    if isinstance(space, spaces.Box) and is_image_space(space) and not is_image_space_channels_first(space):
        x = x.transpose(0, 3, 1, 2)  # (N, C, H, W)
    return x


def channel_last(obs: np.ndarray) -> bool:
    """An (H, W, C) frame of booleans (MinAtar, grid worlds): rlgen's CNN reads them as (C, H, W).
    uint8 pictures are left to SB3's own image handling (VecTransposeImage)."""
    return obs.ndim == 3 and obs.dtype == np.bool_


@declares("points", labeled=False)
def friedman1(n_samples: int = 2000, noise: float = 1.0, seed: int = 0) -> ArrayData:
    """Friedman's regression problem #1 (sklearn's make_friedman1): 10 features in [0, 1], of which
    5 matter, y = 10 sin(pi x0 x1) + 20 (x2 - 0.5)^2 + 10 x3 + 5 x4 + noise; y is the float target."""
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=n_samples, noise=noise, random_state=seed)
    source = ArrayData(x.astype(np.float32), y.astype(np.float32), 0)
    source.modality = "points"  # type: ignore[misc]
    source.regression = True  # type: ignore[attr-defined]  # y is a float target, not a class
    return source


class Split:
    """A fixed train / validation / test split of a source.

    A finite source (one with `x` and `y` arrays, like `digits`) is shuffled once with `seed` and
    cut; training then samples its own part, and the source's own sample() is never called, so `x`
    must hold what sample() gives (`check_rows_are_samples`, which the kinds call first). An
    endless one (a generator such as `sine`) keeps sampling fresh training batches, and validation
    and test are fixed draws of `n_held_out` samples each. The same `seed` gives the same split
    whatever the run's seed, so runs compare.
    """

    def __init__(self, source: Any, validation: float = 0.2, test: float = 0.0, seed: int = 0,
                 n_held_out: int = 1000, name: str | None = None):
        self.source, self.name = source, name or type(source).__name__  # `name`: the source as configured
        self.shape, self.modality = tuple(source.shape), modality_of(source)
        self.n_classes = int(getattr(source, "n_classes", 0) or 0)
        x, y = getattr(source, "x", None), getattr(source, "y", None)
        rng = np.random.default_rng(seed)
        self._checked = False  # whether the first training batch was checked (sample)
        if isinstance(x, np.ndarray):
            y = None if y is None else np.asarray(y)
            if not len(x):  # a file or query that read nothing: the source's arguments, not the split's shares
                raise RlgenError(f"data source {self.name!r} holds no samples (its `x` is empty); check data.kwargs "
                                 "(the file or arguments it reads)")
            order = rng.permutation(len(x))
            n_val, n_test = int(round(validation * len(x))), int(round(test * len(x)))
            if len(x) - n_val - n_test < 1:
                raise RlgenError(f"data: validation {validation} + test {test} leave no training samples of {len(x)}")
            parts = np.split(order, [n_val, n_val + n_test])
            self.validation, self.test = (self._take(x, y, idx) for idx in parts[:2])
            for held_x, held_y in (self.validation, self.test):  # what evaluation reads, held to the contract
                if len(held_x):
                    check_batch(self.name, self, held_x, held_y, len(held_x))
            self.train: Any = ArrayData(x[parts[2]], None if y is None else y[parts[2]], self.n_classes)
            # checked whole, once: every training batch is rows of it
            check_batch(self.name, self, self.train.x, self.train.y, len(self.train.x))
            self._finite = True
        else:
            none = self._take(None, None, [])
            self.validation = sample_from(self.name, source, n_held_out, rng) if validation > 0 else none
            self.test = sample_from(self.name, source, n_held_out, rng) if test > 0 else none
            self.train = source
            self._finite = False

    def _take(self, x: np.ndarray | None, y: np.ndarray | None, idx: Any) -> Batch:
        if x is None:
            return np.zeros((0, *self.shape), np.float32), None
        return x[idx].astype(np.float32), (None if y is None else y[idx])

    def sample(self, batch: int, rng: np.random.Generator) -> Batch:
        """A training batch. A finite source's are rows of its training part, checked whole when the
        split was made; an endless source's are checked against the split's declaration (the source's
        shape and classes), the first and every later one, which its sample() may change part way."""
        x, y = sample_from(self.name, self.train, batch, rng, check=False, first=not self._checked)
        if not self._finite:
            check_batch(self.name, self, x, y, batch, first=not self._checked)
        self._checked = True
        return x, y


def make_source(name: str, **kwargs: Any) -> Any:
    """The source `name` (registered or an import path) built with `kwargs`, its shape, modality
    and n_classes (an int >= 0, or None) checked."""
    builder = SOURCES.get(name)
    try:
        source = builder(**kwargs)
    except TypeError as e:
        raise RlgenError(f"data source {name!r}: {e} (check data.kwargs)") from None
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever the source's own code refuses
        raise RlgenError(f"data source {name!r} could not be built: {type(e).__name__}: {first_line(e)} "
                         "(check data.kwargs)") from None
    missing = [a for a in ("shape", "modality", "sample") if getattr(source, a, None) is None]
    if missing:
        raise RlgenError(f"data source {name!r} built a {type(source).__name__} without {', '.join(missing)}; "
                         "a source has shape, modality ('points' | 'image' | 'sequence'), n_classes and "
                         "sample(batch, rng)")
    if modality_of(source) is None:
        raise RlgenError(f"data source {name!r} built a {type(source).__name__} with modality {source.modality!r}; "
                         "a source's modality is 'points', 'image' or 'sequence'")
    # a count, as rlgen's own counts are (whole_count refuses a float, 3.0 too); None or missing: no labels.
    # A float reached the networks' sizes, and their error named the generator, not the source
    n_classes = getattr(source, "n_classes", None)
    if n_classes is not None and (isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer))
                                  or n_classes < 0):
        raise RlgenError(f"data source {name!r} built a {type(source).__name__} with n_classes {n_classes!r}; "
                         "n_classes is a whole number of classes, 0 for none (an int, not a float: check the "
                         "source and data.kwargs)")
    return source
