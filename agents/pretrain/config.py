"""The configs of `kind: autoencoder` and `kind: supervised`: a data source with a fixed held-out
split, networks on rlgen backbones (each can start from another run's, `init:`), an objective."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, model_validator

from rlgen.agents.gan.config import DataConfig, GeneratorBackbone
from rlgen.config import Activation, BackboneConfig, ExperimentConfig, OptimConfig, Section


class SplitDataConfig(DataConfig):
    """A data source and the part of it held out (rlgen.envs.datasets.Split)."""

    validation: float = Field(0.2, ge=0, lt=1, description="share held out for evaluation (finite sources)")
    test: float = Field(0.0, ge=0, lt=1, description="share held out and never used to choose anything")
    split_seed: int = Field(0, description="the split's shuffle; the same for every run seed, so runs compare")
    n_held_out: int = Field(1000, gt=0, description="held-out samples drawn from an endless source")

    @model_validator(mode="after")
    def _some_training(self) -> SplitDataConfig:
        if self.validation + self.test >= 1:
            raise ValueError(f"validation {self.validation} + test {self.test} leave nothing to train on")
        return self


class FitConfig(Section):
    batch_size: int = Field(64, gt=0)
    steps_per_unit: int = Field(100, gt=0, description="gradient steps per training unit (one logged row)")


class PicturesConfig(Section):
    pictures: bool = Field(True, description="save pictures under media/ at each evaluation (and to W&B)")
    n_pictures: int = Field(32, gt=0, description="samples shown in each picture")


class DataKindConfig(ExperimentConfig):
    """What both kinds have beside their data and networks: one optimizer, minibatches, pictures."""

    optim: OptimConfig = OptimConfig(lr=1e-3)
    fit: FitConfig = FitConfig()
    eval: PicturesConfig = PicturesConfig()


# --- autoencoder --------------------------------------------------------------------------------


class EncoderConfig(Section):
    """A sample -> its code: a backbone, then a Linear to `latent_dim` (twice that for a VAE)."""

    backbone: BackboneConfig
    latent_dim: int = Field(16, gt=0)


class DecoderConfig(Section):
    """The code -> a sample: the MLP or transposed-conv decoder of the GAN's generator, a sequence
    backbone (SequenceDecoder), or any other backbone followed by a linear head."""

    backbone: GeneratorBackbone
    out_activation: Activation | None = Field(None, description="e.g. tanh for data in [-1, 1]; None = linear")


class AutoencoderObjective(Section):
    type: Literal["plain", "denoising", "variational"] = "plain"
    reconstruction: Literal["mse", "bce"] = Field("mse", description="bce: decoder outputs are logits, data in [0, 1]")
    noise_std: float = Field(0.2, gt=0, description="denoising: std of the Gaussian noise added to the input")
    kl_weight: float = Field(1.0, ge=0, description="variational: weight of the KL term (beta-VAE when != 1)")


class AutoencoderConfig(DataKindConfig):
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/recon_mse", "min")
    kind: Literal["autoencoder"]
    data: SplitDataConfig
    encoder: EncoderConfig
    decoder: DecoderConfig
    objective: AutoencoderObjective = AutoencoderObjective()

    def tags(self) -> list[str]:
        return [self.kind, self.data.source, self.objective.type, f"enc-{self.encoder.backbone.type}"]


# --- supervised ---------------------------------------------------------------------------------


class HeadConfig(Section):
    """Features -> outputs: optional hidden layers, then a Linear to the classes (or targets)."""

    hidden: list[int] = Field([], description="hidden layer sizes of the head; [] = one Linear")
    activation: Activation = "relu"
    dropout: float = Field(0.0, ge=0, lt=1)


class ModelConfig(Section):
    backbone: BackboneConfig
    head: HeadConfig = HeadConfig()


class SupervisedObjective(Section):
    task: Literal["auto", "classification", "regression"] = Field(
        "auto", description="auto: classification when the source has classes, else regression")
    loss: Literal["cross_entropy", "hinge", "mse"] = "cross_entropy"
    margin: float = Field(1.0, gt=0, description="hinge margin")


class SupervisedData(SplitDataConfig):
    test: float = Field(0.2, ge=0, lt=1, description="share held out and never used to choose anything")


class SupervisedConfig(DataKindConfig):
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/val_loss", "min")
    kind: Literal["supervised"]
    data: SupervisedData
    model: ModelConfig
    objective: SupervisedObjective = SupervisedObjective()

    def tags(self) -> list[str]:
        return [self.kind, self.data.source, self.objective.loss, self.model.backbone.type]
