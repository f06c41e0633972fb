"""rlgen's demo formats (`rlgen.registry.DEMOS`): Minari datasets and plain `.npz` arrays.

A format is an object with `matches(path) -> bool`, `read(path) -> Demos` and `write(demos, path,
*, env_id, observation_space, action_space)`; a plugin registers its own under the `rlgen.demos`
entry-point group. Reading never runs code from the file (npz with `allow_pickle=False`, Minari's
HDF5 arrays and JSON metadata) and never downloads.
"""

from __future__ import annotations

import inspect
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from rlgen.envs.demos import Demos
from rlgen.errors import RlgenError, first_line
from rlgen.logging import console

# Metadata keys rlgen writes next to Minari's own: the expert's and a random policy's mean return
# are Minari's (and D4RL's) ref_max_score and ref_min_score, so minari.get_normalized_score works.
_MINARI_SCORES = {"expert_return": "ref_max_score", "random_return": "ref_min_score"}


def _minari() -> Any:
    try:
        import minari
    except ImportError as e:  # minari needs Python >= 3.11
        raise RlgenError(f"Minari datasets need the minari package ({e}); pip install 'minari[hdf5]', "
                         "or use a .npz file of arrays") from None
    return minari


class MinariFormat:
    """Minari datasets (Farama's standard for offline RL): a dataset directory, or a local dataset id."""

    def data_path(self, path: Path) -> Path | None:
        """The `data` folder of a dataset directory, of the dataset itself, or of a dataset id in the
        local datasets folder (MINARI_DATASETS_PATH, else ~/.minari/datasets); None when none."""
        for candidate in (path / "data", path):
            if (candidate / "metadata.json").is_file():
                return candidate
        if not path.exists() and not path.is_absolute():
            root = Path(os.environ.get("MINARI_DATASETS_PATH", Path.home() / ".minari" / "datasets"))
            if (root / path / "data" / "metadata.json").is_file():
                return root / path / "data"
        return None

    def matches(self, path: Path) -> bool:
        return self.data_path(path) is not None

    def read(self, path: Path) -> Demos:
        data = self.data_path(path)
        if data is None:
            raise RlgenError(f"{path} is not a Minari dataset (no data/metadata.json there or in the local "
                             "datasets folder); nothing is downloaded")
        dataset = _minari().MinariDataset(data)
        episodes = list(dataset.iterate_episodes())
        if not episodes:
            raise RlgenError(f"Minari dataset {path} holds no episodes")
        for ep in episodes:
            if isinstance(ep.observations, dict) or isinstance(ep.actions, dict):
                raise RlgenError(f"Minari dataset {path}: dict observations or actions are not supported; "
                                 "flatten them (gymnasium's FlattenObservation) when recording")
        meta = dict(dataset.storage.metadata)
        spec = json.loads(meta["env_spec"]) if isinstance(meta.get("env_spec"), str) else None
        metadata: dict[str, Any] = {"env_id": spec.get("id") if spec else None, "env_spec": meta.get("env_spec"),
                                    "dataset_id": meta.get("dataset_id"), "algorithm": meta.get("algorithm_name")}
        for ours, theirs in _MINARI_SCORES.items():
            if meta.get(theirs) is not None:
                metadata[ours] = float(meta[theirs])
        return Demos(
            observations=np.concatenate([np.asarray(ep.observations)[:-1] for ep in episodes]),
            actions=np.concatenate([np.asarray(ep.actions) for ep in episodes]),
            next_observations=np.concatenate([np.asarray(ep.observations)[1:] for ep in episodes]),
            rewards=np.concatenate([np.asarray(ep.rewards, np.float64) for ep in episodes]),
            terminations=np.concatenate([np.asarray(ep.terminations, bool) for ep in episodes]),
            truncations=np.concatenate([np.asarray(ep.truncations, bool) for ep in episodes]),
            lengths=np.array([len(ep.actions) for ep in episodes], np.int64),
            metadata=metadata,
        )

    def write(self, demos: Demos, path: Path, *, env_id: str | None = None,
              observation_space: gym.Space | None = None, action_space: gym.Space | None = None) -> None:
        minari = _minari()
        from minari.data_collector import EpisodeBuffer
        from minari.dataset.minari_storage import MinariStorage

        env_id = env_id or demos.metadata.get("env_id")
        if observation_space is None or action_space is None:
            if env_id is None:
                raise RlgenError("writing a Minari dataset needs the env id or its spaces")
            from rlgen.envs import ensure_registered

            env = gym.make(ensure_registered(env_id))
            observation_space, action_space = env.observation_space, env.action_space
            env.close()
        data = path.resolve() / "data"  # Minari joins file names to this path: it must be absolute
        data.mkdir(parents=True, exist_ok=True)
        lossless = {"jpeg_encoding": False} if "jpeg_encoding" in inspect.signature(MinariStorage.new).parameters else {}
        storage = MinariStorage.new(data, observation_space=observation_space, action_space=action_space,
                                    env_spec=_env_spec(demos, env_id, path), data_format="hdf5", **lossless)
        meta = {"dataset_id": f"rlgen/{path.name}-v0", "minari_version": minari.__version__,
                "algorithm_name": demos.metadata.get("algorithm", "rlgen"),
                "author": {"rlgen record"}, "description": demos.metadata.get("description", "recorded by rlgen")}
        for ours, theirs in _MINARI_SCORES.items():
            if demos.metadata.get(ours) is not None:
                meta[theirs] = float(demos.metadata[ours])
        storage.update_metadata(meta)
        off = demos.offsets
        buffers = []
        for i in range(demos.n_episodes):
            rows = slice(off[i], off[i + 1])
            obs = np.concatenate([demos.observations[rows], demos.next_observations[off[i + 1] - 1][None]])
            buffers.append(EpisodeBuffer(id=i, observations=obs, actions=demos.actions[rows],
                                         rewards=list(demos.rewards[rows]),
                                         terminations=list(demos.terminations[rows]),
                                         truncations=list(demos.truncations[rows]), infos={}))
        storage.update_episodes(buffers)


def _env_spec(demos: Demos, env_id: str | None, path: Path) -> EnvSpec | None:
    """The spec Minari keeps for `recover_environment()`: the env as recorded (its kwargs and
    wrappers, `env_spec_metadata`), else the registered `env_id`'s."""
    warn_spec_lacks(demos, path)
    if demos.metadata.get("env_spec"):
        return EnvSpec.from_json(demos.metadata["env_spec"])
    if env_id is None or "env_spec_lacks" in demos.metadata:
        return None
    from rlgen.envs import ensure_registered

    spec = gym.spec(ensure_registered(env_id))
    try:
        spec.to_json()
    except (TypeError, ValueError):  # a callable entry point: Minari keeps the spaces only
        return None
    return spec


def warn_spec_lacks(demos: Demos, path: Path) -> None:
    """One line when the env spec written with the demos cannot rebuild the env as recorded."""
    if lacks := demos.metadata.get("env_spec_lacks"):
        console.print(f"[yellow]warning:[/] demos {path}: the env spec kept with them lacks {lacks}, so an env "
                      "rebuilt from it (Minari's recover_environment()) differs from the one recorded")


# npz keys: D4RL's names, and the alternatives it and Minari use for the flags
_NPZ_ALIASES = {"terminations": ("terminations", "terminals"), "truncations": ("truncations", "timeouts")}
_NPZ_META = ("env_id", "env_spec", "expert_return", "random_return")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # numpy.savez writes a zip: a file of them, or an empty one


class NpzFormat:
    """A `.npz` of arrays, D4RL's names: observations, actions, next_observations, rewards, terminals/terminations, timeouts/truncations."""

    def matches(self, path: Path) -> bool:
        """A `.npz` file, or a file of another name that is a zip (`rlgen record --format npz --out NAME`)."""
        if not path.is_file():
            return False
        with open(path, "rb") as f:
            return path.suffix == ".npz" or f.read(4) in _ZIP_MAGIC

    def read(self, path: Path) -> Demos:
        try:
            with np.load(path, allow_pickle=False) as f:  # arrays only: nothing in the file is executed
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, zipfile.BadZipFile) as e:  # not a zip of arrays, or arrays of Python objects
            raise RlgenError(f"{path} is not a .npz of plain arrays ({type(e).__name__}: {first_line(e)}); "
                             "write demos with `rlgen record` or numpy.savez") from None
        missing = [k for k in ("observations", "actions", "next_observations") if k not in arrays]
        flags = {}
        for ours, names in _NPZ_ALIASES.items():
            found = next((n for n in names if n in arrays), None)
            if found is None:
                missing.append("/".join(names))
            else:
                flags[ours] = found
        if missing:
            raise RlgenError(f"{path}: missing arrays {', '.join(missing)}; a demos .npz holds observations, "
                             "actions, next_observations, rewards (optional), terminations and truncations")
        if problem := _rows_problem(arrays, [*flags.values(), "rewards"]):
            raise RlgenError(f"{path}: {problem}")
        n = len(arrays["observations"])
        terminations, truncations = (arrays[flags[k]].astype(bool).reshape(n) for k in ("terminations", "truncations"))
        ends = terminations | truncations
        ends[-1] = True  # an episode still going at the end of the file ends there
        cuts = np.flatnonzero(ends)
        lengths = np.diff(np.concatenate([[-1], cuts])).astype(np.int64)
        metadata = {k: arrays[k].item() for k in _NPZ_META if k in arrays}
        if "lengths" in arrays and not np.array_equal(arrays["lengths"], lengths):
            raise RlgenError(f"{path}: 'lengths' disagrees with the episode ends of terminations/truncations")
        rewards = arrays.get("rewards")
        if rewards is None:
            metadata["rewards_missing"] = True  # zeros stand in: the demos' own return says nothing
        return Demos(arrays["observations"], arrays["actions"], arrays["next_observations"],
                     np.zeros(n) if rewards is None else rewards.astype(np.float64).reshape(n),
                     terminations, truncations & ~terminations, lengths, metadata)

    def write(self, demos: Demos, path: Path, *, env_id: str | None = None,
              observation_space: gym.Space | None = None, action_space: gym.Space | None = None) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        warn_spec_lacks(demos, path)
        meta = {k: np.asarray(demos.metadata[k]) for k in _NPZ_META if demos.metadata.get(k) is not None}
        if env_id is not None:
            meta["env_id"] = np.asarray(env_id)
        truncations = demos.truncations.copy()
        truncations[demos.offsets[1:] - 1] |= ~demos.terminations[demos.offsets[1:] - 1]  # every episode ends
        with open(path, "wb") as f:  # to this very path: numpy adds .npz to a name without it
            np.savez_compressed(f, observations=demos.observations, actions=demos.actions,
                                next_observations=demos.next_observations, rewards=demos.rewards,
                                terminations=demos.terminations, truncations=truncations, lengths=demos.lengths, **meta)


def _rows_problem(arrays: dict[str, np.ndarray], per_row: list[str]) -> str | None:
    """What keeps the arrays from being one row per transition: a single value where rows belong,
    no rows, or a flag / reward array that is not one value per observation."""
    for key in ("observations", "actions", "next_observations"):
        if arrays[key].ndim == 0:
            return f"'{key}' is a single value (a 0-d array); it needs one row per transition, (N, ...)"
    n = len(arrays["observations"])
    if n == 0:
        return "no transitions ('observations' has 0 rows); record demos with `rlgen record RUN_DIR --out FILE.npz`"
    for key in ("actions", "next_observations"):
        if len(arrays[key]) != n:
            return f"'{key}' has {len(arrays[key])} rows but 'observations' {n}; every array needs one row per transition"
    for key in (k for k in per_row if k in arrays):
        if arrays[key].shape not in ((n,), (n, 1)):
            return (f"'{key}' has shape {arrays[key].shape}, but there are {n} observations; it needs one value "
                    f"per transition, shape ({n},)")
    return None
