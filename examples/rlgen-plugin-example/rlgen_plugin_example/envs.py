"""Registers this package's gymnasium ids. rlgen imports it (its `rlgen.envs` entry point) before
it looks up or lists an env id, so `env.id: rlgen_example/Corridor-v0` works in any config."""

import gymnasium as gym

CORRIDOR = "rlgen_example/Corridor-v0"

if CORRIDOR not in gym.registry:  # importing twice (or reloading) must not warn about re-registration
    gym.register(id=CORRIDOR, entry_point="rlgen_plugin_example.corridor:CorridorEnv")
