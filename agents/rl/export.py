"""Trained RL agents out of rlgen: SB3's own model.zip (and rl-zoo3's folder layout), ONNX, TorchScript.

`sb3` writes what SB3's `save` writes, so `PPO.load("model.zip")` (or the algorithm's `load`)
restores the policy, plus `vecnormalize.pkl` when the run normalized observations or rewards
(`VecNormalize.load`), and the same files in rl-zoo3's layout so that its `enjoy` finds them:

    OUT/model.zip, OUT/vecnormalize.pkl
    OUT/rl-zoo/ppo/CartPole-v1_1/CartPole-v1.zip              (a hard link of model.zip)
    OUT/rl-zoo/ppo/CartPole-v1_1/CartPole-v1/config.yml      (normalize, frame_stack, env_wrapper, env_kwargs)
    python -m rl_zoo3.enjoy --algo ppo --env CartPole-v1 -f OUT/rl-zoo --exp-id 1

(`--gym-packages MODULE` added where enjoy must import the module that registers the id.) The
layout is left out where enjoy could not play it (`_no_zoo_layout`).

A policy on an rlgen backbone stores `rlgen.agents.rl.sb3_bridge.BackboneExtractor` in the zip's
policy_kwargs: the process that loads it must have rlgen installed (it need not import it). With
SB3's default extractor (`agent.policy.backbone: null`) the zip needs SB3 alone: rlgen's linear
schedules are swapped for SB3's own `LinearSchedule` while saving.

`onnx` / `torchscript` write the deterministic policy, observation -> action, exactly as SB3's
`predict(obs, deterministic=True)` computes it: VecNormalize's observation scaling (baked in, so the
graph takes the env's observations as the policy's pipeline gives them: raw, or frame-stacked with
`env.frame_stack`, or `env.history` windows), the policy's preprocessing, the action reshaped to the
action space's shape and clipped (or unsquashed) to its bounds. This is the export SB3's
documentation describes ("Exporting models"), with the pre- and post-processing included. A
`maskable_ppo` graph takes a second input, `action_masks`, in sb3-contrib's layout.
"""

from __future__ import annotations

import contextlib
import os
import types
import warnings
from pathlib import Path
from typing import Any, Iterator

import gymnasium as gym
import numpy as np
import torch
import yaml
from rich.markup import escape
from stable_baselines3.common.noise import VectorizedActionNoise
from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule
from stable_baselines3.common.utils import LinearSchedule as SB3LinearSchedule
from stable_baselines3.common.vec_env import VecNormalize, VecTransposeImage, is_vecenv_wrapped, unwrap_vec_normalize
from torch import nn

from rlgen.agents.rl.sb3_schedules import LearningRate, LinearSchedule
from rlgen.errors import RlgenError, shell_line
from rlgen.nets import backbone_traits
from rlgen.logging import console

# rlgen algo -> rl-zoo3's name for it (maskable_ppo has none: no zoo layout)
ZOO_NAMES = {"ppo": "ppo", "a2c": "a2c", "dqn": "dqn", "sac": "sac", "td3": "td3", "ddpg": "ddpg",
             "recurrent_ppo": "ppo_lstm", "qrdqn": "qrdqn", "tqc": "tqc", "trpo": "trpo"}


def export(exp: Any, fmt: str, out_dir: Path) -> list[Path]:
    """`exp`: a set-up RLExperiment with its trained weights loaded."""
    if fmt == "sb3":
        return save_sb3(exp, out_dir)
    from rlgen.export import save_module

    module = DeterministicPolicy.of(exp)  # first: what no graph format takes is refused for both, naming sb3
    backbone = exp.cfg.agent.policy.backbone
    if fmt == "onnx" and exp.cfg.env.history is not None and backbone is not None and backbone_traits(backbone.type)[0]:
        raise RlgenError(f"a {backbone.type} backbone reading env.history windows takes another path for the partial "
                         "windows of an episode's first steps, which torch's ONNX exporter cannot follow; export with "
                         "--format torchscript (the same actions) or sb3")
    inputs = {"obs": example_observations(module.observation_space, 4)}
    if module.masked:
        inputs["action_masks"] = example_masks(module.mask_groups, 4)
    path = out_dir / ("policy.onnx" if fmt == "onnx" else "policy.pt")
    # sb3-contrib's masking: its -1e8 is a true constant, and as_tensor of the mask tensor a no-op
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"torch\.(as_)?tensor results are registered as constants",
                                torch.jit.TracerWarning)
        return [save_module(module, inputs, "action", path, fmt)]


# --- SB3's zip ------------------------------------------------------------------------------------


def save_sb3(exp: Any, out_dir: Path) -> list[Path]:
    cfg, model = exp.cfg, exp.model
    zip_path = out_dir / "model.zip"
    with portable_schedules(model), plain_replay_buffer(model):
        model.save(zip_path)
    files = [zip_path]
    if _normalizes(cfg):
        unwrap_vec_normalize(exp.env).save(out_dir / "vecnormalize.pkl")
        files.append(out_dir / "vecnormalize.pkl")
    if cfg.agent.policy.backbone is not None and cfg.agent.algo != "recurrent_ppo":
        console.print("note: the policy uses rlgen's BackboneExtractor; the process that loads model.zip "
                      "needs rlgen installed")
    files += _zoo_layout(exp, files, out_dir / "rl-zoo")
    return files


@contextlib.contextmanager
def plain_replay_buffer(model: Any) -> Iterator[None]:
    """While saving, an off-policy model's replay buffer class and arguments are SB3's own: the
    imitation kind's relabelling buffer holds its discriminator, which is no part of the learner
    (and a spectral-normed one cannot be pickled at all)."""
    cls = getattr(model, "replay_buffer_class", None)
    if cls is None or cls.__module__.startswith("stable_baselines3") or cls.__module__.startswith("sb3_contrib"):
        yield
        return
    from stable_baselines3.common.buffers import DictReplayBuffer, ReplayBuffer

    kwargs = model.replay_buffer_kwargs
    model.replay_buffer_class = DictReplayBuffer if issubclass(cls, DictReplayBuffer) else ReplayBuffer
    model.replay_buffer_kwargs = {}
    try:
        yield
    finally:
        model.replay_buffer_class, model.replay_buffer_kwargs = cls, kwargs


@contextlib.contextmanager
def portable_schedules(model: Any) -> Iterator[None]:
    """While saving, rlgen's run-wide linear schedules become SB3's own LinearSchedule (the same
    values over SB3's progress), so the zip unpickles without rlgen, and the action noise is the
    one noise SB3 was given, not the run's copy per env."""
    swapped = {}
    for key, value in list(vars(model).items()):
        native = _native(value)
        if native is not value:
            swapped[key] = value
            setattr(model, key, native)
    try:
        yield
    finally:
        for key, value in swapped.items():
            setattr(model, key, value)


def _native(value: Any) -> Any:
    if isinstance(value, LinearSchedule):
        return SB3LinearSchedule(value.start, 0.0, 1.0)  # start * progress_remaining, as lin_X
    if isinstance(value, LearningRate):  # optim.lr, constant or `schedule: linear`
        optim = value.optim
        return SB3LinearSchedule(optim.lr, 0.0, 1.0) if optim.schedule == "linear" else ConstantSchedule(optim.lr)
    if isinstance(value, FloatSchedule) and isinstance(value.value_schedule, (LinearSchedule, LearningRate)):
        return FloatSchedule(_native(value.value_schedule))
    if isinstance(value, VectorizedActionNoise):  # one noise per env copy of this run: the loader's
        return value.base_noise  # env may have another number, and SB3 wraps it for that at learn()
    return value


def _zoo_layout(exp: Any, files: list[Path], root: Path) -> list[Path]:
    """The files again (hard links) where rl-zoo3's enjoy looks for experiment 1."""
    cfg = exp.cfg
    algo = ZOO_NAMES.get(cfg.agent.algo)
    module, _, env_id = cfg.env.id.rpartition(":")  # gymnasium's `module:EnvId` form
    why = _no_zoo_layout(cfg, algo, env_id)
    if why:
        console.print(f"note: no rl-zoo3 layout ({escape(why)}); model.zip loads with {type(exp.model).__name__}.load")
        return []
    name = env_id.replace("/", "-")  # huggingface_sb3's EnvironmentName
    run = root / algo / f"{name}_1"
    (run / name).mkdir(parents=True, exist_ok=True)
    written = [_link(files[0], run / f"{name}.zip")]
    if len(files) > 1:
        written.append(_link(files[1], run / name / "vecnormalize.pkl"))
    (run / name / "config.yml").write_text(yaml.safe_dump(_zoo_hyperparams(cfg)), encoding="utf-8")
    written.append(run / name / "config.yml")
    # enjoy makes the env with gymnasium.spec(--env), so the modules that register the id go first
    enjoy = shell_line("python", "-m", "rl_zoo3.enjoy", "--algo", algo, "--env", env_id, "-f", root, "--exp-id", 1,
                       *(a for p in _registering_modules(module, env_id) for a in ("--gym-packages", p)))
    console.print(f"rl-zoo3: {escape(enjoy)}")
    return written


def _normalizes(cfg: Any) -> bool:
    """Whether the run's VecNormalize normalizes anything: one with `obs` and `reward` off passes
    both through, and its statistics would only read as if the policy needed them."""
    return cfg.env.normalize is not None and (cfg.env.normalize.obs or cfg.env.normalize.reward)


def _no_zoo_layout(cfg: Any, algo: str | None, env_id: str) -> str | None:
    """Why rl-zoo3's enjoy could not play this run from its layout; None when it can."""
    if algo is None:
        return "rl-zoo3 has no " + cfg.agent.algo
    if cfg.env.history is not None:
        return "env.history windows are built by rlgen, not rl-zoo3"
    if cfg.env.frame_stack and _normalizes(cfg):
        # rlgen normalizes stacked frames (vecnormalize.pkl has the stacked shape); rl-zoo3's
        # create_test_env loads VecNormalize on the unstacked env and stacks after it
        return "rlgen normalizes stacked frames, rl-zoo3 stacks normalized ones"
    if env_id.startswith("MinAtar/"):
        return "no module registers MinAtar's ids on import, which enjoy's --gym-packages needs"
    entry, package = _env_package(env_id)
    if entry is not None and package is None:
        return (f"{env_id} is registered by calling {entry.target} (the rlgen.envs entry point {entry.name!r} "
                f"{entry.source}), not by importing a module, which is all enjoy's --gym-packages does")
    return None


def _env_package(env_id: str) -> tuple[Any, str | None]:
    """The `rlgen.envs` entry point that registered `env_id` (None: none did) and the module whose
    import registers it (None where the entry point is a function that registers when called)."""
    from rlgen.registry import env_package_of

    entry = env_package_of(env_id)
    if entry is None:
        return None, None
    target = entry.target
    if isinstance(target, str):
        return entry, None if ":" in target else target
    return entry, target.__name__ if isinstance(target, types.ModuleType) else None


def _registering_modules(module: str, env_id: str) -> list[str]:
    """The modules enjoy must import (`--gym-packages`) for gymnasium to know `env_id`: the module
    of a `module:EnvId` id, rlgen's own for `rlgen/...` ids, and the module of the rlgen.envs entry
    point (a plugin's) that registered it."""
    packages = [module, "rlgen.envs.registration" if env_id.startswith("rlgen/") else "", _env_package(env_id)[1]]
    return list(dict.fromkeys(p for p in packages if p))


def _zoo_hyperparams(cfg: Any) -> dict[str, Any]:
    """What rl-zoo3's create_test_env reads from config.yml to rebuild the env pipeline."""
    from rlgen.envs import resolve_wrapper

    hp: dict[str, Any] = {"normalize": _normalizes(cfg), "n_envs": cfg.env.n_envs}
    if cfg.env.frame_stack:
        hp["frame_stack"] = cfg.env.frame_stack
    if cfg.env.kwargs:
        hp["env_kwargs"] = dict(cfg.env.kwargs)
    wrappers = []
    for spec in cfg.env.wrappers:
        cls, kwargs = resolve_wrapper(spec)
        path = f"{cls.__module__}.{cls.__qualname__}"
        wrappers.append({path: kwargs} if kwargs else path)
    if wrappers:
        hp["env_wrapper"] = wrappers
    return hp


def _link(src: Path, dst: Path) -> Path:
    dst.unlink(missing_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        import shutil

        shutil.copy2(src, dst)
    return dst


# --- the deterministic policy as one torch module ---------------------------------------------------


class DeterministicPolicy(nn.Module):
    """(B, *obs_shape) observations as the env gives them [, (B, M) bool action masks] -> (B, *action_shape)
    the actions SB3's `predict(obs, deterministic=True[, action_masks=...])` returns (module docstring)."""

    def __init__(self, policy: Any, normalize: VecNormalize | None = None, env_space: gym.Space | None = None,
                 masked: bool = False):
        """`env_space`: the env's channel-last image space, when SB3 transposed it for the policy
        (VecTransposeImage): the graph takes the env's frames and transposes them itself. `masked`:
        a maskable policy (sb3-contrib's MaskablePPO): `forward` takes the action masks too."""
        super().__init__()
        self.policy = policy
        self.masked = masked
        self.channels_last = env_space is not None
        self.observation_space = env_space if env_space is not None else policy.observation_space
        self.normalized = normalize is not None and bool(normalize.norm_obs)
        if self.normalized:  # VecNormalize.normalize_obs, in float32
            self.register_buffer("obs_mean", torch.as_tensor(normalize.obs_rms.mean, dtype=torch.float32))
            self.register_buffer("obs_var", torch.as_tensor(normalize.obs_rms.var, dtype=torch.float32))
            self.clip_obs, self.epsilon = float(normalize.clip_obs), float(normalize.epsilon)
        space = policy.action_space
        self.action_shape = tuple(space.shape)
        self.mask_groups = mask_groups(space) if masked else []
        self.box = isinstance(space, gym.spaces.Box)
        if self.box:
            self.register_buffer("low", torch.as_tensor(space.low, dtype=torch.float32))
            self.register_buffer("high", torch.as_tensor(space.high, dtype=torch.float32))
            self.squashed = bool(policy.squash_output)

    @classmethod
    def of(cls, exp: Any) -> DeterministicPolicy:
        cfg = exp.cfg
        if cfg.agent.algo == "recurrent_ppo":
            raise RlgenError("recurrent_ppo carries an LSTM state from step to step; export it with --format sb3 "
                             "(RecurrentPPO.load) — an ONNX/TorchScript graph would need the state as input and output")
        norm = unwrap_vec_normalize(exp.env)
        # only normalized observations: the rewards a window shows are the env's own (agents/rl/history.py)
        if norm is not None and norm.norm_obs and cfg.env.history is not None:
            raise RlgenError("env.history windows of normalized observations cannot take raw observations in one "
                             "graph; export with --format sb3, or train with env.normalize.obs: false")
        exp.model.policy.set_training_mode(False)
        transposed = is_vecenv_wrapped(exp.model.get_env(), VecTransposeImage)
        return cls(exp.model.policy, norm, exp.env.observation_space if transposed else None,
                   masked=cfg.agent.algo == "maskable_ppo").eval()

    def forward(self, obs: torch.Tensor, action_masks: torch.Tensor | None = None) -> torch.Tensor:
        if self.normalized:  # VecNormalize computes in float: MinAtar's bool frames, uint8 pixels, ints
            obs = obs.to(torch.float32)
            obs = torch.clamp((obs - self.obs_mean) / torch.sqrt(self.obs_var + self.epsilon), -self.clip_obs, self.clip_obs)
        if self.channels_last:
            obs = obs.permute(0, 3, 1, 2)
        if self.masked:  # sb3-contrib sets masked-out logits to -1e8 before the argmax
            action = self.policy._predict(obs, deterministic=True, action_masks=action_masks)
        else:
            action = self.policy._predict(obs, deterministic=True)
        action = action.reshape(-1, *self.action_shape)  # as predict does: (B, 4) -> (B, 2, 2) for a (2, 2) Box
        if not self.box:
            return action
        if self.squashed:  # tanh-squashed policies (SAC, TD3): [-1, 1] -> the space's bounds
            return self.low + 0.5 * (action + 1.0) * (self.high - self.low)
        return torch.maximum(torch.minimum(action, self.high), self.low)


def mask_groups(space: gym.Space) -> list[int]:
    """The choices per sub-action, in sb3-contrib's mask layout: one bool per choice, sub-actions
    side by side (Discrete(n): [n]; MultiDiscrete(nvec): nvec; MultiBinary(n): n times [2])."""
    if isinstance(space, gym.spaces.Discrete):
        return [int(space.n)]
    if isinstance(space, gym.spaces.MultiDiscrete):
        return [int(k) for k in space.nvec.reshape(-1)]
    if isinstance(space, gym.spaces.MultiBinary):
        return [2] * int(np.prod(space.shape))
    raise RlgenError(f"action masks need a discrete action space, not {space}")


def example_masks(groups: list[int], n: int, seed: int = 0) -> torch.Tensor:
    """(n, sum(groups)) random bool masks that leave each sub-action at least one choice."""
    rng = np.random.default_rng(seed)
    parts = []
    for k in groups:
        mask = rng.random((n, k)) < 0.5
        mask[np.arange(n), rng.integers(k, size=n)] = True
        parts.append(mask)
    return torch.as_tensor(np.concatenate(parts, axis=1))


def example_observations(space: gym.Space, n: int, seed: int = 0) -> torch.Tensor:
    """n observations of `space` as a batch tensor (float32 for float boxes)."""
    space.seed(seed)
    batch = np.stack([np.asarray(space.sample()) for _ in range(n)])
    if batch.dtype == np.float64:
        batch = batch.astype(np.float32)
    return torch.as_tensor(batch)
