"""Registers this package's gymnasium ids. rlgen imports it (its `rlgen.envs` entry point) before
it looks up or lists an env id, so `env.id: rlgen_example/Corridor-v0` works in any config."""

import gymnasium as gym

CORRIDOR = "rlgen_example/Corridor-v0"

# Unguarded: rlgen compares gymnasium's registry before and after importing this module, so an id
# another package already has is put back with one warning naming both. An `if CORRIDOR not in
# gym.registry` guard would hide that clash, and leave the id pointing at the other package's env.
gym.register(id=CORRIDOR, entry_point="rlgen_plugin_example.corridor:CorridorEnv")
