"""Evaluation episodes counted as the env counts them, whatever the wrappers around it do.

rlgen builds every vector-env copy as SB3 and rl-zoo3 do: `gymnasium.make`, then SB3's `Monitor`,
then the config's `env.wrappers` (agents/rl/vec.py). Monitor sees the env's own episodes and
rewards, so an Atari game is scored as one game of raw points even under `AtariWrapper`, whose
episodes end at each lost life and whose rewards are clipped for training.

`play_episodes` is SB3's `evaluate_policy` (the same split of episodes over the copies, the same
actions, the same figures) with two more rules. A wrapper outside Monitor may end an episode the
env itself would have gone on with and reset it (a `TimeLimit` in `env.wrappers`): Monitor never
reports that episode, and SB3's loop would wait for it for ever. `EpisodeMonitor` keeps such a cut
episode's return and length at the reset, and `play_episodes` counts it. A wrapper that ends an
episode without resetting the env (a lost life) is not a cut: the game goes on and is counted
when it ends; and a game such a wrapper left unfinished when the last evaluation stopped (its
reset does not restart it) is played out first and not counted, so every game counted is played
whole by the policy evaluated.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

from rlgen.config import whole_count



class EpisodeMonitor(Monitor):
    """SB3's Monitor that also keeps the episode a wrapper outside it cut short (`take_cut`)."""

    # evaluation envs saved before this class took Monitor's place resume into it (agents/rl/live_state.py);
    # their state has no `cut_episode`, so the class gives its value
    restores_from = ("stable_baselines3.common.monitor.Monitor",)
    cut_episode: dict[str, float] | None = None
    was_reset = False  # since `play_episodes` last cleared it

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.cut_episode = None

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        if self.rewards and not self.needs_reset:  # reset in mid-episode: an outer wrapper ended it
            self.cut_episode = {"r": round(sum(self.rewards), 6), "l": len(self.rewards)}
        self.was_reset = True
        return super().reset(**kwargs)

    def take_cut(self) -> dict[str, float] | None:
        """The episode cut short at the last reset, once (None when there was none)."""
        cut, self.cut_episode = self.cut_episode, None
        return cut


def play_episodes(model: Any, env: VecEnv, n: int, *, deterministic: bool = True,
                  masked: bool = False) -> tuple[list[float], list[int]]:
    """Returns and lengths of `n` episodes of `model` in `env`, counted by each copy's Monitor
    (module docstring). `masked`: pass the env's action masks (sb3-contrib's MaskablePPO)."""
    whole_count(n, "episodes")
    if masked:
        from sb3_contrib.common.maskable.utils import get_action_masks
    monitors = _episode_monitors(env)
    n_envs = env.num_envs
    targets = np.array([(n + i) // n_envs for i in range(n_envs)], dtype=int)
    counts = np.zeros(n_envs, dtype=int)
    returns: list[float] = []
    lengths: list[int] = []
    for m in monitors or ():
        m.was_reset = False
    observations = env.reset()
    # a wrapper that ends episodes without resetting the env (a lost life) may not pass that reset on:
    # the game begun before this evaluation is played out, not counted
    stale = np.array([not m.was_reset for m in monitors] if monitors else [False] * n_envs)
    for m in monitors or ():
        m.take_cut()  # an episode cut before this evaluation is none of its episodes
    states = None
    starts = np.ones(n_envs, dtype=bool)
    while (counts < targets).any():
        masks = {"action_masks": get_action_masks(env)} if masked else {}
        actions, states = model.predict(observations, state=states, episode_start=starts,
                                        deterministic=deterministic, **masks)
        observations, _, dones, infos = env.step(actions)
        for i in np.flatnonzero(counts < targets):
            starts[i] = dones[i]
            if not dones[i]:
                continue
            episode = infos[i].get("episode") or (monitors[i].take_cut() if monitors else None)
            if episode is not None and stale[i]:
                stale[i] = False
            elif episode is not None:
                returns.append(float(episode["r"]))
                lengths.append(int(episode["l"]))
                counts[i] += 1
    return returns, lengths


def _episode_monitors(env: VecEnv) -> list[EpisodeMonitor] | None:
    """Each copy's EpisodeMonitor, when `env` is a DummyVecEnv (under vector wrappers) of copies
    that have one; else None, and only the episodes Monitor reports are counted."""
    while isinstance(env, VecEnvWrapper):
        env = env.venv
    if not isinstance(env, DummyVecEnv):
        return None
    found = []
    for copy in env.envs:
        while not isinstance(copy, EpisodeMonitor) and isinstance(copy, gym.Wrapper):
            copy = copy.env
        if not isinstance(copy, EpisodeMonitor):
            return None
        found.append(copy)
    return found
