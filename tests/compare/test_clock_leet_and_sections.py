"""`rlgen compare`: time to a threshold only on the training clock, `--leet` links the table's runs
and no others, `--by` a section of the config (what a sweep's categorical draws), and the README's
word on what a sweep's `n_trials` counts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from rlgen.cli import main
from rlgen.compare import compare, group_runs, read_runs
from rlgen.compare_report import table_rows
from rlgen.errors import RlgenError

from .conftest import write_run

README = Path(__file__).resolve().parents[2] / "README.md"

# Rows as the runner writes them: each step a training row (rollout/ep_return_mean = value / 2 and
# time/elapsed_s = the eval's wall time + 1 s, the process clock that counts the start too), then
# an evaluation row with eval/wall_time_s, the training + evaluation clock.
EVALS = [[(1000, 100.0, 1.0), (2000, 300.0, 2.0)], [(1000, 200.0, 1.5), (2000, 400.0, 3.0)]]


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- time to a threshold -----------------------------------------------------------------------------


def test_time_to_a_threshold_is_never_the_process_clock(make_run, tmp_path, capsys):
    for seed, evals in enumerate(EVALS):
        make_run("ppo", seed, evals)
    runs = read_runs([str(tmp_path / "ppo")])
    # An evaluation metric: its rows carry eval/wall_time_s, so the time is that clock's (2.0 and 1.5 s).
    _, (s,) = compare(runs, "eval/return_mean", threshold=150)
    assert s.reached == 2 and s.time_to_s.mean == pytest.approx(1.75)
    # A training metric: its rows carry only time/elapsed_s (here 3.0 and 2.5 s): no time, not that one.
    capsys.readouterr()
    _, (s,) = compare(runs, "rollout/ep_return_mean", threshold=75)
    assert s.reached == 2 and s.steps_to.mean == pytest.approx(1500)
    assert s.time_to_s is None
    columns, (row,) = table_rows([s], threshold=75)
    assert row[columns.index("time to 75 (s)")] == "—"
    assert row[columns.index("steps to 75")] == "1,500 ± 707.1 (2/2)"
    err = _one_line(capsys.readouterr().err)
    assert "rollout/ep_return_mean" in err and "eval/wall_time_s" in err and "time/elapsed_s" in err


# --- --leet ------------------------------------------------------------------------------------------


def _with_wandb(run: Path) -> Path:
    """What W&B leaves in a run: its offline run folder (named by the start time and the run id,
    so a copy of the run has the same name) and a `latest-run` link to it."""
    offline = run / "wandb" / f"offline-run-20260101_000000-{run.name}"
    (offline / "files").mkdir(parents=True)
    (run / "wandb" / "latest-run").symlink_to(offline)
    return run


@pytest.fixture
def leet_runs(tmp_path):
    """a/: seeds 0 and 1 finished, seed 2 killed (no summary.json); b/: a copy of seed 1, newer."""
    a0 = _with_wandb(write_run(tmp_path / "a", "ppo", 0, EVALS[0]))
    a1 = _with_wandb(write_run(tmp_path / "a", "ppo", 1, EVALS[1]))
    a2 = _with_wandb(write_run(tmp_path / "a", "ppo", 2, EVALS[1], summary=False))
    b1 = _with_wandb(write_run(tmp_path / "b", "ppo", 1, EVALS[1]))
    for age, run in enumerate([a0, a1, a2, b1]):
        os.utime(run / "metrics.jsonl", (1000 + age, 1000 + age))
    return tmp_path, (a0, a1, a2, b1)


def _links(ws: Path) -> dict[str, Path]:
    return {p.name: p.resolve().parent.parent for p in ws.iterdir()}


def test_leet_links_exactly_the_runs_in_the_table(leet_runs, capsys):
    root, (a0, a1, a2, b1) = leet_runs
    ws = root / "leet"
    args = ["compare", str(root / "a"), str(root / "b"), "--out", str(root / "c.png"), "--leet", str(ws)]
    # The table holds seed 0 and the newest copy of seed 1; the killed seed 2 and the older copy are left out.
    assert main(args) == 0
    err = _one_line(capsys.readouterr().err)
    assert "2 run(s) in 1 group(s)" in err and "2 offline W&B run(s) linked" in err
    assert sorted(_links(ws).values()) == sorted([a0.resolve(), b1.resolve()])
    # Both copies of seed 1 counted: three links, the shared folder name made unique, each to its own run.
    assert main([*args, "--include-repeats"]) == 0
    err = _one_line(capsys.readouterr().err)
    assert "3 run(s) in 1 group(s)" in err and "3 offline W&B run(s) linked" in err
    links = _links(ws)
    assert sorted(links.values()) == sorted([a0.resolve(), a1.resolve(), b1.resolve()])
    assert all(re.fullmatch(r"offline-run-20260101_000000-\S+", name) for name in links)
    # The same workspace again shows this table's runs alone: the extra link is gone.
    assert main(args) == 0
    assert "2 offline W&B run(s) linked" in _one_line(capsys.readouterr().err)
    assert sorted(_links(ws).values()) == sorted([a0.resolve(), b1.resolve()])


# --- --by a section of the config --------------------------------------------------------------------


def _backbone(run: Path, backbone: dict) -> Path:
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["agent"]["policy"]["backbone"] = backbone
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run


SMALL = {"type": "mlp", "hidden": [16], "activation": "tanh", "dropout": 0.0}
BIG = {"type": "mlp", "hidden": [64, 64], "activation": "relu", "dropout": 0.0}


def test_by_a_section_groups_by_all_of_it_and_labels_what_differs(make_run, tmp_path, capsys):
    # A sweep's categorical over agent.policy.backbone: both choices are MLPs, so .type alone pools them.
    for seed, backbone in enumerate([SMALL, BIG, SMALL, BIG]):
        _backbone(make_run("sweep", seed, EVALS[seed % 2]), backbone)
    runs = read_runs([str(tmp_path / "sweep")])
    groups = group_runs(runs, by=["agent.policy.backbone"])
    assert [(g.label, len(g.runs)) for g in groups] == [
        ("agent.policy.backbone={activation: relu, hidden: [64,64]}", 2),
        ("agent.policy.backbone={activation: tanh, hidden: [16]}", 2),
    ]
    assert [len(g.runs) for g in group_runs(runs, by=["agent.policy.backbone.type"])] == [4]
    # One group: the label shows the whole section.
    (one,) = group_runs(runs[:1], by=["agent.policy.backbone"])
    assert one.label == "agent.policy.backbone={type: mlp, activation: tanh, dropout: 0, hidden: [16]}"
    assert main(["compare", str(tmp_path / "sweep"), "--by", "agent.policy.backbone",
                 "--out", str(tmp_path / "c.png")]) == 0
    out = capsys.readouterr().out
    assert "agent.policy.backbone={activation: tanh, hidden: [16]}" in _one_line(out)
    with pytest.raises(RlgenError, match=r"--by agent.policy.backbon: no run has this config key "
                                         r"\(did you mean 'agent.policy.backbone'\?\)"):
        group_runs(runs, by=["agent.policy.backbon"])


def test_a_section_some_runs_lack_shows_a_dash(make_run, tmp_path):
    _backbone(make_run("x", 0, EVALS[0]), SMALL)
    run = make_run("x", 1, EVALS[1])
    config = yaml.safe_load((run / "config.yaml").read_text())
    del config["agent"]["policy"]
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    labels = [g.label for g in group_runs(read_runs([str(tmp_path / "x")]), by=["agent.policy.backbone"])]
    assert labels == ["agent.policy.backbone={type: mlp, activation: tanh, dropout: 0, hidden: [16]}",
                      "agent.policy.backbone=—"]


# --- README: what a sweep's n_trials counts ----------------------------------------------------------


def test_the_readmes_n_trials_comment_counts_what_the_sweep_counts(tmp_path):
    """A sweep runs until its study holds n_trials finished slots, and `counts` takes failed trials
    as finished (as Optuna's `study.optimize(n_trials=N)` counts every trial it runs): the README's
    sweep file must say so, or a reader expects failed trials to be run again."""
    import optuna

    from rlgen.study_view import counts

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    for state in ("COMPLETE", "PRUNED", "FAIL"):
        trial = study.ask()
        study.tell(trial, 1.0 if state == "COMPLETE" else None, state=getattr(optuna.trial.TrialState, state))
    c = counts(study.get_trials(deepcopy=False), "minimize")
    assert (c["finished"], c["complete"], c["pruned"], c["failed"]) == (3, 1, 1, 1)
    text = README.read_text()
    example = text[text.index("A sweep file (`configs/sweeps/ppo_cartpole.yaml`)"):]
    comment = re.search(r"^n_trials: \d+ +# (.*)$", example, re.M).group(1)
    assert all(state in comment for state in ("complete", "pruned", "failed")), comment


def test_a_section_leaves_out_what_the_default_grouping_never_groups_by(make_run, tmp_path):
    """--by train does not split runs that differ only in train.threads or train.progress."""
    for seed, threads in enumerate([1, 2]):
        run = make_run("t", seed, EVALS[seed])
        config = yaml.safe_load((run / "config.yaml").read_text())
        config.setdefault("train", {}).update(threads=threads, progress=bool(seed))
        (run / "config.yaml").write_text(yaml.safe_dump(config))
    (group,) = group_runs(read_runs([str(tmp_path / "t")]), by=["train"])
    assert len(group.runs) == 2 and "threads" not in group.label and "progress" not in group.label


def test_a_section_the_default_grouping_never_groups_by_groups_when_named(make_run, tmp_path):
    """--by logging groups by what is below it, as --by seed groups by the seed: it was asked for."""
    for seed, folder in enumerate(["a", "b"]):
        run = make_run("l", seed, EVALS[seed])
        config = yaml.safe_load((run / "config.yaml").read_text())
        config["logging"]["dir"] = folder
        (run / "config.yaml").write_text(yaml.safe_dump(config))
    groups = group_runs(read_runs([str(tmp_path / "l")]), by=["logging"])
    assert [g.label for g in groups] == ["logging={dir: a}", "logging={dir: b}"]
