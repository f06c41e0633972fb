"""Config errors: every problem at once, each with its dotted path and a suggestion where one fits."""

import pytest

from rlgen.api import config_path, load_config
from rlgen.errors import ConfigError, RlgenError

DEMO = "configs/ppo_cartpole.yaml"


def problems(overrides, config=DEMO):
    with pytest.raises(ConfigError) as info:
        load_config(config, overrides)
    return info.value.problems


def test_unknown_key_names_the_path_and_suggests():
    (p,) = problems(["train.eval_evry=5"])
    assert p.startswith("train.eval_evry: unknown key (did you mean 'eval_every'?)")


def test_unknown_key_inside_a_backbone_union():
    (p,) = problems(["agent.policy.backbone.hiden=[3]"])
    assert p.startswith("agent.policy.backbone.hiden: unknown key (did you mean 'hidden'?)")


def test_wrong_type():
    (p,) = problems(["train.total_steps=lots"])
    assert p.startswith("train.total_steps:") and "integer" in p


def test_bad_choice_suggests():
    (p,) = problems(["optim.type=adamm"])
    assert p.startswith("optim.type: 'adamm' is not a valid choice (did you mean 'adam'?)")


def test_bad_backbone_type_suggests():
    (p,) = problems(["agent.policy.backbone.type=mlpp"])
    assert p.startswith("agent.policy.backbone.type: unknown backbone type 'mlpp' (did you mean 'mlp'?)")


def test_bad_sb3_hyperparameter_is_checked_against_the_signature():
    (p,) = problems(["agent.hyperparams.n_step=64"])
    assert p == "agent.hyperparams.n_step: PPO has no argument 'n_step' (did you mean 'n_steps'?)"


def test_sb3_hyperparameter_type_and_owned_arguments():
    ps = problems(["agent.hyperparams.n_epochs=many", "agent.hyperparams.learning_rate=0.1"])
    assert any(p.startswith("agent.hyperparams.n_epochs: expected a number") for p in ps)
    assert any(p.startswith("agent.hyperparams.learning_rate: set by rlgen from optim.lr") for p in ps)


def test_a2c_rmsprop_arguments_sb3_would_ignore_point_to_the_optim_section():
    """rlgen always names the optimizer, so A2C's own RMSprop switches would do nothing."""
    a2c = config_path("a2c_cartpole")
    ps = problems(["agent.hyperparams.rms_prop_eps=1e-3", "agent.hyperparams.use_rms_prop=false"], a2c)
    assert sorted(ps) == ["agent.hyperparams.rms_prop_eps: set by rlgen from optim.eps (with optim.type: rmsprop), "
                          "not here", "agent.hyperparams.use_rms_prop: set by rlgen from optim.type (rmsprop), not here"]


def test_sb3_numbers_outside_the_range_they_mean_something_in():
    """Values SB3 would take silently (a buffer of -5 becomes one transition) or fail on late."""
    ps = problems(["agent.hyperparams.n_steps=-1", "agent.hyperparams.gamma=1.5", "agent.hyperparams.batch_size=2.5",
                   "agent.hyperparams.clip_range=lin_0", "agent.hyperparams.max_grad_norm=0"])
    assert sorted(ps) == sorted(["agent.hyperparams.n_steps: Input should be greater than or equal to 1 (got -1)",
                  "agent.hyperparams.gamma: Input should be less than or equal to 1 (got 1.5)",
                  "agent.hyperparams.batch_size: Input should be a valid integer, got a number with a fractional part "
                          "(got 2.5)",
                  "agent.hyperparams.clip_range: Input should be greater than 0 (got 'lin_0')",
                  "agent.hyperparams.max_grad_norm: Input should be greater than 0 (got 0)"])
    (p,) = problems(["agent.hyperparams.buffer_size=-5", "agent.hyperparams.learning_starts=0"], "sac_pendulum")
    assert p == "agent.hyperparams.buffer_size: Input should be greater than or equal to 1 (got -5)"
    # the edges of each range, a schedule, SAC's "auto" and a (frequency, unit) pair are fine
    load_config(DEMO, ["agent.hyperparams.gamma=1", "agent.hyperparams.gae_lambda=0", "agent.hyperparams.clip_range=lin_0.1"])
    load_config("sac_pendulum", ["agent.hyperparams.ent_coef=auto", "agent.hyperparams.train_freq=[1, episode]",
                                 "agent.hyperparams.buffer_size=1e5"])


def test_a_count_written_with_an_exponent_reaches_sb3_as_an_int(tmp_path):
    """YAML reads 1e5 as 100000.0; the check above takes it, so SB3 must get 100000, not a float it refuses."""
    import rlgen

    run = rlgen.train("sac_pendulum", ["agent.hyperparams.buffer_size=1e5", "agent.hyperparams.learning_starts=1e1",
                                       "agent.hyperparams.gamma=1.0", "train.total_steps=20", "train.eval_every=20",
                                       "train.eval_episodes=1", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled",
                                       "logging.console=false", "train.progress=false"])
    model = run.experiment.model
    assert (model.buffer_size, model.learning_starts) == (100_000, 10)
    assert type(model.buffer_size) is int and type(model.learning_starts) is int
    assert type(model.gamma) is float  # not a count: left as written
    run.close()


def test_a_folder_named_like_a_bundled_config_does_not_hide_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ppo_cartpole").mkdir()  # e.g. runs written with logging.dir=.
    assert load_config("ppo_cartpole").name == "ppo_cartpole"
    (tmp_path / "my_runs").mkdir()
    with pytest.raises(RlgenError, match="config my_runs is a directory, not a YAML file"):
        load_config("my_runs")


def test_all_problems_are_reported_at_once():
    ps = problems(["train.eval_evry=5", "optim.type=adamm", "seed=x", "env.n_envs=0"])
    assert len(ps) == 4


def test_wrong_env_id_suggests():
    (p,) = problems(["env.id=CartPole-v2"])
    assert p.startswith("env.id: unknown gymnasium env id 'CartPole-v2' (did you mean 'CartPole-v1'")


def test_unknown_wrapper_suggests():
    (p,) = problems(["env.wrappers=[TimeLimt]"])
    assert "env.wrappers.0: unknown wrapper 'TimeLimt' (did you mean 'TimeLimit'?)" in p


def test_missing_file_and_bad_override_are_readable():
    with pytest.raises(RlgenError, match="config file not found: nope.yaml"):
        load_config("nope.yaml", [])
    with pytest.raises(RlgenError, match="overrides must look like key.sub=value"):
        load_config(DEMO, ["seed"])


def test_overrides_are_typed_by_yaml_and_the_demo_is_valid():
    cfg = load_config(DEMO, ["optim.lr=3e-4", "agent.policy.backbone.hidden=[128,128]"])
    assert cfg.optim.lr == 3e-4 and cfg.agent.policy.backbone.hidden == [128, 128]


def test_bundled_name_resolves_to_the_configs_folder():
    assert load_config("ppo_cartpole", []).name == "ppo_cartpole"


def test_rlgen_wrappers_are_usable_by_name():
    cfg = load_config(DEMO, ["env.wrappers=[{HideEntries: {indices: [1, 3]}}]"])
    from rlgen.envs import make_env_fn

    env = make_env_fn(cfg.env.id, cfg.env.kwargs, cfg.env.wrappers)()
    assert env.observation_space.shape == (2,)  # cart position and pole angle only


def test_a_mapping_override_replaces_the_section_instead_of_merging_into_it():
    cfg = load_config(DEMO, ["agent.policy.backbone={type: transformer, d_model: 32}"])
    backbone = cfg.agent.policy.backbone
    assert backbone.type == "transformer" and backbone.d_model == 32 and not hasattr(backbone, "hidden")
    cfg = load_config(DEMO, ["agent.policy.backbone.hidden=[8]"])  # a dotted key still edits one field
    assert cfg.agent.policy.backbone.hidden == [8] and cfg.agent.policy.backbone.activation == "tanh"


def test_the_schema_offers_exactly_the_choices_the_backbones_take():
    """rlgen.config spells the choices out as Literals so that loading a config needs no torch;
    rlgen.nets holds the tables the backbones build from. They must agree."""
    import typing

    from rlgen.config import Activation, Norm, Pool, RNNBackbone, TransformerBackbone
    from rlgen.nets.common import ACTIVATIONS, NORMS, POOLS
    from rlgen.nets.recurrent import CELLS
    from rlgen.nets.transformer import POSITIONALS

    assert typing.get_args(Activation) == tuple(ACTIVATIONS)
    assert typing.get_args(Norm) == NORMS
    assert typing.get_args(Pool) == POOLS
    assert set(typing.get_args(RNNBackbone.model_fields["type"].annotation)) == set(CELLS)
    assert set(typing.get_args(TransformerBackbone.model_fields["positional"].annotation)) == set(POSITIONALS)


@pytest.mark.parametrize("name", ["mlp", "cnn", "rnn", "gru", "lstm", "transformer"])
def test_builtin_backbone_configs_carry_their_network_class_traits(name):
    """The config models answer `sequence` / `prefers_accelerator` without importing torch; the
    network classes declare them. They must agree (a plugin's config reads the class itself)."""
    from pydantic import TypeAdapter

    from rlgen.config import BackboneConfig
    from rlgen.nets import backbone_traits

    cfg = TypeAdapter(BackboneConfig).validate_python({"type": name})
    assert (cfg.sequence, cfg.prefers_accelerator) == backbone_traits(name)
