"""A backbone that cannot be built for its input names its config section first
(`where=` of build_backbone / build_sequence_body / build_decoder), as every config error does."""

import gymnasium as gym
import pytest

from rlgen.agents.gan.config import DiscriminatorConfig, GeneratorConfig
from rlgen.agents.gan.players import Discriminator, Generator
from rlgen.agents.imitation.config import ImitationDiscriminatorConfig
from rlgen.agents.imitation.discriminator import Discriminator as ImitationDiscriminator
from rlgen.errors import RlgenError
from rlgen.nets import build_backbone, build_decoder, build_sequence_body

CNN = {"type": "cnn", "channels": [4], "kernels": [3], "strides": [1]}


def test_each_builder_puts_the_section_first():
    with pytest.raises(RlgenError, match=r"^encoder\.backbone: gru backbone: in_shape .* got \(1, 8, 8\)"):
        build_backbone({"type": "gru", "hidden_size": 8}, (1, 8, 8), where="encoder.backbone")
    with pytest.raises(RlgenError, match=r"^encoder\.backbone: missing 'type' — set encoder\.backbone\.type to"):
        build_backbone({"hidden": [8]}, (4,), where="encoder.backbone")
    with pytest.raises(RlgenError, match=r"^decoder\.backbone: .*out_shape"):
        build_decoder({"type": "cnn"}, in_dim=4, out_shape=(3,), where="decoder.backbone")
    with pytest.raises(RlgenError, match=r"^generator\.backbone: transformer backbone: "):
        build_sequence_body({"type": "transformer", "d_model": 8, "n_heads": 3}, (4, 2), "the generator",
                            where="generator.backbone")
    with pytest.raises(RlgenError, match=r"^cnn backbone: in_shape"):  # no section given: the message as it was
        build_backbone(CNN, (4,))


def test_the_gan_and_imitation_players_name_their_sections():
    with pytest.raises(RlgenError, match=r"^discriminator\.backbone: cnn backbone: in_shape"):
        Discriminator(DiscriminatorConfig(backbone=CNN), "points", (2,))
    with pytest.raises(RlgenError, match=r"^generator\.backbone: .*out_shape"):
        Generator(GeneratorConfig(backbone={"type": "cnn"}, noise_dim=4), "points", (2,))
    obs, act = gym.spaces.Box(-1, 1, (3,)), gym.spaces.Box(-1, 1, (1,))
    with pytest.raises(RlgenError, match=r"^discriminator\.backbone: cnn backbone: in_shape"):
        ImitationDiscriminator(ImitationDiscriminatorConfig.model_validate({"backbone": CNN}), "gail", obs, act,
                               False, 0.9)
    cfg = ImitationDiscriminatorConfig.model_validate({"backbone": {"type": "mlp"}, "potential": CNN, "input": "sas"})
    with pytest.raises(RlgenError, match=r"^discriminator\.potential: cnn backbone: in_shape"):
        ImitationDiscriminator(cfg, "airl", obs, act, False, 0.9)


TRANSFORMER = {"type": "transformer", "d_model": 8, "n_heads": 2, "max_len": 10}
TOO_LONG = r": transformer backbone: sequence of 50 steps is longer than max_len 10 — set backbone.max_len >= 50"


def test_a_transformer_shorter_than_the_data_names_its_section_when_built():
    """With two transformers (a GAN's players, an autoencoder's halves) the section says which."""
    with pytest.raises(RlgenError, match=r"^discriminator\.backbone" + TOO_LONG):
        Discriminator(DiscriminatorConfig(backbone=TRANSFORMER), "sequence", (50, 2))
    with pytest.raises(RlgenError, match=r"^generator\.backbone" + TOO_LONG):
        Generator(GeneratorConfig(backbone=TRANSFORMER, noise_dim=4), "sequence", (50, 2))
    with pytest.raises(RlgenError, match=r"^decoder\.backbone" + TOO_LONG):
        build_decoder(TRANSFORMER, in_dim=4, out_shape=(50, 2), where="decoder.backbone")
    with pytest.raises(RlgenError, match=r"^encoder\.backbone" + TOO_LONG):
        build_backbone(TRANSFORMER, (50, 2), where="encoder.backbone")
