"""What a config value may be: `${...}` in an override resolves against the whole config (as in the
file), and YAML's true/false goes only where a flag is declared, never read as the number 1 or 0."""

from pathlib import Path
from typing import Annotated, Literal

import pytest
from pydantic import Field

from rlgen.api import config_path, load_config
from rlgen.config import ExperimentConfig, Section
from rlgen.errors import ConfigError, RlgenError

DEMO = "configs/ppo_cartpole.yaml"


def problems(overrides, config=DEMO):
    with pytest.raises(ConfigError) as info:
        load_config(config, overrides)
    return info.value.problems


def refused(overrides, config=DEMO) -> str:
    with pytest.raises(RlgenError) as info:
        load_config(config, overrides)
    message = str(info.value)
    assert "\n" not in message, message
    return message


# --- ${...} in an override ---


def test_an_override_interpolation_resolves_against_the_whole_config(monkeypatch):
    cfg = load_config(DEMO, ["train.eval_every=${train.total_steps}"])
    assert cfg.train.eval_every == cfg.train.total_steps == 100_000
    # resolved once every override is in, whatever their order: the key it names may be overridden too
    cfg = load_config(DEMO, ["train.checkpoint_every=${train.eval_every}", "train.eval_every=4096"])
    assert cfg.train.checkpoint_every == 4096
    monkeypatch.setenv("RLGEN_TEST_PROJECT", "from-env")
    cfg = load_config(DEMO, ["logging.wandb.project=${oc.env:RLGEN_TEST_PROJECT}", "logging.wandb.tags=['${name}', x]"])
    assert cfg.logging.wandb.project == "from-env" and cfg.logging.wandb.tags == ["ppo_cartpole", "x"]


def test_an_override_interpolation_resolves_in_a_zoo_config():
    cfg = load_config("zoo:ppo/CartPole-v1", ["train.eval_every=${train.total_steps}"])
    assert cfg.train.eval_every == cfg.train.total_steps


@pytest.mark.parametrize("override, expected", [
    ("train.eval_every=${train.total_step}", "override 'train.eval_every=${train.total_step}': could not resolve its "
     "${...}: Interpolation key 'train.total_step' not found (did you mean 'train.total_steps'?)"),
    ("logging.wandb.project=${oc.env:RLGEN_NO_SUCH_VARIABLE}", "override 'logging.wandb.project=${oc.env:"
     "RLGEN_NO_SUCH_VARIABLE}': could not resolve its ${...}: KeyError raised while resolving interpolation: "
     "\"Environment variable 'RLGEN_NO_SUCH_VARIABLE' not found\""),
    ("train.eval_every=${train.eval_every}", "override 'train.eval_every=${train.eval_every}': could not resolve its "
     "${...}: Recursive interpolation detected"),
    ("logging.wandb.project=${name", "override 'logging.wandb.project=${name': its value cannot be read"),
    ("optim.lr=[1", "override 'optim.lr=[1': its value cannot be read"),
    ("agent.policy.backbone.hidden.5=3", "override 'agent.policy.backbone.hidden.5=3': agent.policy.backbone.hidden "
     "is a list of 2 items, which has no item '5'; to change its length write the whole list: "
     "agent.policy.backbone.hidden=[...]"),
    ("agent.policy.backbone.hidden.x=3", "override 'agent.policy.backbone.hidden.x=3': agent.policy.backbone.hidden "
     "is a list of 2 items, which has no item 'x'"),
    # YAML's {type:cnn} is the one key "type:cnn": the error was "backbone.type: required key is missing"
    ("agent.policy.backbone={type:cnn}", "override 'agent.policy.backbone={type:cnn}': 'type:cnn' reads as one key "
     "with no value; YAML needs a space after the colon: type: cnn"),
    ("env.wrappers=[{ClipReward: {min_reward:-1}}]", "override 'env.wrappers=[{ClipReward: {min_reward:-1}}]': "
     "'min_reward:-1' reads as one key with no value; YAML needs a space after the colon: min_reward: -1"),
])
def test_an_override_that_cannot_be_applied_is_one_line_naming_it(override, expected):
    message = refused([override])
    assert message.startswith(f"{DEMO}: {expected}"), message


def test_an_interpolation_in_the_file_that_fails_is_one_line_naming_its_key(tmp_path):
    text = Path(config_path("ppo_cartpole")).read_text()
    assert "eval_every: 2048" in text
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("eval_every: 2048", "eval_every: ${train.total_step}"))
    assert refused([], broken).startswith(f"{broken}: train.eval_every: could not resolve its ${{...}}: Interpolation "
                                          "key 'train.total_step' not found (did you mean 'train.total_steps'?)")
    broken.write_text(text.replace("eval_every: 2048", "eval_every: ${train"))
    assert refused([], broken) == (f"{broken}: could not read the config: no viable alternative at input '${{train' "
                                   "(at train.eval_every)")


def test_an_interpolation_error_is_one_cli_line_and_no_run(tmp_path, capsys):
    from rlgen.cli import main

    assert main(["train", "ppo_cartpole", "train.eval_every=${train.nope}", f"logging.dir={tmp_path}",
                 "logging.wandb.mode=disabled"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "override 'train.eval_every=${train.nope}'" in err and "full_key" not in err
    assert list(tmp_path.iterdir()) == []


# --- true/false where a number or text is declared ---


@pytest.mark.parametrize("config, override, expected", [
    (DEMO, "optim.lr=true", "optim.lr: expected a number, got True"),
    (DEMO, "optim.betas=[true, 0.9]", "optim.betas.0: expected a number, got True"),
    (DEMO, "optim.eps=false", "optim.eps: expected a number, got False"),  # Optional
    (DEMO, "agent.policy.backbone.hidden=[true, 64]", "agent.policy.backbone.hidden.0: expected a number, got True"),
    (DEMO, "agent.policy.net_arch=[64, false]", "agent.policy.net_arch.1: expected a number, got False"),
    (DEMO, "train.total_steps=true", "train.total_steps: expected a number, got True"),
    (DEMO, "train.early_stop.target=true", "train.early_stop.target: expected a number, got True"),
    (DEMO, "env.n_envs=true", "env.n_envs: expected a number, got True"),
    (DEMO, "env.normalize.clip_obs=true", "env.normalize.clip_obs: expected a number, got True"),
    (DEMO, "seed=true", "seed: expected a number, got True"),
    ("gan_ring8", "generator.optim.lr=true", "generator.optim.lr: expected a number, got True"),
    ("selfplay_tictactoe", "league.reference_prob=true", "league.reference_prob: expected a number, got True"),
    ("selfplay_tictactoe", "ratings.targets={random: true}", "ratings.targets.random: expected a number, got True"),
    ("teams_simple_tag", "ratings.episodes=true", "ratings.episodes: expected a number, got True"),
])
def test_true_or_false_is_no_number(config, override, expected):
    """pydantic's lax mode would read True as 1: `optim.lr=true` trained at lr 1.0."""
    assert problems([override], config) == [expected]


def test_true_as_a_number_is_reported_beside_every_other_problem():
    """Beside its section's other problems, and the kind's own check still runs (the list holding
    the bad item is set back to the file's)."""
    ps = problems(["optim.lr=true", "optim.type=adamm", "train.total_steps=true", "train.eval_evry=5",
                   "agent.policy.backbone.hidden=[true]", "agent.hyperparams.n_step=3"])
    assert sorted(p.split(":")[0] for p in ps) == ["agent.hyperparams.n_step", "agent.policy.backbone.hidden.0",
                                                   "optim.lr", "optim.type", "train.eval_evry", "train.total_steps"]


def test_flags_and_counts_with_an_exponent_still_load():
    cfg = load_config(DEMO, ["optim.fused=false", "train.progress=false", "env.normalize.reward=true",
                             "train.total_steps=1e5", "env.n_envs=4.0", "agent.hyperparams.n_steps=3.2e1"])
    assert cfg.optim.fused is False and cfg.train.progress is False and cfg.env.normalize.reward is True
    assert cfg.train.total_steps == 100_000 and isinstance(cfg.train.total_steps, int) and cfg.env.n_envs == 4


class PluginSection(Section):
    """A kind's own section from outside rlgen: the same rule holds for it without a line of its own."""

    size: int = 1
    rates: tuple[float, ...] = ()
    weights: dict[str, list[Annotated[float, Field(gt=0)]]] = {}
    mode: Literal["fast", "slow"] | int = "fast"
    flag: bool | float = False  # a bool is declared: True stays True


class PluginConfig(ExperimentConfig):
    kind: Literal["plugin"]
    plugin: PluginSection = PluginSection()


def test_a_kinds_own_section_refuses_true_as_a_number_too():
    from rlgen.config import load_config as load_with_kinds

    base, kinds = {"name": "p", "kind": "plugin", "train": {"total_steps": 10}}, {"plugin": PluginConfig}
    with pytest.raises(ConfigError) as info:
        load_with_kinds({**base, "plugin": {"size": True, "rates": [0.5, False], "weights": {"a": [1.0, True]},
                                            "mode": True, "flag": True}}, kinds=kinds)
    assert sorted(info.value.problems) == ["plugin.mode: expected a number, got True",
                                           "plugin.rates.1: expected a number, got False",
                                           "plugin.size: expected a number, got True",
                                           "plugin.weights.a.1: expected a number, got True"]
    ok = load_with_kinds({**base, "plugin": {"flag": True, "size": 2, "mode": "slow"}}, kinds=kinds)
    assert ok.plugin.flag is True and ok.plugin.size == 2


@pytest.mark.parametrize("override, expected", [
    ("name=yes", "name: expected text, got True (YAML reads an unquoted yes/no, on/off or true/false as true/false); "
     "put the word in quotes (e.g. 'yes') to keep it as text"),
    ("logging.wandb.entity=no", "logging.wandb.entity: expected text, got False"),
    ("logging.wandb.tags=[x, on]", "logging.wandb.tags.1: expected text, got True"),
    ("logging.wandb.mode=off", "logging.wandb.mode: expected one of 'online', 'offline', 'disabled', got False (YAML "
     "reads an unquoted yes/no, on/off or true/false as true/false)"),
])
def test_a_yaml_boolean_where_text_is_declared_says_to_quote_it(override, expected):
    (p,) = problems([override])
    assert p.startswith(expected), p
    assert load_config(DEMO, ["name='yes'"]).name == "yes"


@pytest.mark.parametrize("override, expected", [
    ("logging.wandb.name=12:30", "logging.wandb.name: expected text, got the number 750 (YAML reads unquoted figures"),
    ("logging.wandb.group=2024", "logging.wandb.group: expected text, got the number 2024"),
    ("logging.wandb.tags=[a, 1e5]", "logging.wandb.tags.1: expected text, got the number 100000.0"),
])
def test_a_yaml_number_where_text_is_declared_says_to_quote_it(override, expected):
    """It said "Input should be a valid string (got 750)" for 12:30, a value the user never wrote."""
    (p,) = problems([override])
    assert p.startswith(expected) and p.endswith("put the value in quotes to keep it as text"), p
    assert load_config(DEMO, ["logging.wandb.name='12:30'"]).logging.wandb.name == "12:30"


@pytest.mark.parametrize("override, expected", [
    ("logging.wandb.tags=[ok, " + "t" * 65 + "]", "logging.wandb.tags.1: 65 characters, at most 64 allowed (W&B's limit)"),
    ("logging.wandb.name=" + "n" * 129, "logging.wandb.name: 129 characters, at most 128 allowed (W&B's limit)"),
    ("logging.wandb.group=" + "g" * 129, "logging.wandb.group: 129 characters, at most 128 allowed (W&B's limit)"),
])
def test_a_wandb_name_group_or_tag_past_wandbs_limit_is_refused_before_the_run(override, expected):
    """W&B fails to start a run with them; the config says so at check time instead."""
    (p,) = problems([override])
    assert p.startswith(expected), p
    assert load_config(DEMO, ["logging.wandb.tags=[" + "t" * 64 + "]"]).logging.wandb.tags == ["t" * 64]


@pytest.mark.parametrize("override, expected", [
    ("logging.wandb.project=a/b", "logging.wandb.project: 'a/b' holds '/', which W&B refuses in a project name (any "
     "of / \\ # ? % :); for entity/project, set logging.wandb.entity=a and logging.wandb.project=b"),
    ("logging.wandb.project='runs:50%'", "logging.wandb.project: 'runs:50%' holds '%', ':', which W&B refuses in a "
     "project name (any of / \\ # ? % :); use another name, e.g. 'runs-50-'"),
    ("logging.wandb.project=''", "logging.wandb.project: must name a W&B project, e.g. rlgen"),
    ("logging.wandb.project=" + "p" * 129, "logging.wandb.project: 129 characters, at most 128 allowed (W&B's limit)"),
    ("logging.wandb.tags=['']", "logging.wandb.tags.0: '' is an empty or blank tag, which W&B refuses"),
    ("logging.wandb.tags=[ok, ' ']", "logging.wandb.tags.1: ' ' is an empty or blank tag"),
])
def test_a_wandb_project_or_tag_wandb_refuses_is_refused_before_the_run(override, expected):
    """W&B refused them when the run started: the run trained without W&B, after a warning that
    said "1 validation error for Settings" (an empty tag) or only "Invalid project name"."""
    (p,) = problems([override])
    assert p.startswith(expected), p
    ok = load_config(DEMO, ["logging.wandb.project=my-runs_2.0", "logging.wandb.tags=[a tag]"]).logging.wandb
    assert (ok.project, ok.tags) == ("my-runs_2.0", ["a tag"])


@pytest.mark.parametrize("config, metric, mode", [
    ("gan_ring8", "eval/mmd", "min"), ("autoencoder_digits", "eval/recon_mse", "min"),
    ("supervised_digits", "eval/val_loss", "min"), ("teams_simple_tag", "eval/score_min", "max"),
    ("ppo_cartpole", "eval/return_mean", "max"), ("selfplay_tictactoe", "eval/return_mean", "max")])
def test_an_early_stop_without_a_metric_takes_one_its_kind_always_logs(config, metric, mode):
    """A GAN logs no eval/return_mean: with that default it kept no best checkpoint and no seeds table."""
    for given in ("train.early_stop={patience: 3}", "train.early_stop=null"):
        stop = load_config(config, [given]).train.early_stop
        assert (stop.metric, stop.mode) == (metric, mode)
    kept = load_config(config, ["train.early_stop={mode: max}"]).train.early_stop
    assert (kept.metric, kept.mode) == (metric, "max")  # a mode given is kept
    named = load_config(config, ["train.early_stop={metric: eval/other}"]).train.early_stop
    assert (named.metric, named.mode) == ("eval/other", "max")  # a metric given is the config's, mode as before


# --- a section or a whole file of the wrong shape ---


@pytest.mark.parametrize("override, got", [("train=3", "3"), ("train=[1, 2]", "[1, 2]"), ("train=abc", "'abc'")])
def test_a_train_section_that_is_not_a_mapping_is_one_config_line(override, got):
    """It crashed in the kind's early-stop default ({**train}) with a TypeError, where every other
    section got the schema's line."""
    with pytest.raises(ConfigError) as info:
        load_config(DEMO, [override])
    assert str(info.value) == f"{DEMO}: train: Input should be a valid dictionary or instance of TrainConfig (got {got})"


@pytest.mark.parametrize("text", ["42\n", "true\n", "1.5\n", "hello\n"])
def test_a_file_of_one_value_is_one_line_saying_so(tmp_path, text):
    """OmegaConf refuses a lone number or boolean itself, which read as "not valid YAML"."""
    path = tmp_path / "one.yaml"
    path.write_text(text)
    assert refused([], path) == (f"{path}: the config must be a mapping of keys to values (key: value lines), "
                                 "not a single value")


@pytest.mark.skipif(__import__("importlib").util.find_spec("rl_zoo3") is None, reason="rl_zoo3 is not installed")
def test_import_zoo_names_the_conversion_where_a_file_name_would_be(capsys):
    from rlgen.cli import main

    assert main(["import-zoo", "ppo", "Nope-v9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: rl-zoo3's ppo hyperparameters for Nope-v9 (") and "<config>" not in err
    assert "env.id: unknown gymnasium env id 'Nope-v9'" in err


@pytest.mark.parametrize("config, key", [(DEMO, "env.n_envs"), ("configs/selfplay_tictactoe.yaml", "game.n_envs")])
def test_env_copies_are_a_bounded_count(config, key):
    """env.n_envs=1e12 was accepted; 100,000 CartPoles ran one rollout of 3.2M steps for a budget of 512."""
    with pytest.raises(ConfigError) as info:
        load_config(config, [f"{key}=1e12"])
    assert f"{key}: Input should be less than or equal to 1000000" in str(info.value)


def test_inf_and_escaped_text_survive_a_runs_config_yaml(tmp_path):
    """`max_grad_norm: .inf` (no clipping) was saved as null, and escaped `\\${...}` text as an
    interpolation: the run's config.yaml could then not be read again (eval, resume, re-run)."""
    from rlgen.config import save_config

    cfg = load_config("ppo_cartpole", ["agent.hyperparams.max_grad_norm=.inf", r"logging.wandb.name=price_\${usd}",
                                       r"logging.wandb.group=p_\\\${usd}", "env.kwargs={max_episode_steps: 200}"])
    assert cfg.logging.wandb.group == r"p_\${usd}"  # a backslash before the escaped text is kept as such
    assert cfg.agent.hyperparams["max_grad_norm"] == float("inf") and cfg.logging.wandb.name == "price_${usd}"
    save_config(cfg, tmp_path / "config.yaml")
    again = load_config(str(tmp_path / "config.yaml"), interpolation=False)  # as a run's config.yaml is read
    assert again == cfg
    assert load_config(cfg, ["seed=1"]).model_copy(update={"seed": cfg.seed}) == cfg  # a config object, overridden


def test_an_interpolation_of_a_key_only_an_override_sets_does_not_hide_the_real_problem(tmp_path):
    """The file alone is read again to salvage values for the kind's checks: its `${train.eval_every}`
    failed there, and that error replaced the one the user made."""
    path = tmp_path / "interp.yaml"
    path.write_text("name: interp\nkind: rl\nenv: {id: CartPole-v1}\nagent: {algo: ppo}\n"
                    "train: {total_steps: 256, checkpoint_every: '${train.eval_every}'}\n")
    assert load_config(str(path), ["train.eval_every=128"]).train.checkpoint_every == 128
    with pytest.raises(ConfigError) as e:
        load_config(str(path), ["train.eval_every=128", "optim.type=adamm"])
    assert "optim.type" in str(e.value) and "could not resolve" not in str(e.value)


# --- YAML that OmegaConf's reader would crash on or misread ---


def test_a_config_nested_thousands_deep_is_one_line_not_a_crash(tmp_path):
    """`a: [[[...]]]` 50,000 deep took the interpreter down (exit 139) in OmegaConf's reader; a
    few hundred deep said "maximum recursion depth exceeded"."""
    import subprocess
    import sys

    deep = tmp_path / "deep.yaml"
    deep.write_text("a: " + "[" * 50_000 + "]" * 50_000 + "\n")
    done = subprocess.run([sys.executable, "-m", "rlgen", "train", str(deep)], cwd=tmp_path,
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == "", done.stderr[-500:]
    assert done.stderr.strip() == (f"error: {deep}: nested more than 32 levels deep (line 1); a config is a few "
                                   "levels of keys and lists: is it the right file?")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.yaml"]  # no run folder
    deep.write_text("a: " + "{b: " * 200 + "1" + "}" * 200 + "\n")
    assert "nested more than 32 levels deep" in refused([], str(deep))
    assert "nested more than 32 levels deep" in refused(["env.kwargs=" + "[" * 200 + "]" * 200])


def test_a_complex_key_is_yamls_own_refusal_not_a_scan_error(tmp_path):
    """`? [a, b]` (a list as a key) broke the scan for misread figures before YAML was read:
    "not valid YAML: pop from empty list"."""
    odd = tmp_path / "odd.yaml"
    odd.write_text("? [a, 010]\n: 1\nseed: 010\n")
    said = refused([], str(odd))
    assert "unhashable key" in said and "pop from" not in said


@pytest.mark.parametrize("given, problem", [
    (["seed=010"], "seed: 010 reads as the number 8 (YAML 1.1: a leading 0 makes it octal); write the number "
                   "plainly, e.g. 10, or put it in quotes ('010') to keep it as text"),
    (["seed=1:30"], "seed: 1:30 reads as the number 90 (YAML 1.1: a colon makes it base 60); write the number "
                    "plainly, e.g. 90, or put it in quotes ('1:30') to keep it as text"),
    (["env.kwargs={max_episode_steps: 0200}"], "env.kwargs.max_episode_steps: 0200 reads as the number 128 (YAML 1.1: "
                                               "a leading 0 makes it octal)"),
    ("seed: 017", "seed: 017 reads as the number 15 (YAML 1.1: a leading 0 makes it octal)"),
])
def test_an_octal_or_base_60_figure_is_refused_not_read_as_another_number(tmp_path, given, problem):
    """`seed=010` trained seed 8 (while `--seeds 010` is seed 10), `seed: 017` seed 15, `seed=1:30` seed 90."""
    config = DEMO
    if isinstance(given, str):  # in the file
        config = tmp_path / "octal.yaml"
        config.write_text(Path(DEMO).read_text().replace("seed: 0\n", given + "\n"))
        given = []
    (found,) = problems(given, str(config))
    assert found.startswith(problem), found


def test_a_figure_that_reads_as_written_or_is_quoted_or_overridden_loads():
    cfg = load_config(DEMO, ["seed=07", "env.kwargs={max_episode_steps: '0200'}", "logging.wandb.name='1:30'"])
    assert (cfg.seed, cfg.env.kwargs["max_episode_steps"], cfg.logging.wandb.name) == (7, "0200", "1:30")
    assert load_config(DEMO, ["seed=010", "seed=10"]).seed == 10  # the last override replaces the misread one


@pytest.mark.parametrize("data", ["name: caf\xe9\nkind: rl\n".encode("latin-1"), "name: x\nkind: rl\n".encode("utf-16")])
def test_a_config_file_that_is_not_utf8_says_so(tmp_path, data):
    """It said "not valid YAML: 'utf-8' codec can't decode byte 0xe9 in position 9: invalid continuation byte"."""
    path = tmp_path / "latin.yaml"
    path.write_bytes(data)
    byte = data.index(b"\xe9") if b"\xe9" in data else 0
    assert refused([], str(path)) == f"{path}: not UTF-8 text (byte {byte}); save it as UTF-8 YAML"


@pytest.mark.parametrize("override, expected", [
    ("env.wrappers=[5]", "env.wrappers.0: expected text or a mapping, got 5"),
    ("env.wrappers=[null]", "env.wrappers.0: expected text or a mapping, got nothing (an empty override or null)"),
    ("agent.policy.net_arch={pi: [8], vf: 5}", "agent.policy.net_arch.vf: Input should be a valid list (got 5)"),
    ("agent.policy.net_arch=[a]", "agent.policy.net_arch.0: Input should be a valid integer, unable to parse string "
                                  "as an integer (got 'a')"),
])
def test_a_value_no_member_of_a_union_takes_is_one_problem_at_its_own_key(override, expected):
    """pydantic says why each member refused it, under the member's name: `env.wrappers.0.str: ...` and
    `env.wrappers.0.dict[str,dict[str,any]]: ...` for one mistake."""
    assert problems([override]) == [expected]


def test_a_local_path_starting_with_a_tilde_is_the_home_folders(tmp_path, monkeypatch):
    """`init.run=~/runs/x` on a command line reaches rlgen unexpanded (the shell expands no `~`
    after `key=`): it was looked up as a folder named `~` in the working directory."""
    from pydantic import TypeAdapter

    from rlgen.config_values import FolderPath, LocalPath

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "home" / "runs").mkdir(parents=True)
    assert TypeAdapter(LocalPath).validate_python("~/runs") == str(tmp_path / "home" / "runs")
    assert TypeAdapter(LocalPath).validate_python("not-here") == "not-here"  # a Minari id stays as written
    assert TypeAdapter(FolderPath).validate_python("cache") == str(tmp_path / "cache")  # made later: absolute now
