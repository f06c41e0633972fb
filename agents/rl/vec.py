"""SB3 vector envs from an `EnvConfig`: copies, dummy or subprocess, frame stacking, normalization, history."""

from __future__ import annotations

import signal
import warnings
from typing import Any

import gymnasium as gym
import numpy as np

from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import (DummyVecEnv, SubprocVecEnv, VecEnv, VecFrameStack, VecNormalize,
                                              unwrap_vec_normalize)

from rlgen.agents.rl.evaluation import EpisodeMonitor
from rlgen.agents.rl.history import VecHistory
from rlgen.envs import FLAT_SPACES, make_env_fn, nonzero_start, shown_space
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError, first_line


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def make_vec_env(
    cfg: EnvConfig, seed: int, *, training: bool = True, gamma: float = 0.99, render_mode: str | None = None
) -> VecEnv:
    """`cfg.n_envs` copies of the env, seeded seed, seed+1, ..., each one `gymnasium.make`, SB3's
    Monitor, then `env.wrappers`, the order of SB3's and rl-zoo3's `make_vec_env`: training and
    evaluation returns are the env's own (an Atari game's raw score, not AtariWrapper's clipped
    reward per life). Evaluation copies (`training=False`) keep the episodes a wrapper cuts short
    (agents/rl/evaluation.py)."""
    thunk = make_env_fn(cfg.id, cfg.kwargs, cfg.wrappers, render_mode, monitor=Monitor if training else EpisodeMonitor)
    subproc = cfg.vectorize == "subproc" and cfg.n_envs > 1
    # Workers must not die on the Ctrl-C or SIGTERM meant for the trainer, which checkpoints and
    # stops them (a scheduler's scancel or systemd signals the whole process group); they inherit
    # both ignored when started while they are ignored, and exit when the trainer closes their pipes.
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS} if subproc else None
    try:
        if subproc or training:  # a bad kwarg fails here with its own message, not as a worker's broken pipe
            _probe(thunk, cfg.id, seed)
        copies = [_seeded(thunk, seed + rank) for rank in range(cfg.n_envs)]
        vec = SubprocVecEnv(copies, start_method="fork") if subproc else DummyVecEnv(copies)
        vec.seed(seed)  # each copy's first reset: seed + rank
    except RlgenError:
        raise
    except gym.error.Error as e:  # a missing extra (box2d, atari), a bad kwarg: one readable line
        raise RlgenError(f"could not create env {cfg.id!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a kwarg or wrapper argument the env refuses (TypeError, ValueError, KeyError, ...)
        raise RlgenError(f"could not create env {cfg.id!r} (check env.kwargs and env.wrappers): "
                         f"{type(e).__name__}: {first_line(e)}") from None
    finally:
        for sig, handler in (previous or {}).items():
            signal.signal(sig, handler)
    return wrap_vec_env(vec, cfg, training=training, gamma=gamma)


def _seeded(thunk: Any, seed: int) -> Any:
    def make() -> gym.Env:
        env = thunk()
        env.action_space.seed(seed)  # the agent's space (DQN's exploration draws from it); the env's own at reset
        return env

    return make


def _probe(thunk: Any, env_id: str, seed: int) -> None:
    """One copy made and reset apart from the vector env: an observation that does not fit the
    env's own observation_space is one line here, not numpy's broadcast error inside SB3."""
    env = thunk()
    try:
        obs, _ = env.reset(seed=seed)
        space = env.observation_space
        shape = getattr(space, "shape", None)
        if isinstance(space, FLAT_SPACES) and shape is not None and np.shape(obs) != tuple(shape):
            raise RlgenError(f"env {env_id!r}: reset() returned an observation of shape {np.shape(obs)}, but its "
                             f"observation_space is {space}; the env must return what its space declares")
    finally:
        env.close()


def wrap_vec_env(vec: VecEnv, cfg: EnvConfig, *, training: bool = True, gamma: float = 0.99) -> VecEnv:
    """The observation pipeline of `cfg` around a vector env: frame stack, normalization, history."""
    space = vec.observation_space  # SB3's wrappers check it; their refusal becomes one line with the fix
    if cfg.frame_stack:
        try:
            vec = VecFrameStack(vec, cfg.frame_stack)
        except (AssertionError, ValueError):
            vec.close()
            raise RlgenError(f"env.frame_stack: {cfg.id} observes {space}; frames stack for Box observations "
                             "(flatten others with env.wrappers: [FlattenObservation])") from None
    if cfg.normalize is not None:
        n = cfg.normalize
        try:
            vec = VecNormalize(vec, training=training, norm_obs=n.obs, norm_reward=n.reward and training,
                               clip_obs=n.clip_obs, clip_reward=n.clip_reward, gamma=gamma)
        except ValueError:
            vec.close()
            raise RlgenError(f"env.normalize.obs: {cfg.id} observes {space}, which has no scale to normalize; set "
                             "env.normalize.obs: false (or env.normalize: null)") from None
    if cfg.history is not None:  # outermost: it windows normalized observations, its flags stay 0/1
        vec = VecHistory(vec, cfg.history.length, cfg.history.actions, cfg.history.rewards)
    return vec


def float_frames_problem(vec: VecEnv, backbone_type: str | None) -> str | None:
    """Why a cnn backbone cannot read the observations of `vec` as they are, or None: float (H, W, C)
    frames whose last axis is 1, 3 or 4 and whose first is larger, plainly pixels channels last
    (AtariPreprocessing's scale_obs with grayscale_newaxis: (84, 84, 1) float32). SB3 moves only uint8
    images channels first (`is_image_space`), and the extractor takes any other 3-D Box as (C, H, W)
    planes: 84 channels of 84x1. Checked before training, not when a finished run is opened (as
    `normalized_images_problem`, whose float frames are these too): one trained so before still loads."""
    space = vec.observation_space
    if backbone_type != "cnn" or not isinstance(space, gym.spaces.Box) or len(space.shape) != 3:
        return None
    first, second, last = space.shape
    # channels last by SB3's own reading of an image (the smallest axis is the channels'): (84, 84, 1)
    # is, a board's (16, 4, 4) planes are not
    if space.dtype.kind != "f" or last not in (1, 3, 4) or min(first, second) <= last:
        return None
    return (f"observation space {space}: float frames channels last, which a cnn would read as {first} channels of "
            f"{space.shape[1]}x{last}; give uint8 frames (drop AtariPreprocessing's scale_obs: SB3 scales them to "
            "[0, 1] and puts them channels first) or put the channels first with an env wrapper")


def stacked_frames_problem(space: gym.Space, k: int | None) -> str | None:
    """Why `k` stacked frames of `space` would be read in another layout than the frames', or None.
    VecFrameStack stacks on the channel axis as SB3 reads a frame (`is_image_space_channels_first`:
    the smallest axis is the channels'), and SB3 reads the stack by the same rule: where the stack's
    channel axis is no longer its smallest, the CNN reads rows as channels, silently. 4 stacked
    (8, 10, 3) frames are (8, 10, 12), read as 8 channels of 10x12; 4 stacked (10, 10, 10) planes
    (BinaryFrames of MinAtar) are (40, 10, 10), read as channels last. Stacks SB3 reads right,
    Atari's (84, 84, 4), are no problem. Checked for new runs only: one trained so before still
    opens and resumes as it was."""
    if not k or not is_image_space(space, check_channels=False):
        return None
    with warnings.catch_warnings():  # "second dimension was smallest": SB3 says it where it builds the model
        warnings.simplefilter("ignore", UserWarning)
        first = is_image_space_channels_first(space)
        axis = 0 if first else -1
        stacked = list(space.shape)
        stacked[axis] *= k
        if is_image_space_channels_first(gym.spaces.Box(0, 255, tuple(stacked), np.uint8)) == first:
            return None
    channels, shape = stacked[axis], tuple(stacked)
    read = "first" if not first else "last"
    return (f"env.frame_stack: {k} stacked {tuple(space.shape)} frames are {shape}, and SB3 reads a stack whose "
            f"{channels} channels are not its smallest axis as channels {read}, so the CNN would read rows as "
            "channels; stack fewer frames, or make the channels fewer (GrayscaleObservation: {keep_dim: true}) or "
            "the frames larger (ResizeObservation)")


def normalized_images_problem(vec: VecEnv, cfg: EnvConfig) -> str | None:
    """What is wrong with `env.normalize.obs` over image observations, or None: VecNormalize turns a
    uint8 image Box into a float one that is no longer an image space, so SB3 would neither scale it
    nor move its channels first, and a CNN would read rows as channels (SB3's NatureCNN refuses it).
    Checked before training, not when a finished run is opened: one trained so before still loads."""
    norm = unwrap_vec_normalize(vec)
    if norm is None or not norm.norm_obs or not is_image_space(norm.venv.observation_space, check_channels=False):
        return None
    return (f"env.normalize.obs: {cfg.id} observes images {norm.venv.observation_space}; the policy already scales "
            "images to [0, 1]; set env.normalize.obs: false")


def space_problem(env: VecEnv, target: str) -> str | None:
    """Why SB3 cannot take the spaces of `env` as they are (`target` names it: "env 'CartPole-v1'"),
    or None: an observation that is not an array, or choices not numbered from 0 (`nonzero_start`)."""
    obs, act = env.observation_space, env.action_space
    if not isinstance(obs, FLAT_SPACES):
        return (f"{target} observes {obs}, which rlgen's policies do not take (Box, Discrete, MultiDiscrete or "
                "MultiBinary); flatten it: env.wrappers: [FlattenObservation]")
    if (odd := nonzero_start(obs)) is not None:  # not under env.history: its window (a Box) encodes from the start
        return (f"{target} observes {shown_space(odd)}, not numbered from 0, and SB3 one-hot encodes choices "
                "0..n-1; use env.wrappers: [FlattenObservation] (one-hot from the space's start) or env.history "
                "(its window encodes from the start)")
    if (odd := nonzero_start(act)) is not None:
        return (f"{target} acts in {shown_space(odd)}, not numbered from 0, and SB3 picks actions 0..n-1 whatever "
                "the start; rlgen registers no wrapper that shifts it: add your own gymnasium ActionWrapper to "
                "env.wrappers (action_space numbered from 0, action() adding the start back)")
    return None
