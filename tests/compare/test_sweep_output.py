"""What a sweep prints and takes: its trials table whole (numbers and parameters never cut, text
never read as markup), `--status` without the run's overrides, and `--trust` for its trials."""

from __future__ import annotations

import io

import optuna
import yaml
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from rich.console import Console

import rlgen
from rlgen.cli import main
from rlgen.study_view import status_table

from .test_study_queue import sweep_file

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def test_the_trials_table_keeps_numbers_and_parameter_names_whole_at_80_columns():
    study = optuna.create_study(direction="maximize")
    space = {"agent.hyperparams.n_epochs": IntDistribution(4, 20), "optim.lr": FloatDistribution(1e-4, 1e-2),
             "agent.policy.backbone": CategoricalDistribution(["mlp", "transformer"])}
    for lr, backbone in ((0.0028212345, "transformer"), (0.00103, "mlp")):
        params = {"agent.hyperparams.n_epochs": 13, "optim.lr": lr, "agent.policy.backbone": backbone}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=space, value=91.4321,
                                                  user_attrs={"worker": "host:123", "global_step": 30_000}))
    study.add_trial(optuna.trial.create_trial(state=optuna.trial.TrialState.FAIL, params=params, distributions=space,
                                              user_attrs={"error": "bad [/x] value"}))
    text = _rendered(status_table(study, "eval/return_mean"), width=80)  # the state and worker columns give way
    assert max(map(len, text.splitlines())) <= 80
    for whole in ("0.002821", "0.00103", "transformer", "91.4321", "30,000", "hyperparams.", "n_epochs", "backbone",
                  "optim.lr"):
        assert whole in text, (whole, text)
    assert "failed: bad [/x] value" in _rendered(status_table(study), width=200)  # an error is text, not markup


def _rendered(renderable: object, width: int) -> str:
    out = io.StringIO()
    Console(file=out, width=width).print(renderable)
    return out.getvalue()


def test_status_without_the_runs_overrides_warns_of_nothing(tmp_path, capsys):
    """--status ranks nothing: the overrides the sweep ran with need not be given again."""
    path = sweep_file(tmp_path, n_trials=1)
    assert main(["sweep", str(path), "train.total_steps=20"]) == 0
    capsys.readouterr()
    assert main(["sweep", str(path), "--status"]) == 0
    captured = capsys.readouterr()
    assert "1 finished: 1 complete" in captured.out and "warning" not in captured.err, captured.err


def test_a_sweeps_final_table_is_whole_off_a_terminal(tmp_path, capsys):
    label = "a_choice_label_long_enough_to_push_the_trials_table_past_eighty_columns"
    path = sweep_file(tmp_path, n_trials=1)
    spec = yaml.safe_load(path.read_text())
    spec["space"] = {"shape": {"type": "categorical", "choices": {label: {"type": "a", "size": 1}}}}
    path.write_text(yaml.safe_dump(spec))
    assert main(["sweep", str(path)]) == 0
    assert f"│ {label} │" in capsys.readouterr().err


def test_sweep_trust_reaches_the_run_a_trials_init_names(tmp_path, capsys):
    """A base config whose backbone init is a run of your own that names code by import path:
    refused as `rlgen train` refuses it, and run with --trust as `rlgen train --trust` runs it."""
    tiny = ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
            "train.total_steps=32", "train.eval_every=32", "train.eval_episodes=1", *QUIET]
    source = rlgen.train("ppo_cartpole", [*tiny, f"logging.dir={tmp_path / 'a'}",
                                          "env.wrappers=[{gymnasium.wrappers:ClipReward: {min_reward: -1, max_reward: 1}}]"])
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "config": "ppo_cartpole", "study": "s", "n_trials": 1, "sampler": {"type": "random", "seed": 0},
        "pruner": {"type": "none"}, "space": {"optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3}},
        "overrides": [*tiny, f"logging.dir={tmp_path / 'b'}",
                      f"agent.policy.backbone.init={{run: {source.run_dir}, role: policy}}"]}))
    assert main(["sweep", str(path), "--study", "untrusted"]) == 2
    assert "'gymnasium.wrappers:ClipReward' is an import path" in capsys.readouterr().err
    assert main(["sweep", str(path), "--trust"]) == 0
    assert "1 finished: 1 complete" in capsys.readouterr().err
