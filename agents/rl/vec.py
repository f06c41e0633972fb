"""SB3 vector envs from an `EnvConfig`: copies, dummy or subprocess, frame stacking, normalization, history."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
import warnings
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any, Callable

import gymnasium as gym
import numpy as np

from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import (DummyVecEnv, SubprocVecEnv, VecEnv, VecFrameStack, VecNormalize,
                                              unwrap_vec_normalize)

from rlgen.agents.rl.evaluation import EpisodeMonitor
from rlgen.agents.rl.history import VecHistory
from rlgen.envs import FLAT_SPACES, make_env_fn, nonzero_start, shown_space
from rlgen.envs.recording import gym_mask
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError, first_line
from rlgen.process import process_state_kept


_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_PARENT_POLL_S = 1.0  # how often a subprocess worker looks whether its trainer is still there
_WORKER_POLL_S = 0.5  # how often the trainer, waiting on a worker's answer, looks whether the worker died


def make_vec_env(
    cfg: EnvConfig, seed: int, *, training: bool = True, gamma: float = 0.99, render_mode: str | None = None,
    section: str = "env",
) -> VecEnv:
    """`cfg.n_envs` copies of the env, seeded seed, seed+1, ..., each one `gymnasium.make`, SB3's
    Monitor, then `env.wrappers`, the order of SB3's and rl-zoo3's `make_vec_env`: training and
    evaluation returns are the env's own (an Atari game's raw score, not AtariWrapper's clipped
    reward per life). Evaluation copies (`training=False`) keep the episodes a wrapper cuts short
    (agents/rl/evaluation.py). `section` names the config section `cfg` came from ("env",
    "eval_env") in what an env that cannot be made says to check."""
    thunk = make_env_fn(cfg.id, cfg.kwargs, cfg.wrappers, render_mode, monitor=Monitor if training else EpisodeMonitor)
    subproc = cfg.vectorize == "subproc" and cfg.n_envs > 1
    # Workers must not die on the Ctrl-C or SIGTERM meant for the trainer, which checkpoints and
    # stops them (a scheduler's scancel or systemd signals the whole process group); they inherit
    # both ignored when started while they are ignored, and exit when the trainer closes their pipes
    # or, killed (SIGKILL), is gone (`_exits_with`).
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in _STOP_SIGNALS} if subproc else None
    try:
        # every section's envs, evaluation's too: a bad kwarg or an observation that breaks the env's
        # own space fails here with its own message, not as a worker's broken pipe or mid-run
        _probe(thunk, cfg.id, section, seed)
        copies = [_seeded(thunk, seed + rank) for rank in range(cfg.n_envs)]
        target = f"{section} {cfg.id!r}"
        if subproc:
            vec: VecEnv = _WatchedSubprocVecEnv([_exits_with(copy, os.getpid()) for copy in copies], target)
        else:
            vec = _CheckedDummyVecEnv(copies, target)
        vec.seed(seed)  # each copy's first reset: seed + rank
    except RlgenError:
        raise
    except gym.error.Error as e:  # a missing extra (box2d, atari), a bad kwarg: one readable line
        raise RlgenError(f"could not create {section} {cfg.id!r}: {e}") from None
    except Exception as e:  # noqa: BLE001 - a kwarg or wrapper argument the env refuses (TypeError, ValueError, KeyError, ...)
        raise RlgenError(f"could not create {section} {cfg.id!r} (check {section}.kwargs and {section}.wrappers): "
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


def _exits_with(thunk: Any, trainer: int) -> Any:
    """`thunk` for a SubprocVecEnv worker that exits once `trainer`, the process that forks it, is
    gone. A trainer killed outright (SIGKILL, the OOM killer) never closes the workers' pipes, and
    each worker holds the others' pipe ends (all are forked from one trainer), so none reads EOF;
    they ignore SIGTERM too (`make_vec_env`): without this they live on. A thread that watches the
    parent, not Linux's PR_SET_PDEATHSIG (prctl(2)): that fires when the forking *thread* ends, and
    works on Linux alone."""
    def make() -> gym.Env:
        threading.Thread(target=_watch_parent, args=(trainer,), name="rlgen-parent-watch", daemon=True).start()
        return thunk()

    return make


def _watch_parent(trainer: int) -> None:
    while os.getppid() == trainer:  # an orphan is adopted by init or a subreaper
        time.sleep(_PARENT_POLL_S)
    os._exit(1)


def _probe(thunk: Any, env_id: str, section: str, seed: int) -> None:
    """One copy made, reset and stepped once apart from the vector env: an observation that does
    not fit the env's own observation_space, or an env that raises, is one line here, not numpy's
    broadcast error inside SB3 or a worker's broken pipe."""
    env, copy = f"{section} {env_id!r}", thunk()
    # what trips the probe trips gymnasium's env checker too: one line, not its warning first; the
    # training copies' own checkers still warn of anything else
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            obs = _reset_observation(env, _first(env, section, "reset()", lambda: copy.reset(seed=seed)))
            _check_observation(env, "reset()", obs, copy.observation_space)
            copy.action_space.seed(seed)  # its own space: the same action on every run
            masked = copy.has_wrapper_attr("action_masks")  # sb3-contrib's convention: a legal action
            mask = gym_mask(copy.action_space, copy.get_wrapper_attr("action_masks")()) if masked else None
            with process_state_kept():  # an env that draws from the global RNGs: training draws as if unprobed
                obs = _first(env, section, "step()", lambda: copy.step(copy.action_space.sample(mask=mask))[0])
            _check_observation(env, "step()", obs, copy.observation_space)
        finally:
            copy.close()


def _reset_observation(env: str, out: Any) -> Any:
    """The observation in what reset() returned, (obs, info) as gymnasium's API has it; an env of
    gym's older API returns the bare observation, one line here. (A step() of 4 items fails in
    SB3's Monitor, inside the probe's step: said by `_first`.)"""
    if isinstance(out, tuple) and len(out) == 2:
        return out[0]
    got = (f"a tuple of {len(out)}" if isinstance(out, tuple) else
           f"an array of shape {np.shape(out)}" if isinstance(out, np.ndarray) else f"a {type(out).__name__}")
    raise RlgenError(f"{env}: reset() must return (obs, info) (gymnasium's API), got {got}; update the env "
                     "from gym's older API")


def _first(env: str, section: str, call: str, run: Callable[[], Any]) -> Any:
    """`run()`, the env's first `call`, whose error is one line naming the call."""
    try:
        return run()
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - the env's own code, or a kwarg it takes only when it runs
        raise RlgenError(f"{env} raised {type(e).__name__} in its first {call}: {first_line(e)} (fix the env, or "
                         f"check {section}.kwargs and {section}.wrappers)") from None


def outside_space(obs: Any, space: gym.Space) -> str | None:
    """What in `obs`, one copy's observation, breaks `space`, or None: its shape, or for choices
    (Discrete, MultiDiscrete, MultiBinary) a value outside them, which SB3 one-hot encodes (torch
    refuses one past n: "Class values must be smaller than num_classes") or stores cast to integers.
    Box bounds are not checked: many envs declare tighter ones than they keep, and SB3 reads any
    float. Cheap (a shape, two comparisons): it runs on every observation of every step."""
    if not isinstance(space, FLAT_SPACES):
        return None
    if np.shape(obs) != space.shape:
        return f"an observation of shape {np.shape(obs)}"
    if isinstance(space, gym.spaces.Box):
        return None
    values = np.asarray(obs)
    if values.dtype.kind not in "biuf":
        return f"an observation of dtype {values.dtype}"
    low, high = _choices(space)
    if values.ndim == 0:  # a Discrete's: compared as a number, several times faster than as an array
        value = values.item()
        return None if low <= value <= high else f"the observation {value}"  # NaN is outside
    inside = (values >= low) & (values <= high)
    if inside.all():
        return None
    index = tuple(int(i) for i in np.argwhere(~inside)[0])
    return f"an observation with {values[index]} at index {index}"


def _choices(space: gym.spaces.Discrete | gym.spaces.MultiDiscrete | gym.spaces.MultiBinary) -> tuple[Any, Any]:
    """The lowest and highest choice of `space` (arrays for a MultiDiscrete): start..start+n-1."""
    if isinstance(space, gym.spaces.MultiBinary):
        return 0, 1
    n = space.nvec if isinstance(space, gym.spaces.MultiDiscrete) else space.n
    return space.start, space.start + n - 1


def _check_observation(env: str, call: str, obs: Any, space: gym.Space) -> None:
    if (what := outside_space(obs, space)) is not None:
        raise RlgenError(f"{env}: {call} returned {what}, but its observation_space is {space}; the env must "
                         "return what its space declares")


class _CheckedDummyVecEnv(DummyVecEnv):
    """SB3's DummyVecEnv, refusing in one line an observation that breaks the copies' space before
    it is stored: numpy's broadcast error otherwise ("could not broadcast input array from shape
    (4,) into shape (3,)"), a scalar spread over a whole Box silently, or a choice past n stored
    for torch to refuse. `target` names the env in what it says ("env 'CartPole-v1'")."""

    def __init__(self, env_fns: list[Callable[[], gym.Env]], target: str):
        super().__init__(env_fns)
        self.target = target

    def _save_obs(self, env_idx: int, obs: Any) -> None:
        if outside_space(obs, self.observation_space) is not None:
            # SB3 saves what a copy's step() returned, or its reset()'s: in reset, or where the step ended an episode
            stepped = sys._getframe(1).f_code.co_name == "step_wait" and not self.buf_dones[env_idx]
            _check_observation(self.target, "step()" if stepped else "reset()", obs, self.observation_space)
        super()._save_obs(env_idx, obs)


class _WatchedSubprocVecEnv(SubprocVecEnv):
    """SB3's SubprocVecEnv, its workers forked, with two checks:

    - A worker that died (its env raised) is an EOFError on its pipe, whichever worker it is
      (`_Watched`). SB3 makes every pipe before it forks the first worker and closes the trainer's
      copy of worker i's end only after forking worker i, so workers 0..i-1 hold that end open and
      the trainer never reads EOF when worker i dies: it would wait for good, SIGTERM or not.
    - An observation that breaks the copies' space is one line (`outside_space`), not
      torch's "mat1 and mat2 shapes cannot be multiplied" in the policy.
    """

    def __init__(self, env_fns: list[Callable[[], gym.Env]], target: str):
        super().__init__(env_fns, start_method="fork")
        self.remotes = [_Watched(remote, process) for remote, process in zip(self.remotes, self.processes)]
        self.target = target

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = super().step_wait()
        self._check(obs, dones)
        return obs, rewards, dones, infos

    def reset(self) -> Any:
        obs = super().reset()
        self._check(obs, np.ones(self.num_envs, bool))
        return obs

    def _check(self, obs: Any, reset: np.ndarray) -> None:
        """Each copy's row of the stacked `obs`; `reset[i]`: copy i's came from its reset()."""
        if isinstance(self.observation_space, FLAT_SPACES):
            for row, was_reset in zip(obs, reset):
                _check_observation(self.target, "reset()" if was_reset else "step()", row, self.observation_space)

    def close(self) -> None:
        if not self.closed:
            # only the answers still due: after a step_wait that raised (a worker died), SB3's close
            # would wait on the workers that had answered, for answers they will never send; a dead
            # worker's EOFError goes on to `close_vec_env`, which kills the rest
            for remote in self.remotes:
                if remote.due:
                    remote.recv()
            self.waiting = False
        super().close()


class _Watched:
    """One SubprocVecEnv pipe whose recv() raises EOFError once its worker has exited with nothing
    left to send, as a pipe whose other end is closed does; `due`: an answer is awaited."""

    def __init__(self, remote: Connection, process: BaseProcess):
        self.remote, self.process, self.due = remote, process, False

    def send(self, data: Any) -> None:
        self.remote.send(data)
        self.due = True

    def recv(self) -> Any:
        while not self.remote.poll(_WORKER_POLL_S):
            if self.process.exitcode is not None and not self.remote.poll():
                raise EOFError(f"worker process {self.process.pid} exited with {self.process.exitcode}")
        answer = self.remote.recv()
        self.due = False
        return answer

    def close(self) -> None:
        self.remote.close()


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
