"""A trained SB3 policy acting on plain observations, outside any vector env.

Training sees observations through a pipeline of vector-env wrappers (VecNormalize, VecFrameStack,
rlgen's VecHistory window). `Agent` runs the very same wrappers over a one-env `_Feed` whose
observations are handed in by `predict`, so a policy trained on windows of normalized
observations acts on `env.reset()` / `env.step()` output directly:

    agent = rlgen.load_run(run_dir).agent()
    obs, _ = env.reset(seed=0)
    while not done:
        action = agent.predict(obs)                 # a new episode starts at the first call
        obs, reward, terminated, truncated, _ = env.step(action)
        done = terminated or truncated
    agent.reset()                                   # before the next episode

`predict(obs, reward=r)` passes the previous step's reward for windows that show it
(`env.history.rewards`).
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first
from stable_baselines3.common.vec_env import VecEnv, VecTransposeImage, unwrap_vec_normalize

from rlgen.agents.rl.vec import wrap_vec_env
from rlgen.config import EnvConfig
from rlgen.errors import RlgenError


class _Feed(VecEnv):
    """A one-env VecEnv that returns what it is fed: the bottom of the observation pipeline."""

    def __init__(self, observation_space: Any, action_space: Any):
        super().__init__(1, observation_space, action_space)
        self.obs: np.ndarray | None = None
        self.reward = 0.0

    def reset(self) -> np.ndarray:
        return self.obs

    def step_async(self, actions: np.ndarray) -> None:
        pass

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict]]:
        return self.obs, np.array([self.reward], np.float32), np.zeros(1, bool), [{}]

    def close(self) -> None:
        pass

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [None]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        pass

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kwargs: Any) -> list[Any]:
        return [None]

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False]


class Agent:
    """One env's policy: `predict(obs)` per step, `reset()` between episodes (module docstring)."""

    def __init__(self, model: Any, env_cfg: EnvConfig, normalize_state: tuple[Any, Any] | None = None,
                 gamma: float = 0.99):
        self.model = model
        self._feed = _Feed(_raw_space(env_cfg), model.action_space)
        self._pipeline = wrap_vec_env(self._feed, env_cfg, training=False, gamma=gamma)
        if normalize_state is not None and (norm := unwrap_vec_normalize(self._pipeline)) is not None:
            obs_rms, norm.ret_rms = normalize_state
            if obs_rms is not None:
                norm.obs_rms = obs_rms
        self.reset()

    @property
    def observation_space(self) -> Any:
        """The env's own observation space: what `predict` takes (below any window or stack)."""
        return self._feed.observation_space

    def reset(self) -> None:
        """The next `predict` starts a new episode (clears windows, stacks and recurrent state)."""
        self._start = True
        self._state: Any = None
        self._last_action: np.ndarray | None = None

    def predict(self, obs: Any, reward: float = 0.0, deterministic: bool = True,
                action_masks: np.ndarray | None = None) -> Any:
        """The action for one observation of the env (as `env.step` takes it)."""
        self._feed.obs = _in_space_dtype(self._feed.observation_space, obs)[None]
        self._feed.reward = float(reward)
        if self._start:
            seen = self._pipeline.reset()
        else:
            self._pipeline.step_async(self._last_action)
            seen = self._pipeline.step_wait()[0]
        kwargs: dict[str, Any] = {"deterministic": deterministic}
        if self._recurrent:
            kwargs.update(state=self._state, episode_start=np.array([self._start]))
        if action_masks is not None:
            kwargs["action_masks"] = np.asarray(action_masks)[None]
        action, self._state = self.model.predict(seen, **kwargs)
        self._start, self._last_action = False, action
        return action[0]

    @property
    def _recurrent(self) -> bool:
        return hasattr(self.model.policy, "lstm_actor")

    @property
    def takes_action_masks(self) -> bool:
        """Whether the policy acts on the env's action masks (sb3-contrib's MaskablePPO): pass them to `predict`."""
        return "action_masks" in inspect.signature(self.model.predict).parameters


def _in_space_dtype(space: Any, obs: Any) -> np.ndarray:
    """`obs` as an array; for an integer or boolean Box (uint8 images above all) given in another dtype,
    cast to the space's dtype if every value is one the env could give (whole, within the dtype's range;
    0 or 1 for booleans), else one RlgenError line. Without this, a float frame in [0, 1] reaches SB3,
    which divides images by 255 again (`preprocess_obs`): the policy sees a near-black frame and nothing
    complains. For an image space, values in [0, 1] reaching 1 are refused whatever their dtype: 0 / 1
    is a frame scaled once already (BinaryFrames' {0, 255} divided by 255), not the near-black pixels
    0 and 1; and booleans are never pixels. An all-black frame is one in any dtype."""
    arr = np.asarray(obs)
    integral = isinstance(space, spaces.Box) and (np.issubdtype(space.dtype, np.integer) or space.dtype == np.bool_)
    if not integral or arr.dtype == space.dtype or arr.dtype.kind not in "biuf" or arr.size == 0:
        return arr  # other mismatches (shape, strings) are observation_problem's, in rlgen.api.CheckedAgent
    info = (0, 1) if space.dtype == np.bool_ else (np.iinfo(space.dtype).min, np.iinfo(space.dtype).max)
    image, boolean = is_image_space(space), arr.dtype.kind == "b"
    values = arr.astype(np.int8) if boolean else arr  # numbers, to compare and print
    finite = values[np.isfinite(values)] if arr.dtype.kind == "f" else values
    scaled = bool(finite.size) and 0 <= finite.min() and 0 < finite.max() <= 1
    with np.errstate(invalid="ignore"):
        fits = bool(finite.size == arr.size and (values == np.round(values)).all()
                    and finite.min() >= info[0] and finite.max() <= info[1])
    if fits and not (image and (scaled or boolean)):
        return arr.astype(space.dtype)
    got = f"{arr.dtype} values in [{finite.min():.4g}, {finite.max():.4g}]" if finite.size else f"{arr.dtype} values"
    got += "" if finite.size == arr.size else " and NaN/inf"
    if image:
        hint = ("booleans are no pixels; pass the env's frames" if boolean
                else "pass the frames unscaled (SB3 divides images by 255 itself)" if scaled else "pass the env's frames")
        raise RlgenError(f"predict: expected {space.dtype} pixels in [{info[0]}, {info[1]}], as the env gives them; "
                         f"got {got}: {hint}")
    what = "booleans (0 or 1)" if space.dtype == np.bool_ else f"{space.dtype} whole numbers in [{info[0]}, {info[1]}]"
    raise RlgenError(f"predict: expected {what}, as the env gives them; got {got}: pass the env's observation as it is")


def _raw_space(env_cfg: EnvConfig) -> Any:
    """The env's own observation space, below the wrappers that changed it during training."""
    from rlgen.envs import make_env_fn

    env = make_env_fn(env_cfg.id, env_cfg.kwargs, env_cfg.wrappers)()
    try:
        return env.observation_space
    finally:
        env.close()


def replay_observations(env_cfg: EnvConfig, observation_space: Any, action_space: Any, observations: np.ndarray,
                        actions: np.ndarray, next_observations: np.ndarray, rewards: np.ndarray,
                        lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What a policy trained through `env_cfg`'s observation pipeline (frame stack, `env.history`
    windows, SB3's channels-first transpose of images) sees before and after each recorded step:
    (N, *seen) twice, for N rows of episodes of `lengths` (recorded raw, e.g. demonstrations). An
    episode's last `after` is the window of its final observation, as the vector env hands it over
    in `terminal_observation`."""
    if not env_cfg.frame_stack and env_cfg.history is None:
        before, after, space = np.asarray(observations), np.asarray(next_observations), observation_space
    else:
        before, after, space = _replay_pipeline(env_cfg, observation_space, action_space, observations, actions,
                                                next_observations, rewards, lengths)
    if _sb3_transposes(space):  # (N, H, W, C) -> (N, C, H, W), as the model's VecTransposeImage hands them over
        before, after = VecTransposeImage.transpose_image(before), VecTransposeImage.transpose_image(after)
    return before, after


def _sb3_transposes(space: Any) -> bool:
    """Whether SB3 wraps a vector env of `space` in VecTransposeImage (`BaseAlgorithm._wrap_env`'s test)."""
    return is_image_space(space) and not is_image_space_channels_first(space)


def _replay_pipeline(env_cfg: EnvConfig, observation_space: Any, action_space: Any, observations: np.ndarray,
                     actions: np.ndarray, next_observations: np.ndarray, rewards: np.ndarray,
                     lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray, Any]:
    """The episodes through `env_cfg`'s vector-env pipeline (without normalization): (N, *seen) twice, its space."""
    feed = _Feed(observation_space, action_space)
    pipeline = wrap_vec_env(feed, env_cfg.model_copy(update={"normalize": None}), training=False)
    before, after = [], []
    start = 0
    for length in lengths:
        feed.obs, feed.reward = np.asarray(observations[start])[None], 0.0
        seen = pipeline.reset()
        for t in range(start, start + int(length)):
            feed.obs, feed.reward = np.asarray(next_observations[t])[None], float(rewards[t])
            pipeline.step_async(np.asarray(actions[t])[None])
            nxt = pipeline.step_wait()[0]
            before.append(np.array(seen[0]))  # copies: a frame stack hands out its own buffer, reset in place
            after.append(np.array(nxt[0]))
            seen = nxt
        start += int(length)
    return np.stack(before), np.stack(after), pipeline.observation_space
