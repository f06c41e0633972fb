"""MinAtar (Young & Tian 2019): Breakout, Freeway, Asterix, Seaquest and SpaceInvaders on a 10x10
grid, observations (10, 10, C) booleans, one channel per kind of object.

The `minatar` package (`pip install 'rlgen[minatar]'`) ships a gymnasium adapter but registers its
ids only when asked; this `rlgen.envs` entry point asks, so `MinAtar/Breakout-v1` (the minimal
action set, what the paper's agents use) and `MinAtar/Breakout-v0` (all 6 actions) work in any
config. Its episodes have no time limit: the bundled configs add a TimeLimit wrapper.
"""

from __future__ import annotations

import importlib.util

GAMES = ("Asterix", "Breakout", "Freeway", "Seaquest", "SpaceInvaders")


def register() -> None:
    """Register MinAtar's gymnasium ids when the package is installed; without it, nothing (an env
    id `MinAtar/...` then says which extra to install)."""
    import gymnasium as gym

    if importlib.util.find_spec("minatar") is None or "MinAtar/Breakout-v1" in gym.registry:
        return
    from minatar.gym import register_envs

    register_envs()
