"""The GAN config's defaults: a player's optim section keeps the GAN's Adam settings for the keys it leaves out."""

import pytest

from rlgen.agents.gan.config import GANConfig
from rlgen.config import load_config

RAW = {"name": "g", "kind": "gan", "data": {"source": "ring8"}, "generator": {"backbone": {"type": "mlp"}},
       "discriminator": {"backbone": {"type": "mlp"}}, "train": {"total_steps": 10}}


def optim(player, *overrides):
    return getattr(load_config(RAW, list(overrides), kinds={"gan": GANConfig}), player).optim


@pytest.mark.parametrize("player", ["generator", "discriminator"])
def test_one_key_of_a_players_optim_keeps_the_gan_defaults_for_the_rest(player):
    whole = optim(player)
    assert (whole.type, whole.lr, whole.betas) == ("adam", 2e-4, (0.5, 0.999))
    # before, the section given at all fell back to OptimConfig's lr 3e-4 and betas None (torch's 0.9)
    scheduled = optim(player, f"{player}.optim.schedule=linear")
    assert scheduled.model_dump() == {**whole.model_dump(), "schedule": "linear"}
    assert optim(player, f"{player}.optim.type=adamw").betas == (0.5, 0.999)


def test_what_a_players_optim_gives_is_kept():
    assert optim("generator", "generator.optim={lr: 1.0e-3, betas: [0.9, 0.99]}").model_dump() == {
        **optim("generator").model_dump(), "lr": 1e-3, "betas": (0.9, 0.99)}
    assert optim("generator", "generator.optim.betas=null").betas is None  # torch's own, asked for
    sgd = optim("discriminator", "discriminator.optim.type=sgd")  # betas are for adam / adamw only
    assert (sgd.type, sgd.lr, sgd.betas) == ("sgd", 2e-4, None)
