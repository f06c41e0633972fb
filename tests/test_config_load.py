"""rlgen/config_load.py: an override inside a key that holds a value (not a section) is refused in
one line, where OmegaConf silently replaced the value by a new section."""

import pytest

from rlgen.api import load_config
from rlgen.errors import RlgenError


@pytest.mark.parametrize("overrides, said", [
    (["optim=adamw", "optim.lr=1e-3"], "optim is 'adamw', a value, not a section, so optim.lr cannot be set in it; "
                                       "where optim is a section, give it whole (optim={...}) or drop the override "
                                       "that set it"),
    (["train=5", "train.total_steps=512"], "train is 5, a value, not a section, so train.total_steps cannot be set"),
    (["env.normalize=true", "env.normalize.obs=false"], "env.normalize is True, a value, not a section"),
    (["env.id.foo=1"], "env.id is 'CartPole-v1', a value, not a section, so env.id.foo cannot be set in it"),
])
def test_a_key_inside_a_value_set_before_is_refused(overrides, said):
    with pytest.raises(RlgenError) as info:  # were: the file's optim defaults (adam), train reset, rewards normalized
        load_config("ppo_cartpole", overrides)
    assert f"override {overrides[-1]!r}: {said}" in str(info.value) and "\n" not in str(info.value)


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


def test_a_key_inside_a_section_given_by_interpolation_is_refused_not_set_in_the_key_it_names(tmp_path):
    path = tmp_path / "ev.yaml"
    path.write_text("name: ev\nkind: rl\nenv: {id: CartPole-v1, n_envs: 2}\neval_env: ${env}\n"
                    "agent: {algo: ppo}\ntrain: {total_steps: 512, eval_every: 256}\n")
    with pytest.raises(RlgenError) as info:  # OmegaConf sets it through the reference: env.n_envs became 1 too
        load_config(path, ["eval_env.n_envs=1"])
    assert ("override 'eval_env.n_envs=1': eval_env is '${env}', a reference to another key, so eval_env.n_envs "
            "would be set in that key as well; give eval_env whole (eval_env={...})") in str(info.value)
    cfg = load_config(path, ["eval_env={id: CartPole-v1, n_envs: 1}"])
    assert (cfg.eval_env["n_envs"], cfg.env.n_envs) == (1, 2)
