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


@pytest.mark.parametrize("config, override, expected", [
    ("gail_cartpole", "demos.path=", "demos.path: needs a value, and got none (an empty override `demos.path=` or "
     "null): give text"),
    (DEMO, "train.total_steps=", "train.total_steps: needs a value, and got none (an empty override "
     "`train.total_steps=` or null): give a whole number"),
    (DEMO, "optim.lr=null", "optim.lr: needs a value, and got none (an empty override `optim.lr=` or null): give "
     "a number"),
    (DEMO, "train.progress=", "train.progress: needs a value, and got none (an empty override `train.progress=` or "
     "null): give true or false"),
    (DEMO, "env=", "env: needs a value, and got none (an empty override `env=` or null): give a mapping"),
    (DEMO, "optim.type=", "optim.type: needs a value, and got none (an empty override `optim.type=` or null): give one "
     "of 'sgd', 'adam', 'adamw', 'rmsprop', 'adagrad'"),
    (DEMO, "agent.policy.backbone.hidden=[64,null]", "agent.policy.backbone.hidden.1: needs a value, and got none (a "
     "null in the list): give a whole number"),
])
def test_a_key_given_no_value_says_it_needs_one(config, override, expected):
    """`demos.path=` said "Input should be a valid string (got None)": no word of the empty override."""
    assert problems([override], config) == [expected]


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


@pytest.mark.parametrize("config, override, expected", [
    (DEMO, "optim.lr=inf", "optim.lr: must be a finite number (got 'inf')"),  # YAML text float() reads
    (DEMO, "optim.lr=.inf", "optim.lr: must be a finite number (got inf)"),
    (DEMO, "optim.lr=1e400", "optim.lr: must be a finite number (got inf)"),  # YAML reads it as inf
    (DEMO, "optim.lr=.nan", "optim.lr: must be a number, not NaN (got nan)"),
    (DEMO, "optim.betas=[0.9, .nan]", "optim.betas.1: must be a number, not NaN (got nan)"),
    (DEMO, "agent.hyperparams.clip_range=.inf", "agent.hyperparams.clip_range: must be a finite number (got inf)"),
    (DEMO, "agent.hyperparams.clip_range=lin_inf", "agent.hyperparams.clip_range: must be a finite number (got 'lin_inf')"),
    (DEMO, "agent.hyperparams.vf_coef=-.inf", "agent.hyperparams.vf_coef: must be a finite number (got -inf)"),
    (DEMO, "agent.hyperparams.gae_lambda=.inf", "agent.hyperparams.gae_lambda: must be a finite number (got inf)"),
    (DEMO, "agent.hyperparams.ent_coef=.nan", "agent.hyperparams.ent_coef: must be a number, not NaN (got nan)"),
    (DEMO, "agent.hyperparams.max_grad_norm=.nan", "agent.hyperparams.max_grad_norm: must be a number, not NaN (got nan)"),
    (DEMO, "train.early_stop.target=.nan", "train.early_stop.target: must be a number, not NaN (got nan)"),
    (DEMO, "train.early_stop.target=.inf", "train.early_stop.target: must be a finite number (got inf)"),
    (DEMO, "env.kwargs={sutton_barto_reward: .nan}", "env.kwargs.sutton_barto_reward: must be a number, not NaN (got nan)"),
    (DEMO, "env.normalize={clip_obs: .nan}", "env.normalize.clip_obs: must be a number, not NaN (got nan)"),
    ("gan_ring8", "generator.optim.lr=.inf", "generator.optim.lr: must be a finite number (got inf)"),
    ("gan_ring8", "discriminator.optim.lr=1e400", "discriminator.optim.lr: must be a finite number (got inf)"),
    ("gan_ring8", "data.kwargs={std: .nan}", "data.kwargs.std: must be a number, not NaN (got nan)"),
    ("sac_pendulum", "agent.hyperparams.ent_coef=inf", "agent.hyperparams.ent_coef: must be a finite number (got 'inf')"),
    ("selfplay_tictactoe", "agent.hyperparams.gamma=.inf", "agent.hyperparams.gamma: must be a finite number (got inf)"),
])
def test_non_finite_numbers_are_refused_at_their_key(config, override, expected):
    """inf and NaN train a unit and then "diverge" (an early-stop target of NaN is never reached):
    NaN is refused everywhere, free-form sections included; inf wherever only a finite number
    means something (every learning rate, the algorithms' own arguments)."""
    assert problems([override], config) == [expected]


def test_inf_where_it_means_no_limit_is_kept():
    cfg = load_config(DEMO, ["agent.hyperparams.max_grad_norm=.inf", "agent.hyperparams.clip_range_vf=.inf",
                             "env.normalize={clip_obs: .inf, clip_reward: .inf}", "env.kwargs={x_threshold: .inf}"])
    assert cfg.agent.hyperparams["max_grad_norm"] == float("inf") and cfg.env.normalize.clip_obs == float("inf")


def test_non_finite_numbers_beside_other_problems_are_all_reported_once():
    ps = problems(["optim.lr=.nan", "agent.hyperparams.gamma=.inf", "train.eval_evry=5", "agent.hyperparams.n_step=4"])
    assert sorted(ps) == ["agent.hyperparams.gamma: must be a finite number (got inf)",
                          "agent.hyperparams.n_step: PPO has no argument 'n_step' (did you mean 'n_steps'?)",
                          "optim.lr: must be a number, not NaN (got nan)",
                          "train.eval_evry: unknown key (did you mean 'eval_every'?); allowed here: checkpoint_every, "
                          "early_stop, eval_episodes, eval_every, keep_checkpoints, progress, threads, total_steps, "
                          "video_every"]


def test_a_non_finite_learning_rate_is_one_cli_line_and_no_run(tmp_path, capsys):
    from rlgen.cli import main

    assert main(["train", "ppo_cartpole", "optim.lr=.inf", f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "optim.lr: must be a finite number (got inf)" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("override, expected", [
    ("name=..", "name: '..' is only dots, which would put the run outside logging.dir"),
    ("name=.", "name: '.' is only dots"),
    ("logging.dir=''", "logging.dir: must name a folder"),
    ("logging.dir='  '", "logging.dir: must name a folder"),
])
def test_a_name_or_logging_dir_that_leaves_the_runs_folder_is_refused(override, expected):
    (p,) = problems([override])
    assert p.startswith(expected)
    assert load_config(DEMO, ["name=v1.2-a_b", "logging.dir=."]).name == "v1.2-a_b"  # dots among other characters


@pytest.mark.parametrize("overrides, expected", [
    ("seed=1", "overrides is a list of 'key=value' strings, e.g. ['seed=1'], not str 'seed=1'"),
    ({"seed": 1}, "overrides is a list of 'key=value' strings, e.g. ['seed=1'], not dict {'seed': 1}"),
    ([1], "overrides is a list of 'key=value' strings, e.g. ['seed=1']; got 1 (int)"),
    ([None], "overrides is a list of 'key=value' strings, e.g. ['seed=1']; got None (NoneType)"),
])
def test_overrides_that_are_not_a_list_of_strings_are_refused_not_blamed_on_the_file(overrides, expected):
    with pytest.raises(RlgenError) as e:
        load_config(DEMO, overrides)
    assert str(e.value) == expected
