"""MinAtar (Young & Tian 2019): Breakout, Freeway, Asterix, Seaquest and SpaceInvaders on a 10x10
grid, observations (10, 10, C) booleans, one channel per kind of object.

The `minatar` package (`pip install 'rlgen[minatar]'`) ships a gymnasium adapter
(`minatar.gym.BaseEnv`) but registers its ids only when asked, and importing it pulls in seaborn and
pandas (seconds). This `rlgen.envs` entry point registers the same ids, with the same arguments as
`minatar.gym.register_envs`, by import path: minatar is imported only when one is made.
`MinAtar/Breakout-v1` has the minimal action set (what the paper's agents use), `-v0` all 6
actions. Their episodes have no time limit: the bundled configs add a TimeLimit wrapper.
"""

from __future__ import annotations

import importlib.util

# gymnasium name -> minatar's game module
GAMES = {"Asterix": "asterix", "Breakout": "breakout", "Freeway": "freeway", "Seaquest": "seaquest",
         "SpaceInvaders": "space_invaders"}


def register() -> None:
    """Register MinAtar's gymnasium ids when the package is installed; without it, nothing (an env
    id `MinAtar/...` then says which extra to install)."""
    import gymnasium as gym

    if importlib.util.find_spec("minatar") is None:
        return
    for name, game in GAMES.items():
        for version, minimal in (("v0", False), ("v1", True)):
            env_id = f"MinAtar/{name}-{version}"
            if env_id not in gym.registry:
                gym.register(id=env_id, entry_point="minatar.gym:BaseEnv",
                             kwargs={"game": game, "use_minimal_action_set": minimal})
