"""rlgen's demo formats (`rlgen.registry.DEMOS`): Minari datasets and plain `.npz` arrays.

A format is an object with `matches(path) -> bool`, `read(path) -> Demos` and `write(demos, path,
*, env_id, observation_space, action_space)`; a plugin registers its own under the `rlgen.demos`
entry-point group. Reading never runs code from the file (npz with `allow_pickle=False`, Minari's
HDF5 arrays and JSON metadata) and never downloads. A Minari dataset's metadata.json is checked
before Minari opens it (`minari_metadata`): Minari builds the env from the file's `env_spec` when the
spaces are missing, so a dataset needs its serialized spaces, and an env spec may name only a
registered id with its registered entry point, and wrappers of gymnasium, SB3 or rlgen's wrapper
registry.
"""

from __future__ import annotations

import inspect
import json
import os
import re
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.envs.registration import EnvSpec

from rlgen.envs.demos import REFERENCES, Demos, reference_problem, without_step_cap
from rlgen.envs.env_specs import env_spec_problem, env_spec_shape_problem
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
            root = minari_root()
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
        # before Minari reads it: nothing it names is imported or called; and an empty dataset is said so
        # here, since Minari's writer leaves a 0-byte HDF5 file for one, which h5py cannot open
        if minari_metadata(data).get("total_episodes") == 0:
            raise RlgenError(f"Minari dataset {path} holds no episodes ({data / 'metadata.json'}: total_episodes 0)")
        try:
            dataset = _minari().MinariDataset(data)
            episodes = list(dataset.iterate_episodes())
        except (ValueError, KeyError, AssertionError, TypeError, OSError) as e:  # Minari's own checks
            raise RlgenError(f"{data / 'metadata.json'}: not a Minari dataset rlgen can read "
                             f"({type(e).__name__}: {first_line(e)})") from None
        if not episodes:
            raise RlgenError(f"Minari dataset {path} holds no episodes")
        for ep in episodes:
            if problem := _episode_problem(ep, dataset.observation_space, dataset.action_space):
                raise RlgenError(f"Minari dataset {path}: {problem}")
        meta = dict(dataset.storage.metadata)
        spec = json.loads(meta["env_spec"]) if isinstance(meta.get("env_spec"), str) else None
        metadata: dict[str, Any] = {"env_id": spec.get("id") if spec else None, "env_spec": meta.get("env_spec"),
                                    "dataset_id": meta.get("dataset_id"), "algorithm": meta.get("algorithm_name")}
        for ours, theirs in _MINARI_SCORES.items():
            if meta.get(theirs) is not None:
                metadata[ours] = float(meta[theirs])  # a number: `minari_metadata` checked it
        columns = {key: np.concatenate([np.asarray(getattr(ep, key)) for ep in episodes])
                   for key in ("rewards", "terminations", "truncations")}
        if problem := next(filter(None, (_values_problem(v, k) for k, v in columns.items())), None):
            raise RlgenError(f"Minari dataset {path}: {problem}")
        return Demos(
            observations=np.concatenate([np.asarray(ep.observations)[:-1] for ep in episodes]),
            actions=np.concatenate([np.asarray(ep.actions) for ep in episodes]),
            next_observations=np.concatenate([np.asarray(ep.observations)[1:] for ep in episodes]),
            rewards=columns["rewards"].astype(np.float64),
            terminations=columns["terminations"].astype(bool),
            truncations=columns["truncations"].astype(bool),
            lengths=np.array([len(ep.actions) for ep in episodes], np.int64),
            metadata=metadata,
        )

    def write(self, demos: Demos, path: Path, *, env_id: str | None = None,
              observation_space: gym.Space | None = None, action_space: gym.Space | None = None) -> None:
        minari = _minari()
        from minari.data_collector import EpisodeBuffer
        from minari.dataset.minari_storage import MinariStorage

        dataset_id = minari_dataset_id(path)  # before anything is written: a folder Minari cannot name is refused
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
        meta = {"dataset_id": dataset_id, "minari_version": minari.__version__,
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


def _episode_problem(ep: Any, observation_space: gym.Space, action_space: gym.Space) -> str | None:
    """What keeps a Minari episode from being rows of transitions: observations or actions that are
    not one array (a Dict or Tuple space's), or other than Minari's layout of one more observation
    than actions (the final one) and one reward and flag per action."""
    for what, rows, space in (("observations", ep.observations, observation_space),
                              ("actions", ep.actions, action_space)):
        if not isinstance(rows, np.ndarray):
            how = "gymnasium's FlattenObservation" if what == "observations" else "to a Box or Discrete action space"
            return f"{type(rows).__name__} {what} ({space}) are not supported; flatten them ({how}) when recording"
    n = len(ep.actions)
    if len(ep.observations) != n + 1:
        return (f"episode {ep.id} has {n} actions but {len(ep.observations)} observations; Minari episodes hold one "
                "more observation than actions (the final one): record them with the final observation")
    for key in ("rewards", "terminations", "truncations"):
        if len(getattr(ep, key)) != n:
            return f"episode {ep.id} has {n} actions but {len(getattr(ep, key))} {key}; it needs one per action"
    return None


def minari_root() -> Path:
    """Minari's local datasets folder, as minari.storage.get_dataset_path finds it (which also makes
    it: this only names it)."""
    return Path(os.environ.get("MINARI_DATASETS_PATH", Path.home() / ".minari" / "datasets"))


def minari_dataset_id(path: Path) -> str:
    """The id of the Minari dataset written to the folder `path`. In Minari's datasets folder
    (MINARI_DATASETS_PATH, else ~/.minari/datasets) a dataset's id is its folder's path there, which
    `minari.list_local_datasets` and `minari.load_dataset` rely on; a path there that is no Minari id
    `(NAMESPACE/)NAME-vN` is refused. Elsewhere it is `rlgen/NAME-vN` for a folder named so, else
    `rlgen/NAME-v0`, with characters Minari's ids do not allow in NAME made `_`."""
    _minari()  # its install hint first (minari needs Python >= 3.11)
    from minari.dataset.minari_dataset import parse_dataset_id

    def versioned(dataset_id: str) -> bool:
        try:
            parse_dataset_id(dataset_id)
        except (ValueError, TypeError):  # TypeError: Minari's regex takes an id without -vN, its int() does not
            return False
        return True

    root, out = minari_root().resolve(), path.resolve()
    name = out.name if versioned(out.name) else re.sub(r"[^-_\w]", "_", out.name) + "-v0"  # Minari's DATASET_NAME_RE
    if out.is_relative_to(root):
        dataset_id = out.relative_to(root).as_posix()
        if not versioned(dataset_id):
            like = out.with_name(name)  # the name made an id, in its namespace when that is one
            if out == root or not versioned(like.relative_to(root).as_posix()):
                like = root / "rlgen" / name
            raise RlgenError(f"{path} lies in Minari's datasets folder {root}, where a dataset's folder path is "
                             f"its id, but {dataset_id!r} is no Minari id: name the folder NAMESPACE/NAME-vN (like {like})")
        return dataset_id
    if not versioned(dataset_id := f"rlgen/{name}"):
        raise RlgenError(f"{path}: Minari makes no dataset id of {dataset_id!r}; name the folder NAME-vN")
    return dataset_id


_SPACES = ("observation_space", "action_space")
# What Minari cuts out of an env spec's JSON before EnvSpec.from_json (gymnasium 1.0 compatibility)
_MINARI_CUTS = ('"order_enforce": true,', '"apply_api_compatibility": false,', '"autoreset": false, ')


def minari_metadata(data: Path) -> dict[str, Any]:
    """A Minari dataset's metadata.json (in the `data` folder `data`), read as plain JSON and
    checked so that opening it with Minari runs no code the file names: it must hold the serialized
    observation and action spaces (without them Minari builds the env from `env_spec` to learn
    them), `env_spec` / `eval_env_spec` must pass `env_spec_problem`, and ref_max_score /
    ref_min_score must be finite numbers (`reference_problem`). Raises a one-line
    RlgenError naming the file and the field."""
    file = data / "metadata.json"
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise RlgenError(f"{file}: not readable as JSON ({type(e).__name__}: {first_line(e)})") from None
    if not isinstance(meta, dict):
        raise RlgenError(f"{file}: not a Minari metadata file (a JSON {type(meta).__name__}, not an object)")
    for key in _SPACES:
        if not isinstance(meta.get(key), str):
            raise RlgenError(f"{file}: no serialized {key} (Minari would build the env named by env_spec to "
                             "learn it, running code the file names); record the demos with `rlgen record` or "
                             "Minari's DataCollector, which write the spaces")
    for ours, key in _MINARI_SCORES.items():
        if meta.get(key) is not None and (problem := reference_problem(meta[key])):
            raise RlgenError(f"{file}: {key} {problem}; it holds {REFERENCES[ours]}: fix or remove it")
    for key in ("env_spec", "eval_env_spec"):
        text = meta.get(key)
        if text is None:
            continue
        as_minari_reads = text
        for cut in _MINARI_CUTS if isinstance(text, str) else ():
            as_minari_reads = as_minari_reads.replace(cut, "")
        if problem := env_spec_problem(text) or env_spec_problem(as_minari_reads):  # the spec Minari keeps too
            raise RlgenError(f"{file}: {key}: {problem}; refused, since opening the dataset could run it")
    return meta


def _env_spec(demos: Demos, env_id: str | None, path: Path) -> EnvSpec | None:
    """The spec Minari keeps for `recover_environment()`: the env as recorded (its kwargs and
    wrappers, `env_spec_metadata`), else the registered `env_id`'s."""
    warn_spec_lacks(demos, path)
    if demos.metadata.get("env_spec"):
        return without_step_cap(EnvSpec.from_json(demos.metadata["env_spec"]))  # older rlgen kept its cap
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
# npz keys of metadata, each one value, and what it holds
_NPZ_META = {"env_id": "the gymnasium id of the env recorded on",
             "env_spec": "gymnasium's EnvSpec JSON of the env recorded on (EnvSpec.to_json())", **REFERENCES}
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
            loaded = np.load(path, allow_pickle=False)  # arrays only: nothing in the file is executed
            if not isinstance(loaded, np.lib.npyio.NpzFile):  # a single .npy array under a .npz name
                raise ValueError(f"it holds one {type(loaded).__name__} (a .npy file), not named arrays")
            with loaded as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, zipfile.BadZipFile) as e:  # not a zip of arrays, or arrays of Python objects
            # numpy tries any file that is neither a zip nor a .npy as a pickle, and its message then asks
            # for allow_pickle: say what the file is instead, and never suggest running it
            if isinstance(e, OSError) and not isinstance(e, zipfile.BadZipFile):
                why = f"unreadable ({e.strerror or first_line(e)})"
            elif not zipfile.is_zipfile(path):
                why = "not a readable .npz archive (not a zip file)"
            elif "allow_pickle" in str(e) or "pickle" in str(e).lower():
                why = "its arrays hold Python objects, which rlgen never loads (loading them can run code)"
            else:
                why = f"not a readable .npz archive ({type(e).__name__}: {first_line(e)})"
            raise RlgenError(f"{path} is not a .npz of plain arrays: {why}; write demos with `rlgen record` or "
                             "numpy.savez") from None
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
        metadata = _npz_metadata(path, arrays)
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


def _npz_metadata(path: Path, arrays: dict[str, np.ndarray]) -> dict[str, Any]:
    """The npz's metadata (`_NPZ_META`) as plain values, each checked, since an expert ratio and the
    comparison with a run's env are made of them: env_id and env_spec one string (env_spec an EnvSpec
    JSON, `env_spec_shape_problem`), expert_return and random_return one finite number
    (`reference_problem`). Raises a one-line RlgenError naming the file and the key."""
    metadata: dict[str, Any] = {}
    for key, what in _NPZ_META.items():
        if key not in arrays:
            continue
        value = arrays[key]
        if key in REFERENCES:
            problem = reference_problem(value)
        elif value.ndim != 0 or value.dtype.kind != "U":
            problem = f"is a {value.dtype} array of shape {value.shape}, not one string"
        else:
            spec = env_spec_shape_problem(value.item()) if key == "env_spec" else None
            problem = spec and f"is not a readable EnvSpec JSON: {spec}"
        if problem:
            raise RlgenError(f"{path}: '{key}' {problem}; it holds {what}: fix or remove it")
        metadata[key] = value.item()
    return metadata


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
        if problem := _values_problem(arrays[key].reshape(n), key):
            return problem
    return None


def _values_problem(values: np.ndarray, key: str) -> str | None:
    """What keeps one value per transition from being read as rlgen reads it: rewards that are not
    finite real numbers (an expert return made of them is nan, as is every expert ratio), or episode
    flags that are neither booleans nor 0/1 (a cast would read any non-zero value, or text, as an end)."""
    wanted = "number" if key == "rewards" else "boolean"
    if values.dtype.kind not in "biuf":
        what = {"S": "bytes", "U": "text", "c": "complex", "O": "Python object"}.get(values.dtype.kind, str(values.dtype))
        return f"'{key}' holds {what} values, not numbers; it needs one {wanted} per transition"
    odd = ~np.isfinite(values) if key == "rewards" else ~np.isin(values, (0, 1))
    if not odd.any():
        return None
    row = int(np.flatnonzero(odd)[0])
    need = "rewards must be finite numbers" if key == "rewards" else "episode flags are booleans (or 0 and 1)"
    return f"'{key}' holds {values[row]} at row {row} ({int(odd.sum())} such rows); {need}"
