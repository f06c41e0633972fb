"""Neural-network backbones: plain torch modules with `in_shape` and `out_dim`, built by name.

    net = build_backbone({"type": "gru", "hidden_size": 32}, in_shape=(8, 4))  # (B, 8, 4) -> (B, 32)
    gen = build_decoder({"type": "cnn"}, in_dim=64, out_shape=(1, 28, 28))  # (B, 64) -> (B, 1, 28, 28)

`spec` is a config section as a plain dict: "type" picks the builder, the other keys are its
keyword arguments. `where`, the section's dotted config path (`encoder.backbone`), starts every
error the build raises, so a shape that does not fit names the section to change. Backbone types live in `rlgen.registry.BACKBONES` (rlgen's own arrive through
entry points like a plugin's); a type may also be an import path, `mypkg.nets:MyEncoder`, whose
class takes `in_shape` and its keyword arguments and sets `out_dim`.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import Any

import torch
from torch import nn

from rlgen.errors import RlgenError, first_line
from rlgen.nets.checks import value_fault
from rlgen.nets.cnn import CNNDecoder, CNNEncoder
from rlgen.nets.common import ACTIVATIONS, NORMS, make_activation, make_norm, make_norm2d, pick
from rlgen.nets.heads import LinearHead
from rlgen.nets.mlp import MLP, MLPDecoder
from rlgen.nets.recurrent import RNNEncoder
from rlgen.nets.sequence_decoder import SequenceDecoder
from rlgen.nets.transformer import TransformerEncoder
from rlgen.process import rng_state, set_rng_state
from rlgen.registry import BACKBONES

# Generators' decoders (noise -> sample) are internal to the GAN kind's players, not a plugin point.
DECODERS: dict[str, Callable[..., nn.Module]] = {"cnn": CNNDecoder, "mlp": MLPDecoder}


def build_backbone(spec: Mapping[str, Any], in_shape: tuple[int, ...], where: str | None = None) -> nn.Module:
    """The backbone `spec["type"]` for inputs (B, *in_shape), the other keys as its arguments;
    `where`: the config path of `spec`, for errors."""
    with _at(where):
        kwargs = dict(spec)
        if "type" not in kwargs:
            section = where or "backbone"
            raise RlgenError(f"{section}: missing 'type' — set {section}.type to one of: "
                             f"{', '.join(BACKBONES.names())}")
        name = kwargs.pop("type")
        net = _call(BACKBONES.get(name), name, "backbone", kwargs, in_shape=tuple(in_shape))
        if not isinstance(getattr(net, "out_dim", None), int):
            raise RlgenError(f"backbone {name!r} built a {type(net).__name__} without an integer `out_dim`; "
                             "a backbone module must set self.out_dim (its feature size)")
        if isinstance(net, nn.Module):
            _probe(net, name, tuple(in_shape), per_step=kwargs.get("pool") == "sequence")
    return net


PROBE_BATCH = 2  # rows of the probe: 2, so that a batch axis lost or kept shows in the shape


def _probe(net: nn.Module, name: str, in_shape: tuple[int, ...], per_step: bool) -> None:
    """Run `net` once on zeros (PROBE_BATCH, *in_shape) and refuse an output that is not
    (B, out_dim) (`per_step`, pool "sequence": (B, T, out_dim)) of finite floats, so that an
    `out_dim` that lies, or an integer output, fails here, with the config path in front, not as a
    matmul error deep inside SB3 or a GAN step after the run directory exists. Leaves nothing changed: eval mode (no dropout, no batch-norm
    statistics updated, no spectral-norm power iteration), every submodule back in its own mode
    after, no autograd, and the global RNGs as they were, so that a seeded run draws what it drew
    without the probe (bitwise reproducibility, exact resume)."""
    want = (PROBE_BATCH, in_shape[0], net.out_dim) if per_step else (PROBE_BATCH, net.out_dim)
    tensor = next(itertools.chain(net.parameters(), net.buffers()), None)
    x = torch.zeros(PROBE_BATCH, *in_shape, device=tensor.device if tensor is not None else None)
    modes = [(m, m.training) for m in net.modules()]
    rng = rng_state()
    net.eval()
    try:
        with torch.no_grad():
            if any(isinstance(p, nn.parameter.UninitializedParameter) for p in net.parameters()):
                # lazy modules draw their weights in their first forward: that draw is theirs to keep,
                # or the next module built would draw the same numbers again
                net(x)
                rng = rng_state()
            out = net(x)
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a user's forward raises: one line naming the section
        first = (str(e).strip().splitlines() or [""])[0][:300]
        raise RlgenError(f"backbone {name!r} fails on a batch of zeros {tuple(x.shape)} (B, *in_shape): "
                         f"{type(e).__name__}: {first}") from e
    finally:
        for m, mode in modes:
            m.training = mode
        set_rng_state(rng)
    got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
    if got != want:
        raise RlgenError(f"backbone {name!r} returns {got} but sets out_dim {net.out_dim}: forward must map "
                         f"(B, *in_shape) to {'(B, T, out_dim)' if per_step else '(B, out_dim)'}, here {want}; "
                         "set self.out_dim to the size of its output's last axis")
    fault = value_fault(out)
    if fault:
        raise RlgenError(f"backbone {name!r}, on a batch of zeros {tuple(x.shape)} (B, *in_shape), {fault}")


@contextmanager
def _at(where: str | None) -> Iterator[None]:
    """Within it, an RlgenError that does not name `where` (a config path) first is raised again
    with `where: ` in front: `encoder.backbone: gru backbone: in_shape ... got (1, 8, 8)`."""
    try:
        yield
    except RlgenError as e:
        if where is None or type(e) is not RlgenError or str(e).startswith(where):
            raise
        raise RlgenError(f"{where}: {e}") from None


def build_sequence_body(spec: Mapping[str, Any], in_shape: tuple[int, int], what: str,
                        where: str | None = None) -> nn.Module:
    """The sequence backbone `spec["type"]` keeping every step: (B, T, F) -> (B, T, out_dim), built
    with pool "sequence". `what` names the role that needs it (the generator, a sequence decoder);
    `where`: the config path of `spec`, for errors."""
    with _at(where):
        return _sequence_body(spec, in_shape, what)


def _sequence_body(spec: Mapping[str, Any], in_shape: tuple[int, int], what: str) -> nn.Module:
    name = spec["type"]
    builder = BACKBONES.get(name)
    params = inspect.signature(builder).parameters
    if "pool" not in params and not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        raise RlgenError(f"{what}: a sequence backbone here must give one output per step: its class takes "
                         f"pool='sequence' and then returns (B, T, out_dim), as rlgen's gru, lstm and transformer "
                         f"do; {name!r} takes no `pool` argument — add one, or use one of those types")
    return build_backbone({**spec, "pool": "sequence"}, in_shape=in_shape)


def build_decoder(spec: Mapping[str, Any], in_dim: int, out_shape: tuple[int, ...],
                  where: str | None = None) -> nn.Module:
    """The decoder `spec["type"]` mapping (B, in_dim) to (B, *out_shape): the MLP or transposed-conv
    decoder, or for (T, F) data any sequence backbone (gru, lstm, transformer, ...) as a
    SequenceDecoder. `where`: the config path of `spec`, for errors."""
    with _at(where):
        return _decoder(spec, in_dim, out_shape)


def _decoder(spec: Mapping[str, Any], in_dim: int, out_shape: tuple[int, ...]) -> nn.Module:
    kwargs = dict(spec)
    name = kwargs.pop("type", None)
    if name not in DECODERS and isinstance(name, str) and name in BACKBONES and backbone_traits(name)[0]:
        out_activation = kwargs.pop("out_activation", None)
        steps = tuple(out_shape)[0]
        body = build_sequence_body({"type": name, **kwargs}, (steps, in_dim + steps), f"sequence decoder {name!r}")
        return SequenceDecoder(in_dim, tuple(out_shape), body, out_activation)
    if name not in DECODERS:  # a plugin that cannot load is left out of the names offered
        name = pick([*DECODERS, *(n for n in BACKBONES.names() if _loads(n) and backbone_traits(n)[0])], name,
                    "decoder type")
    return _call(DECODERS[name], name, "decoder", kwargs, in_dim=in_dim, out_shape=tuple(out_shape))


def _loads(name: str) -> bool:
    try:
        BACKBONES.get(name)
    except RlgenError:
        return False
    return True


def backbone_traits(name: str) -> tuple[bool, bool]:
    """(sequence, prefers_accelerator) of a backbone type, from its class attributes (default False)."""
    builder = BACKBONES.get(name)
    cls = getattr(builder, "func", builder)  # a partial (gru) binds a class
    return bool(getattr(cls, "sequence", False)), bool(getattr(cls, "prefers_accelerator", False))


def _call(builder: Callable[..., nn.Module], name: str, what: str, kwargs: dict[str, Any], **given: Any) -> nn.Module:
    """builder(**given, **kwargs), with RlgenError for a key the builder does not take or a value
    its constructor refuses."""
    # keys bound by a partial (the cell of "gru") and the shapes passed in are not the spec's to set
    bound = builder.keywords if isinstance(builder, partial) else {}
    params = inspect.signature(builder).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = [k for k in params if k not in bound and k not in given]
        for key in kwargs:
            pick(accepted, key, f"{what} {name!r} key")
    try:
        return builder(**given, **kwargs)
    except RlgenError:
        raise
    except Exception as e:  # noqa: BLE001 - whatever a constructor (a plugin's too) raises on its arguments
        raise RlgenError(f"{what} {name!r} cannot be built with {kwargs}: {type(e).__name__}: {first_line(e)}; "
                         "check its keys") from e


__all__ = [
    "ACTIVATIONS",
    "CNNDecoder",
    "CNNEncoder",
    "DECODERS",
    "LinearHead",
    "MLP",
    "MLPDecoder",
    "NORMS",
    "RNNEncoder",
    "SequenceDecoder",
    "TransformerEncoder",
    "backbone_traits",
    "build_backbone",
    "build_decoder",
    "build_sequence_body",
    "make_activation",
    "make_norm",
    "make_norm2d",
]
