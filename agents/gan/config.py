"""The config of `kind: gan`: a data source, two players on rlgen backbones, a loss and a schedule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, field_validator

from rlgen.config import (
    MAX_COUNT,
    Activation,
    BackboneBase,
    BackboneConfig,
    ExperimentConfig,
    FolderPath,
    MLPBackbone,
    Norm,
    OptimConfig,
    RNNBackbone,
    Section,
    TransformerBackbone,
    backbone_union,
)
from rlgen.registry import SOURCES

LossName = Literal["minimax", "non_saturating", "hinge", "wasserstein", "least_squares"]


class CNNDecoderBackbone(BackboneBase):
    """The transposed-conv decoder (rlgen.nets.CNNDecoder) as an image generator (DCGAN)."""

    _accelerator: ClassVar[bool] = True
    type: Literal["cnn"]
    channels: list[Annotated[int, Field(gt=0)]] = [128, 64]
    norm: Norm = "batch"


# mlp and cnn draw through a decoder; sequence backbones read a noise sequence; any other
# (registered or import-path) backbone reads the noise vector and a linear head draws the sample
GeneratorBackbone = backbone_union(
    {"mlp": MLPBackbone, "cnn": CNNDecoderBackbone, "rnn": RNNBackbone, "transformer": TransformerBackbone}
)


# Adam with beta1 = 0.5, the DCGAN setting (Radford et al. 2016), for both players by default
GAN_LR, GAN_BETAS = 2e-4, (0.5, 0.999)


def _gan_defaults(given: Any) -> Any:
    """A player's optim section with the GAN's defaults for the keys it leaves out (lr, and betas
    for adam / adamw): one key set (`schedule: linear`) must not fall back to OptimConfig's lr
    3e-4 and torch's beta1 0.9. Anything but a mapping is left to pydantic to accept or refuse."""
    if not isinstance(given, Mapping):
        return given
    filled = {"lr": GAN_LR, **given}
    if filled.get("type", "adam") in ("adam", "adamw") and "betas" not in filled:
        filled["betas"] = GAN_BETAS
    return filled


def _adam_gan() -> OptimConfig:
    return OptimConfig(**_gan_defaults({}))


PlayerOptim = Annotated[OptimConfig, BeforeValidator(_gan_defaults), Field(
    default_factory=_adam_gan, description="adam, lr 2e-4, betas [0.5, 0.999] for whatever the section leaves out")]


class DataConfig(Section):
    source: str = Field(description="a registered source (`rlgen list`) or an import path mypkg.shapes:Spiral")
    kwargs: dict[str, Any] = Field({}, description="arguments of the source, e.g. {std: 0.02}")

    @field_validator("source")
    @classmethod
    def _known(cls, name: str) -> str:
        if (problem := SOURCES.problem(name)) is not None:
            raise ValueError(problem)
        return name


class GeneratorConfig(Section):
    """Noise (and a label) -> a sample: an MLP or CNN decoder, or a sequence backbone over a noise sequence."""

    backbone: GeneratorBackbone
    noise_dim: int = Field(64, gt=0, description="noise size (per step for sequence generators)")
    out_activation: Activation | None = Field(None, description="e.g. tanh for data in [-1, 1]; None = linear")
    ema: float | None = Field(None, gt=0, lt=1, description="decay of an EMA copy of G used for sampling")
    optim: PlayerOptim


class DiscriminatorConfig(Section):
    """A sample (and a label) -> one logit: a backbone and a linear head."""

    backbone: BackboneConfig
    spectral_norm: bool = Field(False, description="spectral-normalise every Linear/Conv (Miyato et al. 2018)")
    optim: PlayerOptim


class ObjectiveConfig(Section):
    """The loss, its regularizers and the update schedule."""

    loss: LossName = "non_saturating"
    gradient_penalty: float = Field(0.0, ge=0, description="WGAN-GP weight lambda (10 in the paper); 0 = off")
    r1: float = Field(0.0, ge=0, description="R1 weight gamma on real data; 0 = off")
    n_critic: int = Field(1, gt=0, description="discriminator steps per generator step")
    batch_size: int = Field(64, gt=0, description="per process under torchrun")
    top_k: float | None = Field(
        None, gt=0, le=1, description="G learns only from the fakes D rates best: the share kept falls "
        "linearly from 1 to this over the run (Sinha et al. 2020, top-k training); None = off")
    conditional: Literal["none", "concat", "projection"] = Field(
        "none", description="class conditioning of D: concat a one-hot, or projection (Miyato & Koyama 2018)")


class EvalConfig(Section):
    # bounded: a typo of 10^12 asks the data source for that many samples, and its MemoryError blamed the source
    samples: int = Field(2500, gt=1, le=MAX_COUNT, description="generated samples per evaluation (PacGAN uses 2,500)")
    mode_share: float = Field(
        0.2, gt=0, le=1, description="a mode is covered when it holds this share of its expected samples")
    pictures: bool = Field(True, description="save a picture under media/ at each evaluation")
    classifier_cache: FolderPath | None = Field(None, description="digits classifier cache dir; default ~/.cache/rlgen")


class PerfConfig(Section):
    precision: Literal["fp32", "bf16", "fp16"] = Field("fp32", description="autocast dtype of the forwards")
    compile: bool = Field(False, description="torch.compile both players")
    compile_mode: Literal["default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs"] = Field(
        "default", description="torch.compile's mode; reduce-overhead replays CUDA graphs, for small nets on a GPU")
    steps_per_unit: int = Field(100, gt=0, description="generator steps per training unit (one logged row)")


class GANConfig(ExperimentConfig):
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/mmd", "min")  # logged for every modality
    kind: Literal["gan"]
    data: DataConfig
    generator: GeneratorConfig
    discriminator: DiscriminatorConfig
    objective: ObjectiveConfig = ObjectiveConfig()
    eval: EvalConfig = EvalConfig()
    perf: PerfConfig = PerfConfig()

    def tags(self) -> list[str]:
        return [self.kind, self.data.source, self.objective.loss,
                f"G-{self.generator.backbone.type}", f"D-{self.discriminator.backbone.type}"]
