"""Filming an RL run's evaluation: which envs can be filmed, and the env config that films one episode."""

from __future__ import annotations

import os
from pathlib import Path

import gymnasium as gym

from rlgen.config import EnvConfig


def filmed(env_cfg: EnvConfig, video_dir: Path) -> EnvConfig:
    """`env_cfg` as one env whose first episode gymnasium's RecordVideo writes to `video_dir`
    (eval-episode-0.mp4), rendered off-screen."""
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")  # render off-screen, no display needed
    one = env_cfg.model_copy(update={"n_envs": 1})
    one.wrappers = [*one.wrappers, {"RecordVideo": {"video_folder": str(video_dir), "episode_trigger": _first_episode,
                                                    "name_prefix": "eval"}}]
    return one


def video_problem(env_cfg: EnvConfig) -> str | None:
    """Why no episode of the env can be filmed, or None. RecordVideo needs rgb_array frames, which an
    env renders when its class lists "rgb_array" in metadata["render_modes"] (what gymnasium.make
    checks render_mode against); read from the registered class, no env is made. An env that
    cannot be loaded here, or whose entry point declares no modes, is left to making the env."""
    from gymnasium.envs.registration import load_env_creator

    from rlgen.envs import ensure_registered

    try:
        entry = gym.spec(ensure_registered(env_cfg.id)).entry_point
        creator = load_env_creator(entry) if isinstance(entry, str) else entry
    except Exception:  # noqa: BLE001 - not installed, not registered: making the env says why, in its own words
        return None
    metadata = getattr(creator, "metadata", None)
    modes = metadata.get("render_modes") if isinstance(metadata, dict) else None
    if modes is None or "rgb_array" in modes:
        return None
    listed = ", ".join(map(str, modes)) or "none"
    return (f"env {env_cfg.id!r} cannot render rgb_array frames (its metadata['render_modes']: {listed}), "
            "so no episode of it can be filmed")


def _first_episode(episode_id: int) -> bool:
    # the vector env resets itself after the episode: record only the one that was asked for
    return episode_id == 0
