"""Neural-network backbones: plain torch modules with `in_shape` and `out_dim`, built by name.

    net = build_backbone({"type": "gru", "hidden_size": 32}, in_shape=(8, 4))  # (B, 8, 4) -> (B, 32)
    gen = build_decoder({"type": "cnn"}, in_dim=64, out_shape=(1, 28, 28))  # (B, 64) -> (B, 1, 28, 28)

`spec` is a config section as a plain dict: "type" picks the builder, the other keys are its
keyword arguments.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from torch import nn

from rlgen.errors import RlgenError
from rlgen.nets.cnn import CNNDecoder, CNNEncoder
from rlgen.nets.common import ACTIVATIONS, NORMS, make_activation, make_norm, make_norm2d, pick
from rlgen.nets.heads import LinearHead
from rlgen.nets.mlp import MLP, MLPDecoder
from rlgen.nets.recurrent import RNNEncoder
from rlgen.nets.transformer import TransformerEncoder

BACKBONES: dict[str, Callable[..., nn.Module]] = {
    "mlp": MLP,
    "cnn": CNNEncoder,
    "rnn": partial(RNNEncoder, cell="rnn"),
    "gru": partial(RNNEncoder, cell="gru"),
    "lstm": partial(RNNEncoder, cell="lstm"),
    "transformer": TransformerEncoder,
}
DECODERS: dict[str, Callable[..., nn.Module]] = {"cnn": CNNDecoder, "mlp": MLPDecoder}


def build_backbone(spec: Mapping[str, Any], in_shape: tuple[int, ...]) -> nn.Module:
    """The backbone `spec["type"]` for inputs (B, *in_shape), the other keys as its arguments."""
    return _build(BACKBONES, spec, "backbone", in_shape=tuple(in_shape))


def build_decoder(spec: Mapping[str, Any], in_dim: int, out_shape: tuple[int, ...]) -> nn.Module:
    """The decoder `spec["type"]` mapping (B, in_dim) to (B, *out_shape)."""
    return _build(DECODERS, spec, "decoder", in_dim=in_dim, out_shape=tuple(out_shape))


def _build(
    registry: Mapping[str, Callable[..., nn.Module]], spec: Mapping[str, Any], what: str, **given: Any
) -> nn.Module:
    """registry[spec["type"]](**given, **rest of spec), with RlgenError for an unknown type or key."""
    kwargs = dict(spec)
    if "type" not in kwargs:
        raise RlgenError(f"{what}: missing 'type' — set {what}.type to one of: {', '.join(registry)}")
    kind = pick(registry, kwargs.pop("type"), f"{what} type")
    builder = registry[kind]
    # keys bound by a partial (the cell of "gru") and the shapes passed in are not the spec's to set
    bound = builder.keywords if isinstance(builder, partial) else {}
    accepted = [k for k in inspect.signature(builder).parameters if k not in bound and k not in given]
    for key in kwargs:
        pick(accepted, key, f"{what} {kind!r} key")
    return builder(**given, **kwargs)


__all__ = [
    "ACTIVATIONS",
    "BACKBONES",
    "CNNDecoder",
    "CNNEncoder",
    "DECODERS",
    "LinearHead",
    "MLP",
    "MLPDecoder",
    "NORMS",
    "RNNEncoder",
    "TransformerEncoder",
    "build_backbone",
    "build_decoder",
    "make_activation",
    "make_norm",
    "make_norm2d",
]
