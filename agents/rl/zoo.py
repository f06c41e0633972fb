"""rl-zoo3's tuned hyperparameters as rlgen configs: `rlgen train zoo:ppo/LunarLander-v3`.

rl-zoo3 ships one YAML file per algorithm (`rl_zoo3/hyperparams/ppo.yml`, ...) with an entry per
env id. They are read from the installed `rl_zoo3` package without importing it (its imports pull
in the Hugging Face hub client; only the data files are needed), and converted key by key the way
rl-zoo3's `ExperimentManager` reads them:

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

import ast
import difflib
import importlib.util
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rlgen.errors import RlgenError, first_line

PREFIX = "zoo:"
INSTALL_HINT = ("rl-zoo3's hyperparameter files come with the rl_zoo3 package: "
                "pip install --no-deps rl_zoo3 (rlgen reads its YAML files only; see the README)")

# rl-zoo3 file name -> rlgen algo; files for algorithms rlgen does not have are named as such.
ZOO_ALGOS = {"a2c": "a2c", "ddpg": "ddpg", "dqn": "dqn", "ppo": "ppo", "ppo_lstm": "recurrent_ppo",
             "qrdqn": "qrdqn", "sac": "sac", "td3": "td3", "tqc": "tqc", "trpo": "trpo"}
_ACTIVATIONS = {"ReLU": "relu", "Tanh": "tanh", "Sigmoid": "sigmoid", "GELU": "gelu", "LeakyReLU": "leaky_relu",
                "ELU": "elu", "SiLU": "silu"}
_OPTIMIZERS = {"Adam": "adam", "AdamW": "adamw", "SGD": "sgd", "RMSprop": "rmsprop", "Adagrad": "adagrad"}
# SB3's NatureCNN (what CnnPolicy uses), as an rlgen cnn backbone
_NATURE_CNN = {"type": "cnn", "channels": [32, 64, 64], "kernels": [8, 4, 3], "strides": [4, 2, 1], "hidden": 512,
               "activation": "relu"}
_NOT_RUN = {
    "callback": "rl-zoo3 callbacks are not run by rlgen (the runner evaluates and checkpoints itself)",
    "vec_env_wrapper": "VecEnv wrappers other than frame stacking and normalization are not supported",
    "monitor_kwargs": "rlgen's Monitor takes no extra arguments",
    "replay_buffer_class": "custom replay buffers (HER) are not supported",
    "replay_buffer_kwargs": "custom replay buffers (HER) are not supported",
    "model_class": "HER wraps another algorithm; not supported",
    "n_sampled_goal": "HER is not supported", "goal_selection_strategy": "HER is not supported",
    "online_sampling": "HER is not supported", "max_episode_length": "HER is not supported",
}


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


class _Converter:
    """Moves one zoo entry's keys into rlgen's sections; `unsupported` collects what it cannot."""

    def __init__(self, algo: str, env_id: str):
        from rlgen.agents.rl.algos import ALGOS

        self.algo, self.env_id = algo, env_id
        self.cls = ALGOS[algo]
        self.env: dict[str, Any] = {"id": env_id}
        self.policy: dict[str, Any] = {}
        self.hyperparams: dict[str, Any] = {}
        defaults = inspect.signature(self.cls.__init__).parameters
        self.optim: dict[str, Any] = {"type": "adam", "lr": float(defaults["learning_rate"].default)}
        self.total_steps = 1_000_000
        self.unsupported: list[str] = []

    def skip(self, key: str, value: Any, why: str) -> None:
        self.unsupported.append(f"{key}: {value!r} ({why})")

    def run(self, hp: dict[str, Any]) -> None:
        if self.algo == "a2c":  # A2C's own default optimizer is RMSprop(alpha=0.99, eps=rms_prop_eps)
            if hp.pop("use_rms_prop", True):
                eps = hp.pop("rms_prop_eps", 1e-5)
                if isinstance(eps, (int, float)) and not isinstance(eps, bool):
                    self.optim.update(type="rmsprop", eps=float(eps))
                else:
                    self.optim.update(type="rmsprop")
                    self.skip("rms_prop_eps", eps, "not a number")
            else:
                hp.pop("rms_prop_eps", None)
        for key, value in hp.items():
            handler = getattr(self, f"key_{key}", None)
            if key in _NOT_RUN:
                self.skip(key, value, _NOT_RUN[key])
            elif handler is not None:
                try:
                    handler(value)
                except (ValueError, TypeError, AttributeError, KeyError, SyntaxError) as e:  # a value of the wrong kind
                    self.skip(key, value, f"not understood: {type(e).__name__}: {first_line(e)}")
            else:
                self._hyperparam(key, value)
        wrappers = [w if isinstance(w, str) else next(iter(w)) for w in self.env.get("wrappers", [])]
        kwargs = self.env.get("kwargs", {})
        if self.env_id.startswith("ALE/") and any(w.endswith("AtariWrapper") for w in wrappers) \
                and "frameskip" not in kwargs:
            # ALE v5 skips 4 frames itself and AtariWrapper skips 4 more: 16 frames an action. rl-zoo3
            # trains NoFrameskip-v4 ids, whose frames AtariWrapper alone skips.
            self.env["kwargs"] = {**kwargs, "frameskip": 1}

    def config(self, name: str) -> dict[str, Any]:
        total = self.total_steps
        eval_every = max(1000, min(25_000, total // 10))  # rl-zoo3 evaluates every 25k steps by default
        return {
            "name": name, "kind": "rl", "seed": 0,
            "env": self.env,
            "agent": {"algo": self.algo, "policy": self.policy, "hyperparams": self.hyperparams},
            "optim": self.optim,
            "train": {"total_steps": total, "eval_every": eval_every, "eval_episodes": 10,
                      "early_stop": {"metric": "eval/return_mean", "mode": "max"}},
        }

    # --- key_<name>: one method per rl-zoo3 key ---

    def key_n_timesteps(self, v: Any) -> None:
        self.total_steps = int(float(v))

    def key_n_envs(self, v: Any) -> None:
        self.env["n_envs"] = int(v)

    def key_frame_stack(self, v: Any) -> None:
        self.env["frame_stack"] = int(v)

    def key_env_kwargs(self, v: Any) -> None:
        self.env["kwargs"] = dict(v)

    def key_policy(self, v: Any) -> None:
        if v == "CnnPolicy":
            self.policy["backbone"] = dict(_NATURE_CNN)
        elif v not in ("MlpPolicy", "MlpLstmPolicy"):
            self.skip("policy", v, "rlgen builds MlpPolicy (with a cnn backbone for CnnPolicy, MlpLstmPolicy "
                      "for recurrent_ppo)")

    def key_normalize(self, v: Any) -> None:
        if v is False:
            return
        kwargs = {} if v is True else _literal(v) if isinstance(v, str) else v
        if not isinstance(kwargs, dict):
            return self.skip("normalize", v, "expected true or VecNormalize keyword arguments")
        names = {"norm_obs": "obs", "norm_reward": "reward", "clip_obs": "clip_obs", "clip_reward": "clip_reward"}
        norm = {}
        for k, x in kwargs.items():
            if k in names:
                norm[names[k]] = x
            elif k != "gamma":  # rl-zoo3 sets VecNormalize's gamma to the algorithm's; so does rlgen
                self.skip(f"normalize.{k}", x, "not an rlgen env.normalize field")
        self.env["normalize"] = norm

    def key_env_wrapper(self, v: Any) -> None:
        from rlgen.envs import resolve_wrapper
        from rlgen.registry import WRAPPERS

        wrappers = []
        for item in v if isinstance(v, list) else [v]:
            name, kwargs = (item, None) if isinstance(item, str) else next(iter(item.items()))
            module, _, cls = str(name).rpartition(".")
            # gymnasium's wrappers by class name: their modules moved in gymnasium 1.0
            spec: Any = f"{module}:{cls}" if module and not module.startswith("gymnasium.") else cls
            spec = spec if kwargs is None else {spec: kwargs}
            try:
                cls, _ = resolve_wrapper(spec)
            except (RlgenError, ImportError, AttributeError) as e:
                self.skip("env_wrapper", name, f"cannot use it here: {e}")
                continue
            # a registered name for it (SB3's AtariWrapper): the run opens without --trust
            alias = next((n for n in WRAPPERS.names() if WRAPPERS.problem(n) is None and WRAPPERS.get(n) is cls), None)
            if alias is not None:
                spec = alias if kwargs is None else {alias: kwargs}
            wrappers.append(spec)
        if wrappers:
            self.env["wrappers"] = wrappers

    def key_learning_rate(self, v: Any) -> None:
        if isinstance(v, str) and v.startswith("lin_"):
            self.optim.update(lr=float(v[4:]), schedule="linear")
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            self.optim["lr"] = float(v)
        else:
            self.skip("learning_rate", v, "only numbers and lin_X schedules convert")

    def key_noise_type(self, v: Any) -> None:
        kinds = {"normal": "normal", "ornstein-uhlenbeck": "ornstein_uhlenbeck"}
        if str(v).strip() not in kinds:
            return self.skip("noise_type", v, f"rlgen builds {', '.join(kinds)}")
        self.hyperparams.setdefault("action_noise", {"sigma": 0.1})["type"] = kinds[str(v).strip()]

    def key_noise_std(self, v: Any) -> None:
        self.hyperparams.setdefault("action_noise", {"type": "normal"})["sigma"] = float(v)

    def key_policy_kwargs(self, v: Any) -> None:
        try:
            kwargs = _literal(v) if isinstance(v, str) else dict(v)
        except ValueError as e:
            return self.skip("policy_kwargs", v, str(e))
        policy_cls = self.cls.policy_aliases.get("MlpLstmPolicy" if self.algo == "recurrent_ppo" else "MlpPolicy")
        accepted = inspect.signature(policy_cls).parameters
        for k, x in kwargs.items():
            if k == "net_arch":
                self.policy["net_arch"] = x
            elif k == "activation_fn":
                if _class_name(x) in _ACTIVATIONS:
                    self.policy["activation"] = _ACTIVATIONS[_class_name(x)]
                else:
                    self.skip("policy_kwargs.activation_fn", x, f"rlgen activations: {', '.join(_ACTIVATIONS)}")
            elif k == "optimizer_class":
                if _class_name(x) in _OPTIMIZERS:
                    self.optim["type"] = _OPTIMIZERS[_class_name(x)]
                else:
                    self.skip("policy_kwargs.optimizer_class", x, f"rlgen optimizers: {', '.join(_OPTIMIZERS)}")
            elif k == "optimizer_kwargs":
                self._optimizer_kwargs(x)
            elif k.startswith("features_extractor"):
                self.skip(f"policy_kwargs.{k}", x, "custom SB3 feature extractors do not convert; "
                          "an rlgen backbone takes their place (agent.policy.backbone)")
            elif k not in accepted:
                self.skip(f"policy_kwargs.{k}", x, f"{policy_cls.__name__} takes no such argument")
            elif isinstance(x, _Name):
                self.skip(f"policy_kwargs.{k}", x, "a Python object, not a value")
            else:
                self.policy.setdefault("kwargs", {})[k] = x

    def _optimizer_kwargs(self, kwargs: Any) -> None:
        for k, x in dict(kwargs).items():
            if k in ("eps", "weight_decay", "momentum"):
                self.optim[k] = float(x)
            elif k == "betas":
                self.optim["betas"] = [float(b) for b in x]
            elif k == "fused":
                self.optim["fused"] = bool(x)
            elif not (k == "alpha" and float(x) == 0.99):  # torch's RMSprop default
                self.skip(f"policy_kwargs.optimizer_kwargs.{k}", x, "not an rlgen optim field")

    def key_train_freq(self, v: Any) -> None:
        self.hyperparams["train_freq"] = list(v) if isinstance(v, (list, tuple)) else v

    def _hyperparam(self, key: str, value: Any) -> None:
        from rlgen.agents.rl.algos import check_hyperparams

        problems = check_hyperparams(self.algo, {key: value})
        if problems:
            self.skip(key, value, problems[0].split(": ", 1)[-1])
        else:
            self.hyperparams[key] = value


# --- rl-zoo3's python-literal strings, parsed without eval ----------------------------------------


class _Name(str):
    """A dotted name in a policy_kwargs string (nn.ReLU, th.optim.Adam): kept as its text."""


def _class_name(x: Any) -> str:
    return str(x).rpartition(".")[2]


def _literal(text: str) -> Any:
    """'dict(net_arch=[64, 64], activation_fn=nn.ReLU)' -> {'net_arch': [64, 64], 'activation_fn': 'nn.ReLU'}."""
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as e:
        raise ValueError(f"not a Python literal: {e.msg}") from None
    return _value(tree)


def _value(node: ast.AST) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_value(e) for e in node.elts]
    if isinstance(node, ast.Dict):
        return {_value(k): _value(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict" and not node.args:
        return {kw.arg: _value(kw.value) for kw in node.keywords}
    if isinstance(node, (ast.Name, ast.Attribute)):
        return _Name(ast.unparse(node))
    raise ValueError(f"cannot read {ast.unparse(node)!r} without running it")
