"""rlgen/config_load.py: an override inside a key that holds a value (not a section) is refused in
one line, where OmegaConf silently replaced the value by a new section."""

import pytest

from rlgen.api import load_config
from rlgen.errors import RlgenError


@pytest.mark.parametrize("overrides, said", [
    (["optim=adamw", "optim.lr=1e-3"], "optim is 'adamw', not a section, so optim.lr cannot be set in it; give "
                                       "optim.type=adamw and optim.lr=..., or the whole section: optim={...}"),
    (["train=5", "train.total_steps=512"], "train is 5, not a section, so train.total_steps cannot be set in it"),
    (["env.normalize=true", "env.normalize.obs=false"], "env.normalize is True, not a section"),
])
def test_a_key_inside_a_value_set_before_is_refused(overrides, said):
    with pytest.raises(RlgenError) as info:  # were: the file's optim defaults (adam), train reset, rewards normalized
        load_config("ppo_cartpole", overrides)
    assert f"override {overrides[1]!r}: {said}" in str(info.value) and "\n" not in str(info.value)


def test_a_key_inside_a_null_section_fills_it_and_sections_take_keys():
    cfg = load_config("ppo_cartpole", ["env.normalize=null", "env.normalize.obs=false", "optim.type=adamw",
                                       "optim.lr=1e-3"])
    assert (cfg.env.normalize.obs, cfg.env.normalize.reward, cfg.optim.type, cfg.optim.lr) == (False, True, "adamw", 1e-3)


def test_numpy_numbers_set_on_a_loaded_config_read_as_a_mappings_do():
    import numpy as np

    cfg = load_config("ppo_cartpole")
    cfg.seed, cfg.optim.lr, cfg.agent.hyperparams["n_steps"] = np.int64(2), np.float32(0.5), np.int64(64)
    again = load_config(cfg)  # was: "seed: int64 np.int64(2) is no config value"
    assert (again.seed, again.optim.lr, again.agent.hyperparams["n_steps"]) == (2, 0.5, 64)
    assert type(again.seed) is int and type(again.agent.hyperparams["n_steps"]) is int
    cfg.seed = np.array([1, 2])  # an array is still no config value
    with pytest.raises(RlgenError, match=r"^<config>: seed: ndarray array\(\[1, 2\]\) is no config value"):
        load_config(cfg)
