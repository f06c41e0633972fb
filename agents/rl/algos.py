"""The SB3 / sb3-contrib algorithms by name, and the checks of their hyperparameters."""

from __future__ import annotations

import difflib
import inspect
from typing import Annotated, Any, Literal, Mapping

import sb3_contrib
import stable_baselines3 as sb3
import torch
from pydantic import Field, TypeAdapter, ValidationError
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm

ALGOS: dict[str, type[BaseAlgorithm]] = {
    "ppo": sb3.PPO,
    "a2c": sb3.A2C,
    "dqn": sb3.DQN,
    "sac": sb3.SAC,
    "td3": sb3.TD3,
    "ddpg": sb3.DDPG,
    "recurrent_ppo": sb3_contrib.RecurrentPPO,
    "maskable_ppo": sb3_contrib.MaskablePPO,
    "qrdqn": sb3_contrib.QRDQN,
    "tqc": sb3_contrib.TQC,
    "trpo": sb3_contrib.TRPO,
}

# Arguments rlgen sets itself from other config sections; naming them in hyperparams is an error.
_OWNED = {
    "policy": "agent.policy", "env": "env", "learning_rate": "optim.lr (and optim.schedule)",
    "policy_kwargs": "agent.policy", "seed": "seed", "device": "device", "verbose": "logging",
    "tensorboard_log": "logging", "_init_setup_model": None, "stats_window_size": None,
    # A2C's own RMSprop: rlgen always names the optimizer, so SB3 would ignore these two
    "use_rms_prop": "optim.type (rmsprop)", "rms_prop_eps": "optim.eps (with optim.type: rmsprop)",
}


# The ranges SB3's numeric arguments mean something in, by name (every algorithm that has one),
# checked by pydantic as the config's own fields are: SB3 takes many values outside them silently
# (a buffer_size of -5 becomes a one-transition buffer).
_COUNT, _FROM_0 = TypeAdapter(Annotated[int, Field(ge=1)]), TypeAdapter(Annotated[int, Field(ge=0)])
# any sign: SB3 reads a negative gradient_steps as "as many as the steps collected" and a negative
# sde_sample_freq as "only at the start of each rollout"
_WHOLE = TypeAdapter(int)
# train_freq's other form, (frequency, unit): YAML writes it [4, episode]
_FREQUENCY = TypeAdapter(tuple[Annotated[int, Field(ge=1)], Literal["step", "episode"]])
_SHARE = TypeAdapter(Annotated[float, Field(ge=0, le=1)])
_RANGES: dict[str, TypeAdapter] = {
    **dict.fromkeys(("n_steps", "batch_size", "n_epochs", "buffer_size", "policy_delay", "target_update_interval",
                     "n_critics", "n_quantiles", "train_freq", "cg_max_steps", "line_search_max_iter",
                     "n_critic_updates", "sub_sampling_factor"), _COUNT),
    **dict.fromkeys(("learning_starts", "top_quantiles_to_drop_per_net"), _FROM_0),
    **dict.fromkeys(("gradient_steps", "sde_sample_freq"), _WHOLE),
    **dict.fromkeys(("gamma", "gae_lambda", "tau", "exploration_fraction", "exploration_initial_eps",
                     "exploration_final_eps"), _SHARE),
    **dict.fromkeys(("vf_coef", "target_policy_noise", "target_noise_clip"), TypeAdapter(Annotated[float, Field(ge=0)])),
    **dict.fromkeys(("clip_range", "clip_range_vf", "max_grad_norm", "target_kl"), TypeAdapter(Annotated[float, Field(gt=0)])),
}


_INTEGERS = frozenset(k for k, adapter in _RANGES.items() if adapter in (_COUNT, _FROM_0, _WHOLE))


def _adapter(key: str, value: Any) -> TypeAdapter:
    """The check of `value` as argument `key`: train_freq is a count or a (count, unit) pair."""
    return _FREQUENCY if key == "train_freq" and isinstance(value, (list, tuple)) else _RANGES[key]


def integral_counts(hyperparams: Mapping[str, Any]) -> dict[str, Any]:
    """Counts written as floats (`buffer_size: 1e5`, which YAML reads as 100000.0; `train_freq:
    [1e1, step]`) as the int that the config check's own adapter above made of them, so SB3 gets
    what was checked (SB3 refuses a float train_freq and fails on a float gradient_steps)."""
    return {k: _adapter(k, v).validate_python(v) if k in _INTEGERS and isinstance(v, (float, list, tuple)) else v
            for k, v in hyperparams.items()}


def _range_problem(key: str, value: Any) -> str | None:
    """Outside the range the argument means something in (a number or train_freq's pair, as
    `_type_problem` left it; lin_0.2's start is checked; None is SB3's own "off", e.g. target_kl)."""
    if key not in _RANGES or value is None:
        return None
    number = float(value[4:]) if isinstance(value, str) and value.startswith("lin_") else value
    try:
        _adapter(key, number).validate_python(number)
    except ValidationError as e:
        how = "; write n or [n, step] / [n, episode], n >= 1" if key == "train_freq" else ""
        return f"{e.errors()[0]['msg']} (got {value!r}){how}"
    return None


def is_off_policy(algo: str) -> bool:
    return issubclass(ALGOS[algo], OffPolicyAlgorithm)


def check_hyperparams(algo: str, hyperparams: dict[str, Any], *, n_envs: int | None = None,
                      policy_kwargs: Mapping[str, Any] | None = None) -> list[str]:
    """Problems with `hyperparams` against the algorithm's real signature, one line each; with the
    run's env.n_envs and agent.policy.kwargs, also the ones that come from those (None: not known)."""
    params = inspect.signature(ALGOS[algo].__init__).parameters
    allowed = [n for n in params if n not in _OWNED and n != "self"]
    problems = []
    for key, value in hyperparams.items():
        path = f"agent.hyperparams.{key}"
        if key in _OWNED:
            problems.append(f"{path}: set by rlgen from {_OWNED[key] or 'internals'}, not here")
        elif key not in params:
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append(f"{path}: {ALGOS[algo].__name__} has no argument {key!r}{hint}")
        else:
            problem = _type_problem(key, params[key].default, value) or _range_problem(key, value)
            if problem:
                problems.append(f"{path}: {problem}")
    if problems:  # the checks below read values that passed the ones above
        return problems
    return [p for p in (_episodic_problem(hyperparams, n_envs), _quantile_problem(algo, hyperparams, policy_kwargs))
            if p is not None]


def _episodic_problem(hyperparams: Mapping[str, Any], n_envs: int | None) -> str | None:
    """SB3 collects whole episodes from one env only: train_freq [n, episode] with more fails its
    first learn() with an AssertionError."""
    freq = hyperparams.get("train_freq")
    if n_envs is None or n_envs == 1 or not isinstance(freq, (list, tuple)) or freq[1] != "episode":
        return None
    return (f"agent.hyperparams.train_freq: training every {freq[0]} episode(s) needs env.n_envs 1 (SB3 collects "
            f"whole episodes from one env), not {n_envs}; set env.n_envs=1 or count steps: [{freq[0]}, step]")


def _quantile_problem(algo: str, hyperparams: Mapping[str, Any], policy_kwargs: Mapping[str, Any] | None) -> str | None:
    """TQC drops the top quantiles of each critic's n_quantiles from its target: all of them leave an
    empty target (NaN losses, reported as divergence), more wrap around to a wrong count (a
    negative slice), both silently in sb3-contrib."""
    params = inspect.signature(ALGOS[algo].__init__).parameters
    if policy_kwargs is None or "top_quantiles_to_drop_per_net" not in params:
        return None
    drop = hyperparams.get("top_quantiles_to_drop_per_net", params["top_quantiles_to_drop_per_net"].default)
    policy = inspect.signature(ALGOS[algo].policy_aliases["MlpPolicy"].__init__).parameters
    kept = policy_kwargs.get("n_quantiles", policy["n_quantiles"].default)
    if not all(isinstance(n, (int, float)) and not isinstance(n, bool) for n in (drop, kept)) or drop < kept:
        return None  # a schedule (lin_2) or a kwarg SB3 itself refuses
    return (f"agent.hyperparams.top_quantiles_to_drop_per_net: {drop} must be below agent.policy.kwargs.n_quantiles "
            f"({kept}): {ALGOS[algo].__name__} would drop every quantile of each critic's target; lower it or raise "
            "n_quantiles")


def schedulable(algo: str) -> list[str]:
    """The arguments the algorithm calls as a schedule of the progress (SB3 annotates them
    `float | Callable[[float], float]`), less the ones rlgen sets from its own sections."""
    params = inspect.signature(ALGOS[algo].__init__).parameters
    return [n for n, p in params.items() if n not in _OWNED and "Callable" in str(p.annotation)]


def schedule_problems(algo: str, hyperparams: Mapping[str, Any]) -> list[str]:
    """`lin_X` where SB3 uses the value as a number (ent_coef, tau, ...): training would fail with a
    TypeError at the first update that reads it. One line each, with its dotted path. Checked when a
    run trains (new or resumed), not in `check`, which every reopening of a run's config.yaml runs:
    a run trained so that never reached such an update still opens to act, evaluate and export."""
    names = schedulable(algo)
    takes = f"lin_X works for {', '.join(names)}" if names else "lin_X works for none of its arguments"
    return [f"agent.hyperparams.{key}: {value!r}: {ALGOS[algo].__name__} takes a number here, not a schedule "
            f"({takes}; the learning rate's schedule is optim.schedule)"
            for key, value in hyperparams.items()
            if isinstance(value, str) and value.startswith("lin_") and key not in names]


def _type_problem(key: str, default: Any, value: Any) -> str | None:
    """A loose type check against the default: numbers stay numbers (an argument with a range is one
    even where SB3's default is None; train_freq may be a pair, checked by `_range_problem`), flags
    stay flags."""
    if isinstance(value, str) and value.startswith("lin_"):
        try:
            float(value[4:])
            return None
        except ValueError:
            return f"{value!r}: a linear schedule is written lin_<start>, e.g. lin_0.2"
    if isinstance(default, bool):
        return None if isinstance(value, bool) else f"expected true/false, got {value!r}"
    numeric = isinstance(default, (int, float)) or (key in _RANGES and value is not None)
    pair = key == "train_freq" and isinstance(value, (list, tuple))
    if numeric and not pair and (isinstance(value, bool) or not isinstance(value, (int, float))):
        return f"expected a number, got {value!r}"
    return None  # structured values (action_noise: {type: normal, sigma: 0.1}) are built later


def resolved_hyperparams(model: BaseAlgorithm, configured: dict[str, Any]) -> dict[str, Any]:
    """What the SB3 model actually runs with: every constructor argument rlgen does not own, as
    configured (`lin_0.2` stays readable) or else SB3's own default, read back from the model; its
    policy class and policy_kwargs. Values are made JSON-friendly for W&B's config."""
    params = inspect.signature(type(model).__init__).parameters
    hyperparams = {}
    for name, param in params.items():
        if name == "self" or name in _OWNED or param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL):
            continue
        hyperparams[name] = configured[name] if name in configured else _plain(getattr(model, name, param.default))
    return {"algo": type(model).__name__, "policy": type(model.policy).__name__,
            "hyperparams": hyperparams, "policy_kwargs": _plain(dict(model.policy_kwargs))}


def _plain(value: Any) -> Any:
    """A value W&B's config shows as is: classes by name, containers recursively, other objects as text."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, type):
        return value.__name__
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def one_row_norm(policy: torch.nn.Module) -> bool:
    """Whether a batch of one row leaves a batch norm of the policy one value per channel, which
    torch refuses in training ("Expected more than 1 value per channel"). Decided where the norm
    acts, not from the observation space: each rlgen backbone runs once on one row of zeros and
    its batch norms' inputs are read. An mlp's or an rnn's acts on (1, H) rows, whatever window
    it reads; a transformer's on the (1 x T, D) steps of its window, one value per channel only
    for T == 1; a cnn's BatchNorm2d on (1, C, H, W) maps, H x W values per channel."""
    # imported here: sb3_bridge imports this module
    from rlgen.agents.rl.sb3_bridge import BackboneExtractor

    extractors = {id(m): m for m in policy.modules() if isinstance(m, BackboneExtractor)}.values()
    return any(_one_value_per_channel(e.net, e.in_shape) for e in extractors)


def _one_value_per_channel(net: torch.nn.Module, in_shape: tuple[int, ...]) -> bool:
    """Whether a batch norm in `net` gets one value per channel from a batch of one (1, *in_shape),
    as torch counts them (batch x the axes after the channels'). Run in eval mode without
    gradients, every submodule's mode put back: nothing in `net` changes, and no RNG is drawn."""
    norms = [m for m in net.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return False
    single: list[bool] = []
    hooks = [m.register_forward_pre_hook(lambda _, x: single.append(x[0].numel() == x[0].shape[1])) for m in norms]
    modes = [(m, m.training) for m in net.modules()]
    device = next(iter(net.parameters()), torch.zeros(0)).device
    try:
        net.eval()
        with torch.no_grad():
            net(torch.zeros(1, *in_shape, device=device))
    finally:
        for hook in hooks:
            hook.remove()
        for m, mode in modes:
            m.training = mode
    return any(single)


def one_row_batch_problem(model: BaseAlgorithm) -> str | None:
    """Batch norm in training mode refuses a batch of one row (torch: "Expected more than 1 value per
    channel"): a policy with batch norm whose SB3 updates would train on one, said before the first.
    On-policy algorithms cut each rollout into batches of batch_size, the last one holding what is
    left (A2C takes the rollout whole); off-policy ones sample batch_size rows."""
    if not one_row_norm(model.policy):
        return None
    needs = "batch norm in the policy (agent.policy.backbone.norm: batch) needs batches of 2 or more"
    name, batch = type(model).__name__, getattr(model, "batch_size", None)
    if isinstance(model, OffPolicyAlgorithm):
        return None if batch > 1 else f"agent.hyperparams.batch_size: {needs}; {name}'s is 1 (raise it, or use norm: layer)"
    rows = model.n_steps * model.n_envs
    rollout = f"each rollout (n_steps {model.n_steps} x n_envs {model.n_envs} = {rows:,})"
    if batch is None:
        return None if rows > 1 else \
            f"agent.hyperparams.n_steps: {needs}; {name} trains on {rollout} whole (raise n_steps, or use norm: layer)"
    if batch > 1 and rows % batch != 1:
        return None
    last = "" if batch == 1 else ", the last of 1 row"
    return (f"agent.hyperparams.batch_size: {needs}; {name} cuts {rollout} into batches of {batch:,}{last} (choose a "
            f"batch_size that divides {rows:,}, or use norm: layer)")


def divergence_fix(algo: str) -> str | None:
    """The runner's advice when training diverges, for a kind that trains with SB3's `algo`:
    gradient clipping where the algorithm takes max_grad_norm (PPO, A2C, DQN, ...; not SAC or TD3),
    else None (the runner's own, which every kind has)."""
    if "max_grad_norm" in inspect.signature(ALGOS[algo].__init__).parameters:
        return "lower optim.lr, clip gradients (agent.hyperparams.max_grad_norm) or add normalization"
    return None
