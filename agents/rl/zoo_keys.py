"""How each key of an rl-zoo3 hyperparameter entry becomes part of an rlgen config (the table in
`rlgen.agents.rl.zoo`'s docstring): `_Converter`, one `key_<name>` method per rl-zoo3 key, and the
reader of rl-zoo3's policy_kwargs strings, which parses them as literals and never evaluates them.
`rlgen.agents.rl.zoo` finds the entry and runs the conversion."""

from __future__ import annotations

import ast
import inspect
from typing import Any

from rlgen.errors import RlgenError, first_line

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
