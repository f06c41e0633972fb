"""The GAN config: a player's optim section keeps the GAN's Adam settings for the keys it leaves out;
eval.samples is bounded and eval.classifier_cache made absolute when it loads."""

import pytest

from rlgen.agents.gan.config import GANConfig
from rlgen.config import load_config
from rlgen.errors import ConfigError

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


def test_the_classifier_cache_is_expanded_and_made_absolute_when_the_config_loads(tmp_path, monkeypatch):
    """`~/x` made a folder named `~` in the working directory, and a relative folder was stored as
    written: `rlgen eval` from elsewhere trained the classifier again into a folder there."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)

    def cache(value):
        return load_config(RAW, [f"eval.classifier_cache={value}"], kinds={"gan": GANConfig}).eval.classifier_cache

    assert cache("~/x") == str(tmp_path / "home" / "x")
    assert cache("rel/cache") == str(tmp_path / "rel" / "cache")
    assert load_config(RAW, [], kinds={"gan": GANConfig}).eval.classifier_cache is None  # the default cache


def test_a_huge_eval_samples_is_refused_at_its_key():
    """10^12 samples reached the data source, whose MemoryError was blamed on the source and data.kwargs."""
    with pytest.raises(ConfigError, match=r"eval\.samples: Input should be less than or equal to 1000000"):
        load_config(RAW, ["eval.samples=1000000000000"], kinds={"gan": GANConfig})
