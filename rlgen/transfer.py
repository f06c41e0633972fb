"""Transfer: start a backbone from a trained one of another run, in any role.

Any backbone section of any config takes `init: {run: RUN_DIR, role: ROLE, freeze: bool, lr: float}`:

    agent:
      policy:
        backbone: {type: cnn, channels: [16, 32], kernels: [3, 3], strides: [1, 1], hidden: 128,
                   init: {run: runs/autoencoder_minatar_breakout, role: encoder, freeze: true}}

`role` names one of the run's modules (`rlgen.load_run(run).modules()`, listed by `rlgen inspect
RUN_DIR`); the backbone inside it is its *trunk* (`trunk`): an autoencoder's encoder without its
latent head, a classifier's backbone without its head, a GAN discriminator's body without its
logit, an RL policy's features extractor, a GAN generator's or an autoencoder decoder's backbone
(the mlp / cnn decoder whole, a sequence backbone without its per-step Linear). Its tensors are
copied onto the new backbone by name (or, when the names differ but the shapes line up, in order);
any mismatch is one error naming both sides before training starts. Frames the two sides read in
another axis order (an mlp policy flattens MinAtar's (H, W, C) frames as they come, the
`observations` source holds them channels first) are reordered at the first Linear, so the copy
computes what its source computed on the same observation (`in_target_frame`). `freeze: true` takes
the backbone out of every optimizer and keeps it in eval mode (batch-norm statistics and dropout
fixed too), and an off-policy RL policy's target networks out of their polyak updates
(agents/rl/frozen_targets.py), so it stays bit-identical; a spectral-normed discriminator leaves it
unnormalised (`is_frozen`), so it computes what it did in its source run. Otherwise `lr` gives it
its own learning rate (rlgen/optim.py).
"""

from __future__ import annotations

import functools
import math
import warnings
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Iterator

import torch
from torch import nn

from rlgen.config import InitConfig
from rlgen.errors import RlgenError, RlgenWarning, shell_line
from rlgen.optim import LR_ATTR


class BackboneMismatch(RlgenError):
    """A loaded backbone's tensors do not fit the backbone an `init` names (its `where`)."""


CHANNEL_LAST_FRAME = "channel_last_frame"  # a backbone attribute: the (H, W, C) frame its flat input is

Frame = tuple[str, tuple[int, int, int]]  # ("CHW", (C, H, W)) or ("HWC", (H, W, C))


def resolve_run(run: str | Path) -> Path:
    """A run directory or one of its checkpoint directories as given; or, for a folder of runs of
    one config (`runs/<name>`: every run in it has that config's name), its finished run that
    checkpointed last (what eval, export or record write into a run does not count), said on the
    console. A run that has not finished (interrupted, or training now) is never picked: its
    weights are not the config's result and may still change; its directory names it."""
    from rlgen.checkpoint import FINISHED, STATE, run_status
    from rlgen.logging import console

    path = Path(run)
    if (path / "config.yaml").is_file() or (path / STATE).is_file():
        return path
    runs = [p.parent for p in path.glob("*/config.yaml") if (p.parent / "checkpoints" / "latest").is_file()] \
        if path.is_dir() else []
    deeper = [] if runs or not path.is_dir() else \
        [p.parent for p in path.glob("*/*/config.yaml") if (p.parent / "checkpoints" / "latest").is_file()]
    if not runs and not deeper:
        raise RlgenError(f"{run} is not a run directory and holds no finished run (runs/<name>/<id> with a "
                         "checkpoint); train that config first, or give a run directory")
    # runs/<name>/<id>: a folder of such folders is named by them (no config of thousands read to say so)
    names = sorted({_run_name(r) for r in runs} if runs else {r.parent.name for r in deeper})
    if deeper or len(names) > 1:  # runs/ itself, or a folder of one config's runs mixed with others
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        counted = f"{len(names)} configs ({shown}), not one" if len(names) > 1 else f"1 config ({shown}) one folder down"
        raise RlgenError(f"{run} is not a run directory, and its runs are of {counted}: give a run directory, or "
                         "runs/<name> for that config's newest finished run")
    runs.sort(key=lambda r: (r / "checkpoints" / "latest").stat().st_mtime)
    finished = [r for r in runs if run_status(r, quiet=True) in FINISHED]
    if not finished:
        newest = runs[-1]
        raise RlgenError(f"{run} holds no finished run of {names[0]} (its newest, {newest}, is "
                         f"{run_status(newest, quiet=True) or 'unfinished'}); give that run's directory to use it "
                         "as it is, or finish a run first")
    console.print(f"{run}: its newest finished run, {finished[-1]}", highlight=False, markup=False)
    return finished[-1]


def _run_name(run_dir: Path) -> str:
    """The config name in a run's config.yaml (`?` when it cannot be read)."""
    from rlgen.run_data import read_config

    try:
        return str(read_config(run_dir).get("name", "?"))
    except RlgenError:
        return "?"


def trunk(module: nn.Module) -> nn.Module:
    """The backbone inside a role's module: follow `.backbone` (kinds' wrappers, rlgen's SB3
    extractor, GAN players), else the first submodule that has one (an SB3 policy: its actor's
    features extractor), else the module itself."""
    inner = getattr(module, "backbone", None)
    if isinstance(inner, nn.Module) and inner is not module:
        return trunk(inner)
    for sub in module.modules():
        if sub is not module and isinstance(getattr(sub, "backbone", None), nn.Module):
            return trunk(sub)
    return module


def sb3_owner(net: nn.Module) -> str | None:
    """`stable_baselines3` or `sb3_contrib` when `net`, a role's `trunk`, is that library's own
    module (a whole policy, or FlattenExtractor, NatureCNN): what an RL policy without an rlgen
    backbone holds (`backbone: null`, or recurrent_ppo, whose LSTM is sb3-contrib's); else None."""
    top = type(net).__module__.split(".")[0]
    return top if top in ("stable_baselines3", "sb3_contrib") else None


def policy_roles(policy: nn.Module) -> dict[str, nn.Module]:
    """An SB3 policy's roles: `policy`, the whole policy (its trunk: the actor's features
    extractor), and, when it has a critic, `value`: the critic's features extractor, the same
    module as the actor's when they share one. On-policy actor-critics (PPO, A2C, TRPO, their
    maskable and recurrent kinds) keep it as `vf_features_extractor`, SAC, TD3, DDPG and TQC as
    `critic.features_extractor`; DQN and QR-DQN have no critic (their Q-network is the policy)."""
    value = getattr(policy, "vf_features_extractor", None)
    critic = getattr(policy, "critic", None)
    if value is None and isinstance(critic, nn.Module):
        value = getattr(critic, "features_extractor", None)
    return {"policy": policy, **({"value": value} if isinstance(value, nn.Module) else {})}


def describe(module: nn.Module) -> str:
    """`CNNEncoder (4, 10, 10) -> 128, 3 tensors, 21,568 weights`; a flat input that is a frame
    channel-last says so: `MLP (400,) = (10, 10, 4) channel-last -> 32, ...`."""
    shape = getattr(module, "in_shape", None)
    out = getattr(module, "out_shape", None) or getattr(module, "out_dim", None)
    frame = getattr(module, CHANNEL_LAST_FRAME, None)
    io = ""
    if shape is not None and out is not None:  # a plugin backbone, or SB3's own extractor, may say neither
        io = f" {tuple(shape)}" + (f" = {tuple(frame)} channel-last" if frame is not None else "") + f" -> {out}"
    state = module.state_dict()
    weights = sum(t.numel() for t in state.values() if t.is_floating_point())
    return f"{type(module).__name__}{io}, {len(state)} tensors, {weights:,} weights"


def load_trunk(init: InitConfig, where: str | None = None) -> tuple[dict[str, torch.Tensor], str, Any, list[str],
                                                                   Frame | None]:
    """The state dict of `init.role`'s trunk in `init.run` (on the CPU), a line describing it,
    that run's config (what it trained on), the trunk's layers without weights (`layers`) and the
    frame it reads (`frame_of`). `where`: the config path of the backbone section, for messages."""
    from rlgen.api import load_run
    from rlgen.process import process_state_kept

    at = f"{where}.init" if where else "init"
    try:
        run_dir = resolve_run(init.run)
    except RlgenError as e:
        raise RlgenError(f"{at}.run: {e}") from None
    # opening that run seeds the global RNGs and sets torch's threads: the run being set up keeps its own
    with process_state_kept(), load_run(run_dir, trust=_trusting.get()) as run:
        roles = run.modules()
        if init.role not in roles:
            raise RlgenError(f"{at}.role: run {run_dir} has no role {init.role!r}; its roles: "
                             f"{', '.join(roles) or 'none'} ({shell_line('rlgen', 'inspect', run_dir)})")
        net = trunk(roles[init.role])
        if owner := sb3_owner(net):
            raise RlgenError(f"{at}: the {init.role} of {run_dir} has no rlgen backbone to load (it holds "
                             f"{type(net).__name__}, {owner}'s own: that run's backbone is null, or its algo keeps "
                             "the layers itself, as recurrent_ppo does its LSTM); give a role that has one "
                             f"({shell_line('rlgen', 'inspect', run_dir)}), or no init")
        state = {k: v.detach().cpu().clone() for k, v in plain_state(net).items()}
        return state, f"the {init.role} of {run_dir} ({describe(net)})", run.config, layers(net), frame_of(net)


def frame_of(net: nn.Module) -> Frame | None:
    """The image frame `net` reads and its axis order: ("HWC", (H, W, C)) when its flat input is
    one flattened channel-last (`CHANNEL_LAST_FRAME`: an mlp policy's on MinAtar), ("CHW", in_shape)
    when its in_shape is a frame (every image source, a cnn policy's frames), else None (unknown)."""
    frame = getattr(net, CHANNEL_LAST_FRAME, None)
    if frame is not None:
        return "HWC", tuple(frame)
    shape = getattr(net, "in_shape", None)
    return ("CHW", tuple(shape)) if isinstance(shape, tuple) and len(shape) == 3 else None


def in_target_frame(state: dict[str, torch.Tensor], there: Frame | None, here: Frame | None, source: str,
                    where: str) -> dict[str, torch.Tensor]:
    """`state`, with the input columns of its first Linear over the frame reordered when the source
    read that frame in another axis order than the target (`frame_of`): the copy then computes, on
    the same observation, what the source computed. Shapes alone cannot tell: both sides flatten
    C*H*W inputs. Frames of another size, or no Linear over the frame to reorder, are one error."""
    if there is None or here is None or there[0] == here[0]:
        return state
    chw = [shape if order == "CHW" else (shape[2], shape[0], shape[1]) for order, shape in (there, here)]
    key = next((k for k, t in state.items() if t.dim() == 2 and t.shape[1] == math.prod(there[1])), None)
    if chw[0] != chw[1] or key is None:
        why = "another frame; start it from a run on this env" if chw[0] != chw[1] else \
            "its inputs cannot be reordered (its first layer is no Linear over the frame); give both sides type cnn"
        raise BackboneMismatch(f"{where}.init: {source} reads {_frame_words(there)}, {where} reads "
                               f"{_frame_words(here)}: {why}")
    weight = state[key].reshape(-1, *there[1])  # (out, *frame in the source's order)
    # (out, C, H, W) -> (out, H, W, C), or back: column (h, w, c) here takes column (c, h, w) there
    weight = weight.permute(0, 2, 3, 1) if there[0] == "CHW" else weight.permute(0, 3, 1, 2)
    return {**state, key: weight.reshape(state[key].shape).contiguous()}


def _frame_words(frame: Frame) -> str:
    order, shape = frame
    return f"{shape} frames {'channels first' if order == 'CHW' else 'channel-last'}"


def plain_state(net: nn.Module) -> dict[str, torch.Tensor]:
    """`net.state_dict()` as the same network without parametrizations would hold it: a
    spectral-normed layer gives its normalized `weight` (what it computes with), not its
    `parametrizations.weight.original` and power-iteration vectors, so it fits a plain backbone."""
    from torch.nn.utils import parametrize

    if not any(parametrize.is_parametrized(m) for m in net.modules()):
        return net.state_dict()
    was = net.training
    net.eval()  # no power-iteration step while the weights are read
    state: dict[str, torch.Tensor] = {}
    try:
        with torch.no_grad():
            for name, sub in net.named_modules():
                if "parametrizations" in name.split("."):
                    continue  # the original weight and the power-iteration vectors: read through the layer
                prefix = f"{name}." if name else ""
                if parametrize.is_parametrized(sub):
                    for p in sub.parametrizations:
                        state[prefix + p] = getattr(sub, p).detach()
                for key, t in [*sub._parameters.items(), *sub._buffers.items()]:
                    if t is not None and key not in sub._non_persistent_buffers_set:
                        state[prefix + key] = t.detach()
    finally:
        net.train(was)
    return state


_restoring: ContextVar[bool] = ContextVar("restoring", default=False)
_trusting: ContextVar[bool] = ContextVar("trusting", default=False)


@contextmanager
def trusting(trust: bool) -> Iterator[None]:
    """Within it, the runs `init` names open as `rlgen.load_run(..., trust=trust)` (`--trust`)."""
    token = _trusting.set(trust)
    try:
        yield
    finally:
        _trusting.reset(token)


@contextmanager
def restoring() -> Iterator[None]:
    """Within it, experiments are built to receive a checkpoint (a resume, `rlgen.load_run`): a
    backbone's `init` freezes it or sets its lr as in training, but loads nothing, so the run it
    came from need not exist any more; the checkpoint holds the weights."""
    token = _restoring.set(True)
    try:
        yield
    finally:
        _restoring.reset(token)


def apply_init(targets: list[nn.Module] | nn.Module, init: InitConfig | None, where: str) -> Any:
    """Load `init` into each target backbone (one load for all), then freeze it or give it its own lr.
    `where` is the config path of the backbone section, for messages. Returns the config of the run
    it loaded from (None when nothing was loaded: no init, or a checkpoint brings the weights)."""
    if init is None:
        return None
    targets = [targets] if isinstance(targets, nn.Module) else targets
    loaded = (None, "", None, None, None) if _restoring.get() else load_trunk(init, where)
    state, source, source_config, there, frame = loaded
    for target in targets:
        if state is not None:
            copy_state(in_target_frame(state, frame, frame_of(target), source, where), target, source, where)
            _warn_other_layers(there, layers(target), source, where)
        if init.freeze:
            freeze(target)
        elif init.lr is not None:
            for p in target.parameters():
                setattr(p, LR_ATTR, init.lr)
    return source_config


_NOT_COMPUTED_WITH = (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Identity)  # off at evaluation, or nothing


def layers(net: nn.Module) -> list[str]:
    """The layers without weights of `net`, in order (activations, pooling): what the copied
    weights compute with, which their shapes do not show. Dropout is left out (it may change for
    fine-tuning), and so are a parametrization's own modules (spectral norm's)."""
    return [type(m).__name__ for name, m in net.named_modules()
            if not list(m.children()) and not list(m.parameters(recurse=False))
            and not isinstance(m, _NOT_COMPUTED_WITH) and "parametrizations" not in name.split(".")]



def _warn_other_layers(there: list[str] | None, here: list[str], source: str, where: str) -> None:
    """Weights that fit by shape but were trained to compute with other layers (a tanh MLP's into
    a relu one): one warning line, since a change of activation can be meant (then fine-tuned)."""
    if there is None or there == here:
        return
    first = next((i for i, (a, b) in enumerate(zip(there, here)) if a != b), min(len(there), len(here)))
    theirs = there[first] if first < len(there) else "nothing"
    ours = here[first] if first < len(here) else "nothing"
    warnings.warn(f"{where}.init: {source} computes with {theirs} where {where} has {ours}: its weights were "
                  "trained for another function; give this backbone the activation of that run unless you mean to "
                  "change it", RlgenWarning, stacklevel=2)


def copy_state(state: dict[str, torch.Tensor], target: nn.Module, source: str, where: str) -> None:
    """Copy `state` onto `target`'s tensors by name, or in order when only the names differ; an
    error naming both sides when they do not fit."""
    mine = target.state_dict()
    if list(state) == list(mine) or set(state) == set(mine):
        pairs = [(k, k) for k in mine]
    else:
        pairs = list(zip(state, mine)) if len(state) == len(mine) else []
    bad = [f"{theirs} is {tuple(state[theirs].shape)} there, {ours} is {tuple(mine[ours].shape)} here"
           for theirs, ours in pairs if state[theirs].shape != mine[ours].shape]
    if not pairs:
        only_there = [k for k in state if k not in mine][:3]
        only_here = [k for k in mine if k not in state][:3]
        bad = [f"{len(state)} tensors there, {len(mine)} here (only there: {', '.join(only_there) or '-'}; "
               f"only here: {', '.join(only_here) or '-'})"]
    if bad:
        shown = "; ".join(bad[:3]) + (f"; and {len(bad) - 3} more" if len(bad) > 3 else "")
        raise BackboneMismatch(f"{where}.init: {source} does not fit {where} ({describe(target)}): {shown} — "
                         "give this backbone the same type and sizes as the one in that run")
    with torch.no_grad():
        for theirs, ours in pairs:
            mine[ours].copy_(state[theirs])


def freeze(module: nn.Module) -> None:
    """No gradients, and eval mode for good: `module.train()` (which every kind and SB3 call) leaves
    it in eval mode, so batch-norm statistics and dropout stay fixed too."""
    module.requires_grad_(False)
    module.eval()
    # a partial of a module-level function, not a bound method: `torch.save(module)` round-trips it
    module.train = functools.partial(_stay_in_eval, module)  # type: ignore[method-assign]


def _stay_in_eval(self: nn.Module, mode: bool = True) -> nn.Module:
    return nn.Module.train(self, False)


def is_frozen(module: nn.Module) -> bool:
    """Whether `freeze` froze `module` (a backbone whose `init` has `freeze: true`)."""
    train = vars(module).get("train")
    return isinstance(train, functools.partial) and train.func is _stay_in_eval


def roles_table(modules: dict[str, nn.Module]) -> list[tuple[str, str, str, list[tuple[str, tuple[int, ...]]]]]:
    """For `rlgen inspect`: (role, module description, trunk description, trunk tensors with shapes);
    a role without an rlgen backbone (`sb3_owner`) says so, with no tensors."""
    rows = []
    for role, module in modules.items():
        net = trunk(module)
        n = sum(p.numel() for p in module.parameters())
        whole = f"{type(module).__name__}, {n:,} parameters"
        if owner := sb3_owner(net):
            rows.append((role, whole, f"none from rlgen ({type(net).__name__} is {owner}'s own): nothing for an "
                                      "init to load", []))
            continue
        tensors = [(k, tuple(v.shape)) for k, v in net.state_dict().items() if v.dim() > 0 or math.prod(v.shape) > 1]
        rows.append((role, whole, describe(net), tensors))
    return rows
