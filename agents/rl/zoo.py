"""rl-zoo3's tuned hyperparameters as rlgen configs: `rlgen train zoo:ppo/LunarLander-v3`.

rl-zoo3 ships one YAML file per algorithm (`rl_zoo3/hyperparams/ppo.yml`, ...) with an entry per
env id. They are read from the installed `rl_zoo3` package without importing it (its imports pull
in the Hugging Face hub client; only the data files are needed), and converted key by key the way
rl-zoo3's `ExperimentManager` reads them (`rlgen.agents.rl.zoo_keys`):

| rl-zoo3 key | rlgen config |
|---|---|
| n_timesteps, n_envs, frame_stack, env_kwargs | train.total_steps, env.n_envs, env.frame_stack, env.kwargs |
| normalize (true, or its VecNormalize kwargs) | env.normalize {obs, reward, clip_obs, clip_reward} |
| env_wrapper (dotted class paths, with kwargs) | env.wrappers as import paths (`module:Class`) |
| learning_rate (a number or `lin_X`) | optim.lr (+ optim.schedule: linear) |
| policy_kwargs net_arch, activation_fn, optimizer_class/kwargs | agent.policy.net_arch / activation, optim |
| policy_kwargs ortho_init, log_std_init, use_expln, ... | agent.policy.kwargs |
| noise_type, noise_std | agent.hyperparams.action_noise {type, sigma} |
| use_rms_prop, rms_prop_eps (A2C) | optim {type: rmsprop, eps} (A2C's default optimizer) |
| CnnPolicy, MlpLstmPolicy (ppo_lstm) | a NatureCNN-shaped cnn backbone; algo recurrent_ppo |
| every other key | agent.hyperparams, checked against the algorithm's signature |

A learning rate the entry leaves out is the algorithm's own default (PPO 3e-4, A2C 7e-4, DQN
1e-4, ...), as in rl-zoo3. What cannot be converted (callbacks, HER, custom feature extractors,
a wrapper that does not import here, ...) is listed in `Conversion.unsupported`, one line each,
never dropped in silence. rl-zoo3's policy_kwargs strings (`"dict(net_arch=[64, 64])"`) are parsed
as literals, never evaluated.
"""

from __future__ import annotations

import difflib
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from rlgen.agents.rl.zoo_keys import _Converter
from rlgen.errors import RlgenError

if TYPE_CHECKING:
    from rlgen.agents.rl.config import RLConfig

PREFIX = "zoo:"
INSTALL_HINT = ("rl-zoo3's hyperparameter files come with the rl_zoo3 package: "
                "pip install --no-deps rl_zoo3 (rlgen reads its YAML files only; see the README)")

# rl-zoo3 file name -> rlgen algo; files for algorithms rlgen does not have are named as such.
ZOO_ALGOS = {"a2c": "a2c", "ddpg": "ddpg", "dqn": "dqn", "ppo": "ppo", "ppo_lstm": "recurrent_ppo",
             "qrdqn": "qrdqn", "sac": "sac", "td3": "td3", "tqc": "tqc", "trpo": "trpo"}


@dataclass
class Conversion:
    """A zoo entry as an rlgen config (a plain mapping), with what could not be converted."""

    algo: str
    env_id: str
    source: str  # "rl_zoo3 2.9.2, hyperparams/ppo.yml, entry LunarLander-v3"
    config: dict[str, Any]
    unsupported: list[str] = field(default_factory=list)
    entry: str = ""  # the entry used: env_id, or rl-zoo3's fallbacks "atari" / "default"

    @property
    def fallback(self) -> str | None:
        """A line saying the env has no entry of its own, when rl-zoo3's `atari`/`default` was used."""
        if self.entry in ("", self.env_id):
            return None
        return f"rl-zoo3 has no {self.algo} entry for {self.env_id}: its {self.entry!r} hyperparameters are used"

    def yaml(self) -> str:
        """The config as YAML with a header saying where it came from and what it left out."""
        lines = [f"# rl-zoo3's {self.algo} hyperparameters for {self.env_id}, converted by rlgen import-zoo",
                 f"# from {self.source}."]
        if self.fallback:
            lines.append(f"# {self.fallback}.")
        if self.unsupported:
            lines.append("# Not converted (rlgen has no equivalent):")
            lines += [f"#   - {u}" for u in self.unsupported]
        return "\n".join(lines) + "\n" + yaml.safe_dump(self.config, sort_keys=False, default_flow_style=None)


# --- reading rl-zoo3's files ----------------------------------------------------------------------


def hyperparams_dir() -> Path:
    """rl_zoo3/hyperparams of the installed package, found without importing it."""
    spec = importlib.util.find_spec("rl_zoo3")
    if spec is None or not spec.submodule_search_locations:
        raise RlgenError(f"rl_zoo3 is not installed. {INSTALL_HINT}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "hyperparams"
    if not folder.is_dir():
        raise RlgenError(f"{folder} is missing: is rl_zoo3 installed completely? {INSTALL_HINT}")
    return folder


def zoo_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rl_zoo3")
    except PackageNotFoundError:
        return "?"


def read_file(path: Path) -> dict[str, dict[str, Any]]:
    """One rl-zoo3 hyperparameter file: env id -> its hyperparameters."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except UnicodeDecodeError as e:
        raise RlgenError(f"cannot read rl-zoo3 hyperparameters {path}: not UTF-8 text (byte {e.start}); "
                         "save it as UTF-8 YAML") from None
    except (OSError, yaml.YAMLError) as e:
        raise RlgenError(f"cannot read rl-zoo3 hyperparameters {path}: {' '.join(str(e).split())}") from None
    if not isinstance(data, dict):
        raise RlgenError(f"{path}: an rl-zoo3 hyperparameter file maps env ids to hyperparameters")
    return data


def entry(algo: str, env_id: str, file: Path | None = None) -> tuple[str, dict[str, Any], Path]:
    """(the entry used, its hyperparameters, the file): the env's own entry, else `atari` for an
    Atari env, else `default` — rl-zoo3's own lookup order."""
    path = Path(file) if file is not None else hyperparams_dir() / f"{algo}.yml"
    if file is None and not path.is_file():
        known = sorted(p.stem for p in hyperparams_dir().glob("*.yml"))
        close = difflib.get_close_matches(algo, known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise RlgenError(f"rl-zoo3 has no hyperparameters for algorithm {algo!r}{hint}; it has: {', '.join(known)}")
    entries = read_file(path)
    used = env_id if env_id in entries else "atari" if "atari" in entries and _is_atari(env_id) \
        else "default" if "default" in entries else None
    if used is not None:
        hp = entries[used]
        if not isinstance(hp, dict):
            shown = "empty" if hp is None else f"{type(hp).__name__} {repr(hp)[:40]}"
            raise RlgenError(f"{path}: entry {used!r} is {shown}, not a mapping of hyperparameters "
                             "(e.g. n_timesteps: 1e5, policy: MlpPolicy)")
        return used, dict(hp), path
    close = difflib.get_close_matches(env_id, [str(k) for k in entries if k not in ("atari", "default")], n=3)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    raise RlgenError(f"{path.name} has no entry for {env_id!r}{hint}; its envs: {', '.join(map(str, entries))}")


def _is_atari(env_id: str) -> bool:
    return env_id.startswith("ALE/") or "NoFrameskip" in env_id


def parse_ref(ref: str) -> tuple[str, str]:
    """'zoo:ppo/LunarLander-v3' (or without the prefix) -> ('ppo', 'LunarLander-v3')."""
    body = ref.removeprefix(PREFIX)
    algo, sep, env_id = body.partition("/")
    if not sep or not algo or not env_id:
        raise RlgenError(f"{ref!r}: a zoo config is written zoo:ALGO/ENV_ID, e.g. zoo:ppo/LunarLander-v3")
    return algo, env_id


def config_name(algo: str, env_id: str) -> str:
    """zoo_ppo_LunarLander-v3 (ALE/Pong-v5 -> zoo_ppo_ALE_Pong-v5): a valid rlgen config name."""
    return f"zoo_{algo}_{env_id.replace('/', '_').replace(':', '_')}"


def ref_of_name(name: str) -> str | None:
    """The `zoo:ALGO/ENV` a config name was converted from, or None."""
    if not name.startswith("zoo_") or importlib.util.find_spec("rl_zoo3") is None:
        return None
    for path in sorted(hyperparams_dir().glob("*.yml"), key=lambda p: -len(p.stem)):  # ppo_lstm before ppo
        if name.startswith(f"zoo_{path.stem}_"):
            for env_id in read_file(path):
                if config_name(path.stem, env_id) == name:
                    return f"{PREFIX}{path.stem}/{env_id}"
    return None


# --- converting -----------------------------------------------------------------------------------


def convert(algo: str, env_id: str, file: Path | None = None) -> Conversion:
    """rl-zoo3's entry for (algo, env_id) as an rlgen `kind: rl` config mapping."""
    if algo not in ZOO_ALGOS:
        known = ", ".join(ZOO_ALGOS)
        raise RlgenError(f"rl-zoo3 algorithm {algo!r} has no rlgen equivalent (rlgen runs: {known})")
    used, hp, path = entry(algo, env_id, file)
    source = f"rl_zoo3 {zoo_version()}, hyperparams/{path.name}, entry {used}" if file is None else f"{path}, entry {used}"
    c = _Converter(ZOO_ALGOS[algo], env_id)
    c.run(hp)
    return Conversion(algo, env_id, source, c.config(config_name(algo, env_id)), c.unsupported, used)


def action_space_problem_of(cfg: RLConfig) -> str | None:
    """What `rlgen train` refuses as it builds the algorithm on the env (`SB3Learner`, at setup):
    an algorithm that cannot act in the env's actions, such as sac on MinAtar's Discrete(3). The
    config validates all the same, and rl-zoo3's `default` entry is used for any env id, so
    import-zoo asks before it writes. One copy of the env is made, as `rlgen train` makes it (an
    env that cannot be made is refused in its words); no VecEnv wrapper of rlgen's (frame_stack,
    normalize, history) changes the action space."""
    from rlgen.agents.rl.algos import ALGOS
    from rlgen.agents.rl.build_checks import action_space_problem
    from rlgen.agents.rl.vec import make_vec_env

    env = make_vec_env(cfg.env.model_copy(update={"n_envs": 1, "vectorize": "dummy"}), cfg.seed, training=False)
    try:
        return action_space_problem(ALGOS[cfg.agent.algo], env, f"env {cfg.env.id!r}")
    finally:
        env.close()
