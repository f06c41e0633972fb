"""A player that cannot read or draw the data's samples is one config line that names what can."""

import pytest

import rlgen
from rlgen.errors import ConfigError


@pytest.mark.parametrize("config, override, says", [
    ("gan_digits_dcgan", "discriminator.backbone={type: transformer}",
     "discriminator.backbone.type: 'transformer' reads sequences but 'digits' gives image; use mlp or cnn"),
    ("gan_sine_lstm", "discriminator.backbone={type: cnn}",
     "discriminator.backbone.type: 'cnn' is for images, but 'sine' gives sequence; use gru, lstm, transformer or mlp"),
    ("gan_ring8", "generator.backbone={type: lstm}",
     "generator.backbone.type: 'lstm' draws sequences but 'ring8' gives points; use mlp"),
])
def test_a_player_that_does_not_fit_the_data_names_what_does(config, override, says):
    with pytest.raises(ConfigError) as info:
        rlgen.load_config(config, [override])
    assert says in str(info.value)


@pytest.mark.parametrize("config", ["gan_sine_lstm", "gan_sine_transformer"])
def test_a_sequence_generators_pool_that_would_be_ignored_is_refused(config):
    """It is built with pool: sequence whatever it says: pool: mean trained without a word before."""
    with pytest.raises(ConfigError) as info:
        rlgen.load_config(config, ["generator.backbone.pool=mean"])
    assert "generator.backbone.pool: a " in str(info.value) and "('mean' would be ignored); drop pool" in str(info.value)
    for kept in ("last", "sequence"):  # last: the default, in every saved config.yaml
        assert rlgen.load_config(config, [f"generator.backbone.pool={kept}"]).generator.backbone.pool == kept
