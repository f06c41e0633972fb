"""Sweeps: the runner's on_eval hook, pruning and the best config on a toy kind with a known
curve, then one real `rlgen sweep` on CartPole with a tiny budget."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from rlgen.api import load_config
from rlgen.cli import main
from rlgen.errors import ConfigError, RlgenError
from rlgen.runner import Runner
from rlgen.sweep import Sweep, SweepConfig, read_sweep
from tests.wandb_log import merged, wandb_records

from .toy import Toy, load_toy, toy_config


def test_runner_on_eval_hook_stops_with_status_pruned(tmp_path):
    cfg = load_toy(toy_config(tmp_path), [])
    calls = []

    def on_eval(step, metrics):
        calls.append((step, metrics["eval/return_mean"]))
        return step >= 30

    summary = Runner(cfg, Toy(cfg), on_eval=on_eval).run()
    assert calls == [(10, 1.0), (20, 2.0), (30, 3.0)]
    assert summary["status"] == "pruned" and summary["global_step"] == 30
    # Without the hook, the same run goes to the end.
    assert Runner(cfg, Toy(cfg)).run()["status"] == "completed"


def toy_sweep(tmp_path: Path, pruner: dict, n_trials: int = 3, train: dict | None = None, **more: object) -> Sweep:
    base = tmp_path / "toy.yaml"
    base.write_text(yaml.safe_dump(toy_config(tmp_path, **(train or {}))))
    spec = SweepConfig.model_validate({
        "config": str(base), "study": "toy_study", "n_trials": n_trials, "sampler": {"type": "random", "seed": 2},
        "pruner": pruner, "space": {"x": {"type": "int", "low": 1, "high": 10},
                                    "shape": {"type": "categorical", "choices": {"a": {"type": "a", "size": 1},
                                                                                 "b": {"type": "b", "width": 2}}}},
        **more,
    })
    return Sweep(spec, load=load_toy, make_experiment=Toy)


def test_sweep_prunes_and_writes_the_best_config(tmp_path):
    # ThresholdPruner(lower=5): a trial whose first eval (x * 1) is below 5 is pruned at step 10.
    sweep = toy_sweep(tmp_path, {"type": "threshold", "lower": 5.0})
    best_path = sweep.run()
    study = sweep.open_study()
    trials = study.trials
    assert len(trials) == 3
    states = {t.number: t.state.name for t in trials}
    for t in trials:
        x = t.params["x"]
        assert states[t.number] == ("PRUNED" if x < 5 else "COMPLETE"), (x, states)
        summary = json.loads((Path(t.user_attrs["run_dir"]) / "summary.json").read_text())
        assert summary["status"] == ("pruned" if x < 5 else "completed")
        assert summary["global_step"] == (10 if x < 5 else 50)
    assert sorted(states.values()) == ["COMPLETE", "COMPLETE", "PRUNED"]  # sampler seed 2: x = 4, 10, 9
    best = max((t for t in trials if t.state.name == "COMPLETE"), key=lambda t: t.params["x"])
    assert study.best_value == best.params["x"] * 5  # x * 50 / 10 at the last eval
    # The best config: base name and group, the best values, the mapping choice replaced whole.
    cfg = load_toy(str(best_path), [])
    assert cfg.name == "toy" and cfg.x == best.params["x"] and cfg.logging.wandb.group is None
    assert cfg.shape == {"a": {"type": "a", "size": 1}, "b": {"type": "b", "width": 2}}[best.params["shape"]]
    # Every trial ran under runs/<study>/ with the study as name and W&B group.
    trial_cfg = yaml.safe_load((Path(trials[0].user_attrs["run_dir"]) / "config.yaml").read_text())
    assert trial_cfg["name"] == "toy_study" and trial_cfg["logging"]["wandb"]["group"] == "toy_study"
    assert "sweep" in trial_cfg["logging"]["wandb"]["tags"]


def test_rerun_continues_the_study(tmp_path, capsys):
    toy_sweep(tmp_path, {"type": "none"}, n_trials=2).run()
    sweep = toy_sweep(tmp_path, {"type": "none"}, n_trials=3)  # same SQLite study, one more trial
    sweep.run()
    assert len(sweep.open_study().trials) == 3
    assert "warning" not in capsys.readouterr().err
    # continued with another budget: its trials would be ranked with the others as if comparable
    toy_sweep(tmp_path, {"type": "none"}, n_trials=4, overrides=["train.total_steps=60"]).run()
    err = " ".join(capsys.readouterr().err.split())
    assert "warning: study 'toy_study' was started with other overrides ([] against ['train.total_steps=60'])" in err


def test_a_rerun_after_its_base_file_was_edited_says_which_values_changed(tmp_path, capsys):
    toy_sweep(tmp_path, {"type": "none"}, n_trials=2).run()
    toy_sweep(tmp_path, {"type": "none"}, n_trials=3, train={"eval_every": 10}).run()  # the same values again
    assert "warning" not in capsys.readouterr().err
    toy_sweep(tmp_path, {"type": "none"}, n_trials=4, train={"total_steps": 60}).run()  # toy.yaml edited
    err = " ".join(capsys.readouterr().err.split())
    assert ("warning: study 'toy_study' was started with other values in toy.yaml (train.total_steps: 50 then, 60 "
            "now): its earlier trials are ranked with these as if comparable") in err


@pytest.mark.parametrize("change, message", [
    ({"direction": "minimize"}, "study 'toy_study' in sqlite:///{db} was made to maximize, not to minimize: its "
                                "trials would be ranked the wrong way round; keep it to maximize"),
    ({"metric": "loss/toy", "direction": "maximize"},
     "study 'toy_study' holds trials valued by metric 'eval/return_mean', not 'loss/toy': "
                             "they cannot be ranked with this sweep's; set metric: eval/return_mean in the sweep file"),
    ({"objective": "final"}, "study 'toy_study' holds trials valued by objective 'best', not 'final'"),
], ids=["direction", "metric", "objective"])
def test_a_rerun_that_values_trials_otherwise_is_refused_and_changes_nothing(tmp_path, change, message):
    toy_sweep(tmp_path, {"type": "none"}, n_trials=2).run()
    files = {p: p.read_bytes() for p in (tmp_path / "toy_study").rglob("*") if p.is_file()}
    changed = toy_sweep(tmp_path, {"type": "none"}, n_trials=3, **change)
    message = message.format(db=(tmp_path / "toy_study" / "study.db").resolve())
    for action in (changed.run, changed.status):
        with pytest.raises(RlgenError, match="^" + re.escape(message)) as e:
            action()
        assert "--study NEW_NAME" in str(e.value) and "\n" not in str(e.value)
    assert {p: p.read_bytes() for p in (tmp_path / "toy_study").rglob("*") if p.is_file()} == files


def test_the_compare_line_at_the_end_compares_by_the_sweeps_metric(tmp_path, capsys):
    """The sweep ends with the `rlgen compare` of its runs; by another metric than compare's default,
    or one where lower is better, the line says so (a GAN's sweep by gan/loss_d, say)."""
    folder = tmp_path / "my runs"  # quoted for the shell
    folder.mkdir()
    toy_sweep(folder, {"type": "none"}, n_trials=2, metric="loss/toy", direction="minimize").run()
    (line,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("  compare:")]
    words = shlex.split(line.removeprefix("  compare:"))
    assert words == ["rlgen", "compare", str(folder / "toy_study"), "--metric", "loss/toy", "--mode", "min"]
    assert main(words[1:]) == 0
    assert "loss/toy" in capsys.readouterr().out


def test_every_trial_is_its_own_wandb_run_name_with_its_number_and_draws(tmp_path, monkeypatch):
    """W&B names a trial as `rlgen sweep --status` shows it, and holds its study, number and draws in
    the run's config (as Optuna's W&B integration names runs by trial)."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    sweep = toy_sweep(tmp_path, {"type": "none"}, n_trials=2)
    sweep.run()
    for t in sweep.open_study().trials:
        records = wandb_records(Path(t.user_attrs["run_dir"]))
        (run,) = [r["run"] for r in records if r["type"] == "run" and "run_group" in r["run"]]
        assert run["display_name"] == f"toy_study t{t.number} x={t.params['x']} shape={t.params['shape']}"
        assert run["run_group"] == "toy_study" and "sweep" in run["tags"]
        assert merged(records, "config")["optuna"] == {"study": "toy_study", "trial": t.number, "params": t.params}


def test_bad_sweep_files_are_readable_errors(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"config": "ppo_cartpole", "space": {"optim.lr": {"type": "flot", "low": 1}}}))
    with pytest.raises(ConfigError, match="unknown type 'flot'.*did you mean 'float'"):
        read_sweep(path)
    path.write_text(yaml.safe_dump({"config": "x", "n_trail": 3, "space": {"x": {"type": "int", "low": 1, "high": 2}}}))
    with pytest.raises(ConfigError, match="n_trail: unknown key.*did you mean 'n_trials'"):
        read_sweep(path)
    # A misspelt config key in the space fails before any trial, with the config's own message.
    sweep = SweepConfig.model_validate({"config": "ppo_cartpole", "space": {"optim.lrr": {"type": "float", "low": 1e-4, "high": 1e-3}}})
    with pytest.raises(ConfigError, match="optim.lrr: unknown key.*did you mean 'lr'"):
        Sweep(sweep, load=load_config, make_experiment=lambda cfg: None)
    with pytest.raises(RlgenError, match="pruner.lowr: not an argument of optuna's ThresholdPruner"):
        toy_sweep(tmp_path, {"type": "threshold", "lowr": 1.0}).run()


BACKBONES = {"small": {"type": "mlp", "hidden": [8]}, "bad": {"type": "mlp", "hiddn": [8]},
             "big": {"type": "mlp", "hidden": [64]}}


@pytest.mark.parametrize("space, message", [
    ({"optim.lr": {"type": "float", "low": 3e-3, "high": 3e-4}},
     "space.optim.lr: low (0.003) is above high (0.0003); swap them"),
    ({"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3, "log": True, "step": 1e-4}},
     "space.optim.lr: step does not go with log: true"),
    ({"optim.lr": {"type": "float", "low": 0.0, "high": 1e-3, "log": True}}, "space.optim.lr: log: true needs low > 0"),
    ({"agent.hyperparams.n_epochs": {"type": "int", "low": 20, "high": 4}},
     "space.agent.hyperparams.n_epochs: low (20) is above high (4)"),
    ({"agent.hyperparams.n_epochs": {"type": "int", "low": 4, "high": 20, "log": True, "step": 2}},
     "space.agent.hyperparams.n_epochs: step does not go with log: true"),
    # a bad choice between two good ones: every choice is checked, not only the first and the last
    ({"agent.policy.backbone": {"type": "categorical", "choices": BACKBONES}},
     "space.agent.policy.backbone: choice 'bad': agent.policy.backbone.hiddn: unknown key (did you mean 'hidden'?)"),
    ({"agent.hyperparams.gamma": {"type": "categorical", "choices": [0.9, "high", 0.99]}},
     "space.agent.hyperparams.gamma: choice 'high': agent.hyperparams.gamma:"),
    ({"agent.hyperparams.n_epochs": {"type": "int", "low": 2, "high": 9, "step": 3}},
     "space.agent.hyperparams.n_epochs: step 3 does not divide the range 2 to 9; Optuna would draw up to 8 only"),
    ({"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3, "step": 4e-4}},
     "space.optim.lr: step 0.0004 does not divide the range 0.0001 to 0.001"),
    ({"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3},
      "optim": {"type": "categorical", "choices": [{"type": "sgd", "lr": 0.1}]}},
     "space: 'optim.lr' lies inside 'optim'"),
    # whole ends pass an integer key; every draw between them would fail its trial
    ({"agent.hyperparams.n_epochs": {"type": "float", "low": 4, "high": 8}},
     "space.agent.hyperparams.n_epochs: 6.5, a float between low and high: agent.hyperparams.n_epochs: Input should "
     "be a valid integer, got a number with a fractional part"),
    ({"agent.hyperparams.n_epochs": {"type": "float", "low": 4, "high": 8, "step": 0.5}},
     "space.agent.hyperparams.n_epochs: 4.5, a float between low and high: agent.hyperparams.n_epochs:"),
    ({"agent.policy.backbone.hidden.5": {"type": "int", "low": 4, "high": 8}},
     "space.agent.policy.backbone.hidden.5: low: agent.policy.backbone.hidden is a list of 2 items, which has no "
     "item '5'; to change its length write the whole list: agent.policy.backbone.hidden=[...]"),
    ({"agent.policy.backbone.hidden.x": {"type": "int", "low": 4, "high": 8}},
     "space.agent.policy.backbone.hidden.x: low: agent.policy.backbone.hidden is a list of 2 items, which has no "
     "item 'x'"),
], ids=["low_above_high", "float_step_and_log", "log_from_zero", "int_low_above_high", "int_step_and_log",
        "bad_middle_choice", "bad_middle_plain_choice", "int_step_off_range", "float_step_off_range", "key_inside_key",
        "float_range_on_int_key", "stepped_float_range_on_int_key", "list_index_past_end", "list_index_word"])
def test_a_bad_space_is_one_line_and_exit_2_before_any_file(tmp_path, monkeypatch, capsys, space, message):
    monkeypatch.chdir(tmp_path)  # logging.dir is runs/: the study would go to tmp_path/runs/
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"config": "ppo_cartpole", "n_trials": 2, "space": space}, sort_keys=False))
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert list(tmp_path.rglob("*")) == [path]  # no study.db, no run directory


@pytest.mark.parametrize("pruner, message", [
    ({"type": "percentile"}, "pruner percentile: optuna's PercentilePruner refused no arguments: "),
    ({"type": "median", "n_startup_trials": -3}, "pruner median: optuna's MedianPruner refused {'n_startup_trials': -3}"),
    ({"type": "patient", "patience": 2, "wrapped": {"type": "medianx"}}, "pruner.wrapped: type: 'medianx' is not a valid"),
])
def test_arguments_optuna_refuses_are_one_line_before_any_file(tmp_path, monkeypatch, capsys, pruner, message):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"config": "ppo_cartpole", "pruner": pruner,
                                    "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3}}}))
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert list(tmp_path.rglob("*")) == [path]


@pytest.mark.parametrize("given, message", [
    ({"sampler": {"type": "random", "seed": -1}}, "sampler.seed: "),
    ({"sampler": {"type": "tpe", "seed": 2**32}}, "sampler.seed: "),
    ({"overrides": "train.total_steps=64"},
     "s.yaml: overrides is a list of 'key=value' strings, e.g. ['seed=1'], not str 'train.total_steps=64'"),
    ({"overrides": None}, "s.yaml: overrides is a list of 'key=value' strings"),
    ({"overrides": 64}, "s.yaml: overrides is a list of 'key=value' strings, e.g. ['seed=1'], not int 64"),
], ids=["negative_seed", "seed_past_32_bits", "overrides_text", "overrides_empty", "overrides_number"])
def test_a_bad_sampler_seed_or_overrides_is_one_line_before_any_file(tmp_path, monkeypatch, capsys, given, message):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"config": "ppo_cartpole", **given,
                                    "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3}}}))
    assert main(["sweep", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in " ".join(err.split()) and err.strip().count("\n") == 0 and "Traceback" not in err, err
    assert list(tmp_path.rglob("*")) == [path]


def test_a_cmaes_sweep_runs_past_its_second_trial(tmp_path):
    """Optuna imports cmaes only when CmaEsSampler first samples, at the second trial: rlgen installs it."""
    sweep = toy_sweep(tmp_path, {"type": "none"}, sampler={"type": "cmaes", "seed": 0})
    sweep.run()
    assert [t.state.name for t in sweep.open_study().trials] == ["COMPLETE"] * 3


def test_a_sampler_whose_package_is_missing_is_one_line_naming_its_install(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "cmaes", None)  # `import cmaes` raises ModuleNotFoundError
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"config": "ppo_cartpole", "sampler": {"type": "cmaes"},
                                    "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3}}}))
    with pytest.raises(RlgenError, match=r"^sampler.type: cmaes needs the package 'cmaes', which is not installed: "
                                         r"pip install cmaes"):
        read_sweep(path)
    assert main(["sweep", str(path)]) == 2
    assert "pip install cmaes" in capsys.readouterr().err
    assert list(tmp_path.rglob("*")) == [path]


def test_status_before_the_study_exists_asks_for_the_sweeps_logging_dir(tmp_path):
    """--status needs no override again but logging.dir, which says where the study is."""
    sweep = toy_sweep(tmp_path, {"type": "none"})
    with pytest.raises(RlgenError, match=r"^no study 'toy_study' yet: .*study.db does not exist; if the sweep ran with "
                                         r"logging.dir=DIR, give it again$"):
        sweep.status()


def test_a_reference_in_the_base_file_follows_each_trials_draw(tmp_path):
    """`eval_every: ${train.total_steps}` in the base file is resolved after the draws, as `rlgen train
    base.yaml train.total_steps=40` resolves it, and an override of the sweep still wins over it."""
    space = {"train.total_steps": {"type": "categorical", "choices": [20, 40]}}
    sweep = toy_sweep(tmp_path, {"type": "none"}, train={"eval_every": "${train.total_steps}"}, space=space)
    fixed = toy_sweep(tmp_path, {"type": "none"}, train={"eval_every": "${train.total_steps}"}, space=space,
                      overrides=["train.eval_every=10"])
    for steps in (20, 40):
        cfg = sweep.trial_config({"train.total_steps": steps}, 0, {"train.total_steps": steps})
        assert cfg.train.eval_every == steps == load_toy(str(tmp_path / "toy.yaml"), [f"train.total_steps={steps}"]
                                                         ).train.eval_every
        assert fixed.trial_config({"train.total_steps": steps}, 0, {}).train.eval_every == 10


def test_a_sweep_in_which_no_trial_completed_is_an_error(tmp_path, capsys):
    (tmp_path / "bogus").mkdir(), (tmp_path / "pruned").mkdir()
    # Every trial fails: the runs log no eval/bogus. The metric is only known once a run logs it.
    with pytest.raises(RlgenError, match=r"no trial of study 'toy_study' completed: 3 failed; "
                                         r"the last one: the run logged no 'eval/bogus'"):
        toy_sweep(tmp_path / "bogus", {"type": "none"}, metric="eval/bogus", direction="maximize").run()
    # Every trial pruned at its first eval (x * 1 <= 10 < 100).
    with pytest.raises(RlgenError, match=r"no trial of study 'toy_study' completed: 3 pruned; "
                                         r"loosen `pruner:`"):
        toy_sweep(tmp_path / "pruned", {"type": "threshold", "lower": 100.0}).run()
    assert not list(tmp_path.rglob("best.yaml"))


@pytest.mark.slow
def test_rlgen_sweep_end_to_end_on_cartpole(tmp_path, capsys):
    sweep_file = tmp_path / "sweep.yaml"
    sweep_file.write_text(yaml.safe_dump({
        "config": "ppo_cartpole", "n_trials": 3, "study": "cp",
        "overrides": ["train.total_steps=512", "train.eval_every=256", "train.eval_episodes=2", "env.n_envs=4",
                      "agent.hyperparams.n_epochs=2", "agent.hyperparams.batch_size=64", "train.progress=false",
                      "logging.console=false", "logging.wandb.mode=disabled", f"logging.dir={tmp_path}"],
        "sampler": {"type": "random", "seed": 1},
        "pruner": {"type": "median", "n_startup_trials": 1},
        "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
                  "agent.hyperparams.gamma": {"type": "categorical", "choices": [0.9, 0.98]}},
    }))
    assert main(["sweep", str(sweep_file)]) == 0
    err = capsys.readouterr().err
    assert err.count("trial ") >= 3 and "best: trial" in err
    best = tmp_path / "cp" / "best.yaml"
    cfg = load_config(best, [])
    assert cfg.name == "ppo_cartpole" and cfg.train.total_steps == 512
    assert len(list((tmp_path / "cp").glob("*/summary.json"))) == 3
    assert main(["compare", str(tmp_path / "cp")]) == 0  # every trial side by side


@pytest.mark.parametrize("path", sorted((Path(__file__).parents[2] / "configs" / "sweeps").glob("*.yaml")),
                         ids=lambda p: p.stem)
def test_bundled_sweep_files_validate(path):
    """Every sweep file in configs/sweeps/ reads, and its space's extreme values make valid configs."""
    sweep = Sweep(read_sweep(path), load=load_config, make_experiment=lambda cfg: None)
    assert sweep.metric in ("eval/return_mean", "eval/expert_ratio") and sweep.direction == "maximize"


def test_bundled_sweeps_open_by_name_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # not the checkout: the files come from the installed package
    for given in ("sweeps/ppo_cartpole", "configs/sweeps/ppo_cartpole.yaml"):
        sweep = read_sweep(given)
        assert sweep.study == "ppo_cartpole_sweep" and sweep.space
    with pytest.raises(RlgenError, match=r"not found: sweeps/ppo_cartpol \(did you mean 'sweeps/ppo_cartpole'\?\); "
                                         r"bundled sweeps: sweeps/gail_cartpole, sweeps/ppo_cartpole"):
        read_sweep("sweeps/ppo_cartpol")


def test_a_study_name_past_wandbs_group_limit_still_sweeps(tmp_path):
    """The study is the trials' W&B group: cut as the trial names are, not refused as a group the
    user never set."""
    sweep = toy_sweep(tmp_path, {"type": "none"}, n_trials=1, study="s" * 140)
    cfg = sweep.trial_config({"x": 3, "shape": {"type": "a", "size": 1}}, 0, {"x": 3, "shape": "a"})
    assert len(cfg.logging.wandb.group) <= 128 and cfg.logging.wandb.group.startswith("s" * 100)


def test_a_reference_in_the_sweeps_overrides_follows_each_trials_draw(tmp_path):
    """`train.eval_every=${train.total_steps}` in the sweep file (or on the command line) names the
    base config's key, resolved per trial: the trial that draws 2048 steps evaluates every 2048."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({
        "config": "ppo_cartpole", "study": "ref", "n_trials": 1,
        "overrides": ["logging.wandb.mode=disabled", "train.eval_every=${train.total_steps}"],
        "space": {"train.total_steps": {"type": "categorical", "choices": [512, 2048]}}}))
    for given in ([], ["train.checkpoint_every=${train.total_steps}"]):
        sweep = Sweep(read_sweep(path, given), load=load_config, make_experiment=lambda cfg: None)
        for steps in (512, 2048):
            cfg = sweep.trial_config({"train.total_steps": steps}, 0, {"train.total_steps": steps})
            assert cfg.train.eval_every == steps
            assert cfg.train.checkpoint_every == (steps if given else None)


@pytest.mark.parametrize("base, early_stop, metric, given, direction", [
    ("supervised_digits", "{}", None, None, "minimize"),  # the kind's early stop, eval/val_loss, in its mode
    ("supervised_digits", "{}", "eval/val_loss", None, "minimize"),
    ("supervised_digits", "{}", "eval/val_accuracy", "maximize", "maximize"),
    ("bc_cartpole", "{metric: eval/bc_val_loss, mode: min}", "eval/return_mean", "maximize", "maximize"),
    ("supervised_digits", "{}", "eval/test_loss", None, None),  # another metric: its direction is asked for
    ("gan_ring8", "{}", "eval/high_quality", None, None),
])
def test_a_sweep_metric_takes_the_early_stop_mode_only_when_it_is_the_early_stop_metric(tmp_path, base, early_stop,
                                                                                      metric, given, direction):
    """Which way the early-stop metric is better says nothing of another metric: a supervised sweep on
    eval/val_accuracy minimised it (kept the worst trial) under the kind's eval/val_loss, min."""
    path = tmp_path / "s.yaml"
    path.write_text(yaml.safe_dump({"config": base, "n_trials": 1, "overrides": [f"train.early_stop={early_stop}"],
                                    **({"metric": metric} if metric else {}), **({"direction": given} if given else {}),
                                    "space": {"seed": {"type": "int", "low": 0, "high": 9}}}))
    if direction is None:
        with pytest.raises(RlgenError, match=rf"^direction: the sweep's metric {metric} is not the config's "
                                             r"train.early_stop.metric \(.*\), whose mode says nothing of it: give "
                                             "direction: maximize or minimize$"):
            Sweep(read_sweep(path), load=load_config, make_experiment=lambda cfg: None)
        return
    sweep = Sweep(read_sweep(path), load=load_config, make_experiment=lambda cfg: None)
    assert sweep.direction == direction
