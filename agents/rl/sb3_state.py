"""An SB3 model's whole state as plain data, and back: what makes the kinds built on SB3 (rl,
selfplay, teams) resume exactly.

    state = model_state(model)               # params, counters, _last_obs, the envs, the replay buffer
    load_model_state(fresh_model, state)     # a model built from the same config: as it was

SB3's own `save` keeps the parameters and a pickle of the rest, without the envs; rlgen keeps the
parameters as state dicts and everything else through `live_state`, so a checkpoint is plain data
(`torch.load(weights_only=True)`) and the envs' episodes in progress carry over too.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from rich.markup import escape
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rlgen import checkpoint
from rlgen.agents.rl import live_state
from rlgen.errors import RlgenError
from rlgen.logging import console
from rlgen.testing_diff import _differences

# The episodes in progress: meaningless, and not restored, when the envs that hold them are not.
_EPISODE = frozenset({"_last_obs", "_last_episode_starts", "_last_original_obs", "_last_lstm_states"})


def model_state(model: Any, replay_buffer: bool = True) -> dict[str, Any]:
    """What an SB3 model needs to resume exactly, as plain data: every state dict (policy,
    optimizers), everything else the model holds (counters, `_last_obs` and the episode starts,
    the exploration rate, the action space's RNG, RecurrentPPO's LSTM states: `live_state`), its
    vector env with every env inside, the episode statistics, and the filled part of the replay
    buffer (`replay_buffer=False` leaves it out)."""
    buffer = getattr(model, "replay_buffer", None)
    return {
        "params": model.get_parameters(),
        "num_timesteps": model.num_timesteps,
        "model": live_state.capture(model, skip=frozenset({"env", "_vec_normalize_env"})),
        "env": env_state(model.env),
        # Monitor's "t" is wall-clock time since the env was made: different in every run
        "ep_info_buffer": [{k: v for k, v in e.items() if k != "t"} for e in model.ep_info_buffer or []],
        "ep_success_buffer": list(model.ep_success_buffer or []),
        "replay_buffer": replay_state(buffer) if buffer is not None and replay_buffer else None,
    }


def load_model_state(model: Any, state: dict[str, Any], where: str = "the training envs",
                     buffer_kept: bool = True) -> None:
    """Restore `model_state` into a model built from the same config. Where the envs could not be
    captured (subprocess envs, an emulator or physics engine in C), a warning says the resume is
    not exact and the envs start new episodes."""
    model.set_parameters(state["params"], exact_match=True, device=model.device)
    if "model" not in state:  # a checkpoint of rlgen before exact resume (opened with --trust)
        _load_old_counters(model, state)
        warn_not_exact(where, ["this checkpoint predates exact resume (no env state)"])
        return
    problems = restore_env(model.env, state["env"])
    tree = state["model"]
    if problems:
        warn_not_exact(where, problems)
        tree = {**tree, "tree": _without(tree["tree"], _EPISODE)}
    if failed := live_state.restore(model, tree):
        # an attribute a newer SB3 (or a plugin algorithm) added is kept as built: the run goes on, not exactly
        if unsaved := [f for f in failed if f.endswith(live_state.UNSAVED)]:
            warn_not_exact("the model", unsaved)
        if refused := [f for f in failed if not f.endswith(live_state.UNSAVED)]:
            raise RlgenError(f"the checkpoint's model does not fit this one: {'; '.join(refused[:3])}")
    if problems:
        model._last_obs = None  # SB3 resets the envs at the next learn()
    model.num_timesteps = checkpoint.count(state["num_timesteps"], "the checkpoint's num_timesteps")
    # both buffers, or SB3's next learn() sees one and skips creating the other
    model.ep_info_buffer = deque(state["ep_info_buffer"], maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(state["ep_success_buffer"], maxlen=model._stats_window_size)
    saved = state.get("replay_buffer")
    if isinstance(saved, bytes):  # the pickled buffer of an older checkpoint: only under --trust
        model.replay_buffer = checkpoint.unpickle(saved, "replay buffer")
        model.replay_buffer.device = model.device
    elif saved is not None:
        load_replay_state(model.replay_buffer, saved)
    elif getattr(model, "replay_buffer", None) is not None and checkpoint.resuming():
        # a run that keeps its buffer in checkpoints (`buffer_kept`): this one came from a W&B model artifact
        why = ("a W&B model artifact leaves it out), so training continues from an empty one; resume from the run "
               "directory for an exact resume") if buffer_kept else (
               "agent.save_replay_buffer: false), so training continues from an empty one, past learning_starts; "
               "keep it true for an exact resume")
        console.print(f"[yellow]warning:[/] this resume is not exact: the checkpoint holds no replay buffer ({why}")


def env_state(venv: VecEnv) -> dict[str, Any]:
    """A vector env and every env inside it as plain data (`live_state.capture`)."""
    return live_state.capture(venv)


def restore_env(venv: VecEnv, saved: dict[str, Any] | None) -> list[str]:
    """Restore `env_state` into a vector env built from the same config; what stood in the way
    ([] when the envs now are exactly as saved, episodes in progress included)."""
    if saved is None:
        return ["no env state was saved"]
    if missing := live_state.uncaptured(saved):
        _restore_statistics(venv, saved)
        return [f"{p} holds state rlgen cannot save" for p in missing]
    if _as_built(venv, saved):
        # saved before its first reset (eval envs checkpointed before the first evaluation): the
        # reset below would make what the saved envs never had (VecNormalize's old_obs), as if lost
        return []
    venv.reset()  # builds what a game makes only at reset (a board, a turn order); all of it is overwritten
    return live_state.restore(venv, saved)


def _as_built(venv: VecEnv, saved: dict[str, Any]) -> bool:
    """Whether `venv`, as built and never reset, is bit for bit the saved envs."""
    built = live_state.capture(venv, frozenset(saved.get("skip", ())))
    return not built["uncaptured"] and not _differences(built["tree"], saved["tree"], True, ("built", "saved"))


def _restore_statistics(venv: VecEnv, saved: dict[str, Any]) -> None:
    """VecNormalize's running statistics alone, where the envs under it cannot be restored: they
    start new episodes, but the policy learnt on observations scaled by these statistics."""
    live, node = venv, saved["tree"]
    while live is not None and isinstance(node, dict) and isinstance(node.get("attrs"), dict):
        if isinstance(live, VecNormalize):
            for name in ("obs_rms", "ret_rms"):
                if name in node["attrs"] and (failed := live_state.restore(getattr(live, name), {"tree": node["attrs"][name]})):
                    raise RlgenError(f"the checkpoint's normalization statistics do not fit these envs: {failed[0]}")
            return
        live, node = getattr(live, "venv", None), node["attrs"].get("venv")


def warn_not_exact(where: str, problems: list[str]) -> None:
    if not checkpoint.resuming():
        return  # opened to act or evaluate (rlgen.load_run): nothing continues from these envs
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    console.print(f"[yellow]warning:[/] this resume is not exact: {escape(where)} cannot be restored "
                  f"({escape(shown)}); they start new episodes, so the run continues like, but not bit for bit as, "
                  "an uninterrupted one")


def replay_state(buffer: Any) -> dict[str, Any]:
    """The filled part of an SB3 replay buffer, array by array (plain data, unlike a pickle)."""
    n = buffer.buffer_size if buffer.full else min(buffer.pos + 1, buffer.buffer_size)  # +1: the next obs of
    arrays: dict[str, Any] = {}                                                          # optimize_memory_usage
    for name, value in vars(buffer).items():
        if isinstance(value, np.ndarray) and value.ndim and len(value) == buffer.buffer_size:
            arrays[name] = value[:n]
        elif isinstance(value, dict) and value and all(isinstance(a, np.ndarray) for a in value.values()):
            arrays[name] = {k: a[:n] for k, a in value.items()}  # DictReplayBuffer
    return {"pos": int(buffer.pos), "full": bool(buffer.full), "arrays": arrays}


def load_replay_state(buffer: Any, state: dict[str, Any]) -> None:
    for name, saved in state["arrays"].items():
        live = getattr(buffer, name)
        for key, part in (saved.items() if isinstance(saved, dict) else [(None, saved)]):
            target = live if key is None else live[key]
            if part.shape[1:] != target.shape[1:] or len(part) > len(target):
                raise RlgenError(f"the checkpoint's replay buffer ({name} {part.shape}) does not fit this one "
                                 f"({target.shape})")
            target[: len(part)] = part
    buffer.pos, buffer.full = state["pos"], state["full"]


def _without(tree: dict[str, Any], names: frozenset[str]) -> dict[str, Any]:
    return {**tree, "attrs": {k: v for k, v in tree["attrs"].items() if k not in names}}


def _load_old_counters(model: Any, state: dict[str, Any]) -> None:
    model.num_timesteps = checkpoint.count(state["num_timesteps"], "the checkpoint's num_timesteps")
    model._n_updates = checkpoint.count(state.get("n_updates", 0), "the checkpoint's n_updates")
    model._episode_num = checkpoint.count(state.get("episode_num", 0), "the checkpoint's episode_num")
    model.ep_info_buffer = deque(state.get("ep_info_buffer", []), maxlen=model._stats_window_size)
    model.ep_success_buffer = deque(state.get("ep_success_buffer", []), maxlen=model._stats_window_size)
    if isinstance(state.get("replay_buffer"), bytes):
        model.replay_buffer = checkpoint.unpickle(state["replay_buffer"], "replay buffer")
        model.replay_buffer.device = model.device
