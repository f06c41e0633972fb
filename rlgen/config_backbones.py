"""The backbone configs: one model per built-in network of rlgen/nets (mirroring its constructor;
`spec()` is what `build_backbone` takes), `CustomBackbone` for a registered or imported one, and
`backbone_union`, the config field that picks among them by `type`. `rlgen.config` re-exports these
names.
"""

from __future__ import annotations

import typing
from typing import Annotated, Any, ClassVar, Literal, Mapping, Union

from pydantic import (BaseModel, ConfigDict, Discriminator, Field, Tag, ValidationError, field_validator,
                      model_validator)

from rlgen.config_values import LocalPath, Section, _stray_arguments
from rlgen.registry import BACKBONES

# The names of rlgen.nets.common's ACTIVATIONS, NORMS and POOLS, spelled out so that loading a config
# needs no torch; tests/runner/test_config.py checks that the two agree.
Activation = Literal["relu", "tanh", "sigmoid", "gelu", "leaky_relu", "elu", "silu"]
Norm = Literal["none", "batch", "layer"]
Pool = Literal["last", "mean", "sequence"]


class InitConfig(Section):
    """Start a backbone from another run's trained one (rlgen/transfer.py): `role` names a module of
    that run (`rlgen inspect RUN_DIR` lists them: encoder, discriminator, policy, classifier, ...)."""

    run: LocalPath = Field(description="a run directory, or runs/<name> for the newest run of that config")
    role: str = Field(description="which module of that run, e.g. encoder, discriminator, policy, value")
    freeze: bool = Field(False, description="keep the loaded weights fixed (and the backbone in eval mode)")
    lr: float | None = Field(None, gt=0, description="its own learning rate when not frozen; None = the optimizer's")

    @model_validator(mode="after")
    def _lr_needs_training(self) -> InitConfig:
        if self.freeze and self.lr is not None:
            raise ValueError("lr is for a backbone that trains; drop lr or set freeze: false")
        return self


class BackboneBase(Section):
    """What every built-in backbone takes. Its traits are the network class's: `sequence` (reads
    (T, F) windows; the GAN draws sequences with it) and `prefers_accelerator` (device: auto)."""

    _sequence: ClassVar[bool] = False
    _accelerator: ClassVar[bool] = False
    activation: Activation = "relu"
    norm: Norm = "none"
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    init: InitConfig | None = Field(None, description="load (and maybe freeze) a trained backbone of another run")

    def spec(self) -> dict[str, Any]:
        return self.model_dump(exclude={"init"})

    @property
    def sequence(self) -> bool:
        return self._sequence

    @property
    def prefers_accelerator(self) -> bool:
        return self._accelerator


class MLPBackbone(BackboneBase):
    type: Literal["mlp"]
    hidden: list[Annotated[int, Field(gt=0)]] = [64, 64]


class CNNBackbone(BackboneBase):
    _accelerator: ClassVar[bool] = True
    type: Literal["cnn"]
    channels: list[Annotated[int, Field(gt=0)]] = [32, 64, 64]
    kernels: list[Annotated[int, Field(gt=0)]] = [8, 4, 3]
    strides: list[Annotated[int, Field(gt=0)]] = [4, 2, 1]
    padding: list[Annotated[int, Field(ge=0)]] | None = None
    hidden: int = Field(512, ge=0, description="size of the final Linear; 0 = none")


class RNNBackbone(BackboneBase):
    _sequence: ClassVar[bool] = True
    type: Literal["rnn", "gru", "lstm"]
    activation: Activation = "tanh"
    hidden_size: int = Field(64, gt=0)
    num_layers: int = Field(1, gt=0)
    pool: Pool = "last"


class TransformerBackbone(BackboneBase):
    _sequence: ClassVar[bool] = True
    _accelerator: ClassVar[bool] = True
    type: Literal["transformer"]
    activation: Activation = "gelu"
    norm: Norm = "layer"
    d_model: int = Field(64, gt=0)
    n_heads: int = Field(4, gt=0)
    n_layers: int = Field(2, gt=0)
    ff_dim: int = Field(128, gt=0)
    positional: Literal["learned", "sinusoidal"] = "learned"
    causal: bool = True
    pool: Pool = "last"
    max_len: int | None = Field(None, gt=0)


class CustomBackbone(Section):
    """A backbone type from the registry (a plugin's entry point) or an import path
    (`type: mypkg.nets:MyEncoder`); the other keys are its keyword arguments, checked against the
    class's `config_model` (a pydantic model) when it has one, else against its signature."""

    model_config = ConfigDict(extra="allow")
    type: str
    init: InitConfig | None = None

    @field_validator("type")
    @classmethod
    def _known(cls, name: str) -> str:
        if (problem := BACKBONES.problem(name)) is not None:
            raise ValueError(problem)  # pydantic reports it with the field's dotted path
        return name

    @model_validator(mode="after")
    def _arguments(self) -> CustomBackbone:
        builder = BACKBONES.get(self.type)
        model = getattr(getattr(builder, "func", builder), "config_model", None)
        if stray := _stray_arguments(builder, model, self.model_extra or {}):  # true/false as a number, as elsewhere
            raise ValueError("; ".join(stray))
        if model is not None:
            try:
                model.model_validate(self.model_extra or {})
            except ValidationError as e:
                raise ValueError("; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()))
        return self

    def spec(self) -> dict[str, Any]:
        return {"type": self.type, **(self.model_extra or {})}

    def _traits(self) -> tuple[bool, bool]:
        from rlgen.nets import backbone_traits

        return backbone_traits(self.type)

    @property
    def sequence(self) -> bool:
        return self._traits()[0]

    @property
    def prefers_accelerator(self) -> bool:
        return self._traits()[1]



def backbone_union(builtins: Mapping[str, type[BaseModel]]) -> Any:
    """A config field holding one backbone: `type` picks the model among `builtins` (tag -> model,
    several types may share a model), anything else is a CustomBackbone looked up in the registry."""

    def tag(value: Any) -> str:
        t = value.get("type") if isinstance(value, Mapping) else getattr(value, "type", None)
        for name, model in builtins.items():
            if t in typing.get_args(model.model_fields["type"].annotation):
                return name
        return "custom"

    members = tuple(Annotated[m, Tag(n)] for n, m in builtins.items())
    return Annotated[Union[(*members, Annotated[CustomBackbone, Tag("custom")])], Discriminator(tag)]


BackboneConfig = backbone_union(
    {"mlp": MLPBackbone, "cnn": CNNBackbone, "rnn": RNNBackbone, "transformer": TransformerBackbone}
)
