"""Registers rlgen's own gymnasium ids under the `rlgen/` namespace (imported on first use)."""

import gymnasium as gym

_IDS = {
    "rlgen/Identity-v0": "rlgen.envs.identity:IdentityEnv",
    "rlgen/IdentityBox-v0": "rlgen.envs.identity:IdentityBoxEnv",
}
# Partially observable tasks (the memory benchmarks): id -> (entry point, max_episode_steps, reward_threshold)
_POMDP_IDS = {
    "rlgen/CartPoleNoVel-v1": ("rlgen.envs.pomdp:cartpole_novel", 500, 475.0),
    "rlgen/PendulumNoVel-v1": ("rlgen.envs.pomdp:pendulum_novel", 200, None),
    "rlgen/CueRecall-v0": ("rlgen.envs.pomdp:CueRecallEnv", None, 0.95),
}

for _id, _entry in _IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry)

for _id, (_entry, _steps, _threshold) in _POMDP_IDS.items():
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=_entry, max_episode_steps=_steps, reward_threshold=_threshold)
