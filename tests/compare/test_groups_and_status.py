"""`rlgen compare`: groups never pool tasks, labels stay short, settings that do not change what a
run learns never split groups, each group's interval is cut to its own range, and unfinished runs
(failed, interrupted, killed) are named and left out unless asked for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from rlgen.cli import main
from rlgen.compare import compare, group_runs, read_run, read_runs
from rlgen.compare_report import table_rows, table_title
from rlgen.errors import RlgenError

EVALS = [(1000, 100.0, 1.0), (2000, 200.0, 2.0)]


def _set(run: Path, **dotted: Any) -> Path:
    """Set dotted config keys (`env__id` stands for `env.id`) in a hand-made run's config.yaml."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    for key, value in dotted.items():
        *parents, last = key.split("__")
        node = config
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = value
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    return run


def _status(run: Path, status: str | None) -> Path:
    """summary.json with this status, or none at all (a run killed with SIGKILL, or still running)."""
    if status is None:
        (run / "summary.json").unlink()
    else:
        summary = json.loads((run / "summary.json").read_text())
        (run / "summary.json").write_text(json.dumps({**summary, "status": status}))
    return run


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and "Traceback" not in err, err
    return " ".join(err.split())


# --- tasks: what the runs are scored on --------------------------------------------------------------


def test_by_refuses_a_group_that_pools_envs_and_names_the_fix(make_run, tmp_path, capsys):
    _set(make_run("ppo_cartpole", 0, EVALS), env__id="CartPole-v1")
    _set(make_run("ppo_acrobot", 0, [(1000, -500.0, 1.0)]), env__id="Acrobot-v1")
    _set(make_run("sac_pendulum", 0, [(1000, -1500.0, 1.0)]), env__id="Pendulum-v1", agent__algo="sac")
    runs = read_runs([str(tmp_path)])
    with pytest.raises(RlgenError, match=r"agent\.algo=ppo holds runs scored on different tasks \(env\.id: "
                                         r"Acrobot-v1, CartPole-v1\).*--by env\.id,agent\.algo$"):
        group_runs(runs, by=["agent.algo"])
    groups = group_runs(runs, by=["env.id", "agent.algo"])
    assert [(g.label, len(g.runs)) for g in groups] == [
        ("env.id=Acrobot-v1, agent.algo=ppo", 1), ("env.id=CartPole-v1, agent.algo=ppo", 1),
        ("env.id=Pendulum-v1, agent.algo=sac", 1)]
    png = tmp_path / "c.png"
    assert main(["compare", str(tmp_path), "--by", "agent.algo", "--threshold", "0", "--out", str(png)]) == 2
    assert "--by env.id,agent.algo" in _one_error_line(capsys) and not png.exists()


def test_by_refuses_pooled_data_sets_and_games_too(make_run, tmp_path):
    _set(make_run("gan_a", 0, EVALS), data__source="ring8")
    _set(make_run("gan_b", 0, EVALS), data__source="digits")
    with pytest.raises(RlgenError, match=r"data\.source: digits, ring8.*--by data\.source,kind"):
        group_runs(read_runs([str(tmp_path)]), by=["kind"])
    _set(make_run("sp", 0, EVALS), game__name="tictactoe_v3")
    _set(make_run("sp", 1, EVALS), game__name="connect_four_v3")
    with pytest.raises(RlgenError, match=r"game\.name: connect_four_v3, tictactoe_v3"):
        group_runs(read_runs([str(tmp_path / "sp")]), by=["name"])


def test_each_group_is_cut_to_its_own_range(make_run, tmp_path):
    _set(make_run("ppo", 0, [(1000, 10.0, 1.0)]), env__id="CartPole-v1")
    _set(make_run("ppo", 1, [(1000, 30.0, 1.0)]), env__id="CartPole-v1")
    _set(make_run("ppo", 2, [(1000, -400.0, 1.0)]), env__id="Acrobot-v1")
    _set(make_run("ppo", 3, [(1000, -100.0, 1.0)]), env__id="Acrobot-v1")
    _, stats = compare(read_runs([str(tmp_path)]), "eval/return_mean")
    assert [(s.label, s.bounds) for s in stats] == [("env.id=Acrobot-v1", (-500.0, 0.0)),
                                                    ("env.id=CartPole-v1", (0.0, 500.0))]
    assert stats[0].final.hi == 0.0 and stats[1].final.lo == 0.0  # each cut at its own env's edge
    columns, rows = table_rows(stats, None)
    assert columns[5] == "cut to" and [r[5] for r in rows] == ["[-500, 0]", "[0, 500]"]
    title = table_title(stats, "eval/return_mean")
    assert "each group's range" in title and "[0, 500]" not in title and "[-500, 0]" not in title
    # one range for every group: said once, in the title, as before
    _, (one,) = compare(read_runs([str(tmp_path / "ppo" / "*s0-*"), str(tmp_path / "ppo" / "*s1-*")]),
                        "eval/return_mean")
    assert "cut to" not in table_rows([one], None)[0] and "range [0, 500]" in table_title([one], "eval/return_mean")


# --- which keys group, and how labels read ------------------------------------------------------------


def test_settings_that_do_not_change_learning_never_split_groups(make_run):
    runs = [read_run(_set(make_run("ppo", 0, EVALS), train__keep_checkpoints=3, train__checkpoint_every=500,
                          env__vectorize="dummy")),
            read_run(_set(make_run("ppo", 1, EVALS), train__keep_checkpoints=10, train__video_every=2,
                          env__vectorize="subproc"))]
    assert [(g.label, len(g.runs)) for g in group_runs(runs)] == [("all runs", 2)]
    runs.append(read_run(_set(make_run("ppo", 2, EVALS), train__total_steps=6000)))  # this one does
    assert [(g.label, len(g.runs)) for g in group_runs(runs)] == [("train.total_steps=3000", 2),
                                                                  ("train.total_steps=6000", 1)]


def test_long_labels_show_the_fewest_keys_and_a_note_names_the_rest(make_run, capsys):
    """Configs that differ in many keys (same name, different envs and hyperparameters, keys that
    only some have) are labelled by the key that tells them apart, not by every key."""
    a = _set(make_run("ppo", 0, EVALS), env__id="CartPole-v1", agent__hyperparams__n_steps=32,
             agent__hyperparams__gae_lambda=0.9, optim__lr=0.004, optim__schedule="linear")
    b = _set(make_run("ppo", 1, EVALS), env__id="Acrobot-v1", agent__hyperparams__n_steps=64,
             agent__hyperparams__gae_lambda=0.95, optim__lr=0.001, optim__schedule="constant")
    c = _set(make_run("ppo", 2, EVALS), env__id="Pendulum-v1", agent__algo="sac", agent__hyperparams__tau=0.005,
             agent__hyperparams__buffer_size=50000, optim__lr=0.001)
    runs = [read_run(p) for p in (a, b, c)]
    groups = group_runs(runs)
    assert [g.label for g in groups] == ["env.id=Acrobot-v1", "env.id=CartPole-v1", "env.id=Pendulum-v1"]
    assert "agent.hyperparams.n_steps" in groups[0].omitted and "env.id" not in groups[0].omitted
    compare(runs, "eval/return_mean")
    err = " ".join(capsys.readouterr().err.split())
    assert "labels show the fewest config keys" in err and "agent.algo" in err and "more" in err
    # a grid needs two keys: both shown, and nothing for a key a group lacks ("key=—")
    grid = [read_run(_set(make_run("grid", i, EVALS), optim__lr=lr, agent__hyperparams__n_steps=n,
                          agent__hyperparams__gae_lambda=0.9 + i / 100, train__eval_episodes=10 + i))
            for i, (lr, n) in enumerate([(1e-3, 32), (1e-3, 64), (3e-4, 32), (3e-4, 64)])]
    labels = [g.label for g in group_runs(grid)]
    assert len(set(labels)) == 4 and all(len(x) <= 60 and "—" not in x for x in labels), labels


# --- finished and unfinished runs ----------------------------------------------------------------------


@pytest.fixture
def mixed(make_run, tmp_path):
    """Five seeds of one config: two completed, one failed, one killed (no summary.json), one
    interrupted; and a pruned trial of another."""
    for seed, status in enumerate(["completed", "stopped_early", "failed", None, "interrupted"]):
        _status(make_run("ppo", seed, [(1000, 100.0 * (seed + 1), 1.0)]), status)
    return tmp_path


def test_unfinished_runs_are_left_out_by_default_and_named(mixed, capsys):
    runs = read_runs([str(mixed / "ppo")])
    assert [r.status for r in runs] == ["completed", "stopped_early", "failed", "no summary", "interrupted"]
    groups, (s,) = compare(runs, "eval/return_mean")
    assert s.n_runs == 2 and s.final.mean == pytest.approx(150) and s.statuses == {}
    err = " ".join(capsys.readouterr().err.split())
    assert "left out 3 unfinished run(s)" in err and "(failed)" in err and "--include-unfinished" in err
    assert "no summary.json: killed, or still running" in err and "interrupted" in err
    _, (s,) = compare(runs, "eval/return_mean", unfinished=True)  # counted, and marked
    assert s.n_runs == 5 and s.final.mean == pytest.approx(300)
    assert table_rows([s], None)[1][0][1] == "5 (1 failed, 1 no summary, 1 interrupted)"
    assert "counting 3 unfinished run(s)" in capsys.readouterr().err


def test_only_unfinished_runs_is_an_error_that_says_how_to_count_them(mixed, capsys):
    late = read_runs([str(p) for p in sorted((mixed / "ppo").iterdir())[2:]])
    with pytest.raises(RlgenError, match=r"none of the 3 run\(s\) has finished: .*--include-unfinished"):
        compare(late, "eval/return_mean")
    assert main(["compare", *map(str, (r.path for r in late))]) == 2
    assert "none of the 3 run(s) has finished" in _one_error_line(capsys)


def test_a_pruned_trial_counts_and_is_marked(make_run):
    runs = [read_run(_status(make_run("trial", 0, EVALS), "pruned")), read_run(make_run("trial", 1, EVALS))]
    _, (s,) = compare(runs, "eval/return_mean")
    assert s.n_runs == 2 and table_rows([s], None)[1][0][1] == "2 (1 pruned)"


def test_cli_leaves_unfinished_runs_out_and_counts_them_when_asked(mixed, tmp_path, capsys):
    png = tmp_path / "c.png"
    assert main(["compare", str(mixed / "ppo"), "--out", str(png)]) == 0
    out, err = capsys.readouterr()
    assert "│    2 │" in out and "2 run(s) in 1 group(s)" in " ".join(err.split())
    assert main(["compare", str(mixed / "ppo"), "--include-unfinished", "--out", str(png)]) == 0
    out, err = capsys.readouterr()
    assert "5 (1 failed, 1 no summary, 1 interrupted)" in out and "5 run(s) in 1 group(s)" in " ".join(err.split())
