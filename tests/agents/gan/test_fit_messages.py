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
