"""`rlgen compare` on hand-made runs with known metrics: the numbers, the groups, the errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rlgen.cli import main
from rlgen.compare import Group, compare, expand, first_reach, group_runs, read_metrics, read_run, read_runs
from rlgen.compare_report import mean_curve, plot_curves, table_rows
from rlgen.errors import RlgenError

# Three seeds of "ppo_a": finals 200/300/400, bests 300/400/500, 250 reached at steps 2000/2000/1000
# after 2.0/3.0/2.0 s; summary wall times 3.5/5.0/6.5 s.
A = [
    [(1000, 100.0, 1.0), (2000, 300.0, 2.0), (3000, 200.0, 3.0)],
    [(1000, 200.0, 1.5), (2000, 400.0, 3.0), (3000, 300.0, 4.5)],
    [(1000, 300.0, 2.0), (2000, 500.0, 4.0), (3000, 400.0, 6.0)],
]
# Two seeds of "ppo_b" (a transformer): finals 20/40, never reach 250.
B = [[(1000, 10.0, 1.0), (2000, 20.0, 2.0)], [(1000, 30.0, 1.0), (2000, 40.0, 2.0)]]


@pytest.fixture
def runs(make_run, tmp_path):
    for seed, evals in enumerate(A):
        make_run("ppo_a", seed, evals)
    for seed, evals in enumerate(B):
        make_run("ppo_b", seed, evals, backbone="transformer")
    return tmp_path


def test_known_table(runs):
    groups, stats = compare(read_runs([str(runs / "*")]), "eval/return_mean", threshold=250)
    a, b = stats
    assert [g.label for g in groups] == ["ppo_a", "ppo_b"]
    assert (a.n_runs, b.n_runs) == (3, 2)
    assert a.final.mean == pytest.approx(300) and a.final.std == pytest.approx(100)
    assert a.best.mean == pytest.approx(400) and a.best.std == pytest.approx(100)
    # t-interval, 2 degrees of freedom: 300 ± 4.3027 * 100 / sqrt(3)
    assert (a.final.lo, a.final.hi) == pytest.approx((300 - 248.414, 300 + 248.414), abs=1e-3)
    assert a.final.iqm == pytest.approx(300)
    assert a.reached == 3
    assert a.steps_to.mean == pytest.approx(5000 / 3) and a.steps_to.std == pytest.approx(577.35, abs=0.01)
    assert a.time_to_s.mean == pytest.approx(7 / 3)
    assert a.wall_time_s.mean == pytest.approx(5.0) and a.wall_time_s.std == pytest.approx(1.5)
    assert b.final.mean == pytest.approx(30) and b.final.std == pytest.approx(math.sqrt(200))
    assert b.reached == 0 and b.steps_to is None
    columns, rows = table_rows(stats, threshold=250)
    assert columns == ["group", "runs", "final", "final IQM", "best", "steps to 250", "time to 250 (s)", "wall time (s)"]
    assert rows[0][:4] == ["ppo_a", "3", "300 ± 100 [51.59, 548.4]", "300"]
    assert rows[0][5] == "1,667 ± 577.4 (3/3)"
    assert rows[1][5] == "not reached (0/2)"
    assert rows[1][6] == "—"


def test_min_mode_threshold(runs):
    # Lower is better: ppo_b's first eval (10 and 30) is already <= 50.
    _, stats = compare(read_runs([str(runs)]), "eval/return_mean", threshold=50, mode="min")
    assert stats[1].reached == 2 and stats[1].steps_to.mean == 1000
    assert stats[0].best.mean == pytest.approx(200)


def test_seeds_are_one_group_and_labels_follow_the_backbone_type(make_run):
    for seed in range(3):
        make_run("ppo", seed, A[seed])
    runs = read_runs([str(make_run("ppo_t", 9, B[0]).parent.parent / "ppo")])
    assert [len(g.runs) for g in group_runs(runs)] == [3]
    assert group_runs(runs)[0].label == "all runs"
    # Same name, different backbones: the label is the backbone type, not every key under it.
    tf = read_run(make_run("ppo", 7, B[0], backbone="transformer"))
    labels = [g.label for g in group_runs([*runs, tf])]
    assert labels == ["agent.policy.backbone.type=mlp", "agent.policy.backbone.type=transformer"]


def test_group_by_key(runs):
    groups = group_runs(read_runs([str(runs)]), by=["agent.policy.backbone.type"])
    assert [(g.label, len(g.runs)) for g in groups] == [
        ("agent.policy.backbone.type=mlp", 3), ("agent.policy.backbone.type=transformer", 2)]
    groups = group_runs(read_runs([str(runs)]), by=["kind"])
    assert [(g.label, len(g.runs)) for g in groups] == [("kind=rl", 5)]


def test_unknown_by_key_suggests(runs):
    with pytest.raises(RlgenError, match="did you mean 'agent.policy.backbone.type'"):
        group_runs(read_runs([str(runs)]), by=["agent.policy.backbone.typ"])


def test_first_reach():
    steps, values, wall = np.array([1.0, 2, 3]), np.array([5.0, 9, 7]), np.array([0.1, 0.2, 0.3])
    assert first_reach(steps, values, wall, 7) == (2.0, 0.2)
    assert first_reach(steps, values, wall, 10) is None
    assert first_reach(steps, values, wall, 5, mode="min") == (1.0, 0.1)


def test_mean_curve_holds_the_last_value(make_run, tmp_path):
    a = read_run(make_run("x", 0, [(1, 1.0, 0.0), (2, 2.0, 0.0), (3, 3.0, 0.0)]))
    b = read_run(make_run("x", 1, [(2, 10.0, 0.0), (4, 20.0, 0.0)]))
    steps, mean, std = mean_curve(Group("x", [a, b]), "eval/return_mean")
    assert steps.tolist() == [1, 2, 3, 4]
    assert mean.tolist() == [1.0, 6.0, 6.5, 11.5]
    assert std[0] == 0.0 and std[1] == pytest.approx(math.sqrt(32))


def test_png_is_written(runs, tmp_path):
    groups, _ = compare(read_runs([str(runs)]), "eval/return_mean")
    path = plot_curves(groups, "eval/return_mean", tmp_path / "out" / "c.png", threshold=250)
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000


def test_cli_prints_the_table_and_writes_the_png(runs, tmp_path, capsys):
    png = tmp_path / "curves.png"
    assert main(["compare", str(runs / "ppo_*"), "--threshold", "250", "--out", str(png)]) == 0
    out, err = capsys.readouterr()
    assert "ppo_a" in out and "ppo_b" in out and "(3/3)" in out and "5 run(s) in 2 group(s)" in err
    assert png.is_file()
    assert main(["compare", str(runs), "--by", "agent.policy.backbone.type", "--out", str(png)]) == 0
    assert "transformer" in capsys.readouterr().out


def test_default_png_goes_next_to_the_runs(runs):
    assert main(["compare", str(runs / "ppo_a")]) == 0
    assert (runs / "compare_eval_return_mean.png").is_file()
    assert oct((runs / "compare_eval_return_mean.png").stat().st_mode & 0o777) != oct(0o600)  # an ordinary file



def test_default_png_of_runs_given_their_own_folders_goes_into_the_folder_that_holds_them(runs, tmp_path):
    """Runs made by --run-dir (cmp/a, cmp/b): not two folders above them, as for runs/<name>/<id>."""
    (tmp_path / "x" / "cmp").mkdir(parents=True)
    for folder, run in zip("ab", sorted((runs / "ppo_a").iterdir())):
        run.rename(tmp_path / "x" / "cmp" / folder)
    assert main(["compare", str(tmp_path / "x" / "cmp" / "a"), str(tmp_path / "x" / "cmp" / "b")]) == 0
    assert (tmp_path / "x" / "cmp" / "compare_eval_return_mean.png").is_file()
    assert not (tmp_path / "compare_eval_return_mean.png").exists()
    assert main(["compare", str(tmp_path / "x" / "cmp" / "a"), str(runs / "ppo_b")]) == 0  # both layouts: what holds both
    assert (tmp_path / "compare_eval_return_mean.png").is_file()

def test_a_link_planted_where_the_png_goes_is_replaced_not_written_through(runs, tmp_path):
    """A folder of someone else's runs may hold a link named compare_<metric>.png: compare wrote
    the figure into the file it named (any file the user can write)."""
    victim = tmp_path / "victim.txt"
    victim.write_text("VICTIM")
    (runs / "compare_eval_return_mean.png").symlink_to(victim)
    assert main(["compare", str(runs / "ppo_a")]) == 0
    assert victim.read_text() == "VICTIM"
    png = runs / "compare_eval_return_mean.png"
    assert not png.is_symlink() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [p.name for p in runs.iterdir() if p.name.endswith(".tmp")] == []


# --- errors: one readable message, no traceback ---------------------------------------------------


def test_corrupt_metrics_names_file_and_line(make_run):
    run = make_run("bad", 0, A[0])
    lines = (run / "metrics.jsonl").read_text().splitlines()
    lines[1] = lines[1][:20]
    (run / "metrics.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(RlgenError, match=r"metrics.jsonl:2: corrupt metrics row"):
        read_run(run)


def test_cut_off_last_line_is_skipped(make_run):
    run = make_run("cut", 0, A[0])
    text = (run / "metrics.jsonl").read_text()
    (run / "metrics.jsonl").write_text(text + '{"global_step": 4000, "eval/ret')
    assert len(read_metrics(run / "metrics.jsonl")) == 6


def test_missing_metrics_file(make_run, capsys):
    run = make_run("gone", 0, A[0])
    (run / "metrics.jsonl").unlink()
    with pytest.raises(RlgenError, match="has no metrics.jsonl"):
        read_run(run)
    assert main(["compare", str(run)]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "has no metrics.jsonl" in err and "Traceback" not in err


def test_a_metrics_file_that_is_a_directory_or_unreadable_is_said_as_it_is(make_run, monkeypatch, capsys):
    run = make_run("odd", 0, A[0])
    metrics = run / "metrics.jsonl"
    metrics.rename(run / "kept.jsonl")
    metrics.mkdir()
    assert main(["compare", str(run)]) == 2
    assert f"error: {metrics} is a directory, not the run's metrics file: put the run's own metrics.jsonl back" \
        in " ".join(capsys.readouterr().err.split())
    metrics.rmdir()
    (run / "kept.jsonl").rename(metrics)
    real = type(metrics).read_text

    def unreadable(self, *a, **k):  # chmod 000, which does not stop root
        if self.name == "metrics.jsonl":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self, *a, **k)

    monkeypatch.setattr(type(metrics), "read_text", unreadable)
    with pytest.raises(RlgenError, match=r"metrics.jsonl cannot be read \(Permission denied\): make it readable"):
        read_run(run)


def test_runs_without_the_metric(make_run, capsys):
    a = make_run("a", 0, A[0])
    b = make_run("gan", 0, [], extra_rows=[{"global_step": 1, "gan/loss_d": 0.5, "eval/return_mea": 1.0}])
    with pytest.raises(RlgenError, match=r"not logged by 1 of 2 runs \(gan/"):
        compare([read_run(a), read_run(b)], "eval/return_mean")
    with pytest.raises(RlgenError, match="did you mean 'eval/return_mean'"):
        compare([read_run(a)], "eval/return_man")
    assert main(["compare", str(a), str(b)]) == 2
    assert "not logged by" in capsys.readouterr().err


def test_run_that_logged_nothing_is_named(make_run):
    a = make_run("a", 0, A[0])
    fresh = make_run("fresh", 0, [], extra_rows=[{"global_step": 0}])
    with pytest.raises(RlgenError, match=r"\(none: fresh/\S+ logged no metric yet\)"):
        compare([read_run(fresh)], "eval/return_mean")
    with pytest.raises(RlgenError, match="logged no metric yet"):
        compare([read_run(a), read_run(fresh)], "eval/return_mean")


def test_nothing_matches(tmp_path, capsys):
    with pytest.raises(RlgenError, match="no run directory matches"):
        expand([str(tmp_path / "nope*")])
    (tmp_path / "empty").mkdir()
    with pytest.raises(RlgenError, match="no run directories"):
        expand([str(tmp_path / "empty")])


def test_comparison_logged_to_wandb_offline(runs, tmp_path, monkeypatch):
    import json
    import subprocess
    import sys

    import wandb

    from rlgen.compare_report import log_to_wandb

    monkeypatch.setenv("WANDB_MODE", "offline")  # tests/conftest.py disables W&B; this test is about it
    groups, stats = compare(read_runs([str(runs)]), "eval/return_mean", threshold=250)
    png = plot_curves(groups, "eval/return_mean", tmp_path / "w" / "c.png")
    where = log_to_wandb(groups, stats, "eval/return_mean", png, threshold=250)
    wandb.teardown()  # the W&B service writes the log asynchronously; this waits until it is on disk
    (log,) = list((tmp_path / "w" / "wandb").glob("offline-run-*/run-*.wandb"))
    assert str(log).startswith(where)
    out = subprocess.run([sys.executable, "-m", "wandb", "leet", "inspect", "--json", str(log)],
                         capture_output=True, text=True, check=True).stdout
    (row,) = [r["history"]["item"] for r in map(json.loads, out.splitlines()) if r["type"] == "history"]
    assert row["compare/table._type"] == "table-file" and row["compare/table.nrows"] == 2
    assert row["compare/curves._type"] == "image-file" and row["compare/plot_table._type"] == "table-file"
    table = json.loads((log.parent / "files" / row["compare/table.path"]).read_text())
    assert [r[:2] for r in table["data"]] == [["ppo_a", "3"], ["ppo_b", "2"]]


def test_leet_workspace_links_every_offline_run(runs, tmp_path):
    from rlgen.compare_report import link_wandb_runs

    dirs = [r.path for r in read_runs([str(runs)])]
    for i, d in enumerate(dirs[:2]):  # what W&B leaves in an offline run's folder
        (d / "wandb" / f"offline-run-2026_{i}").mkdir(parents=True)
        (d / "wandb" / "latest-run").symlink_to(d / "wandb" / f"offline-run-2026_{i}")
    ws = tmp_path / "leet"
    assert link_wandb_runs(dirs, ws) == 2
    assert sorted(p.name for p in ws.iterdir()) == ["offline-run-2026_0", "offline-run-2026_1"]
    assert (ws / "offline-run-2026_1").resolve() == (dirs[1] / "wandb" / "offline-run-2026_1").resolve()
    assert link_wandb_runs(dirs, ws) == 2  # idempotent


def test_folders_are_searched_but_wandb_folders_are_not_runs(runs):
    wandb_dir = runs / "ppo_a" / "20260101-000000-s0-0000" / "wandb"
    for folder, run_id in ((wandb_dir / "offline-run-20260101_000000-x", "x"),
                           (runs / "leet" / "run-20260101_000000-y-2", "y")):  # -2: W&B's second folder of one id
        (folder / "files").mkdir(parents=True)
        (folder / "files" / "config.yaml").write_text("lr: {value: 1}\n")  # what W&B writes for online runs
        (folder / f"run-{run_id}.wandb").write_bytes(b"")  # W&B's log: the folder is W&B's
    assert len(expand([str(runs)])) == 5


def test_labels_show_short_floats_unless_they_would_collide(make_run):
    import yaml

    runs = []
    for seed, lr in enumerate([0.0010615360772719654, 0.0027592052977704327, 0.00106153607727]):
        path = make_run("lr", seed, A[0])
        cfg = yaml.safe_load((path / "config.yaml").read_text())
        (path / "config.yaml").write_text(yaml.safe_dump({**cfg, "optim": {"lr": lr}}))
        runs.append(read_run(path))
    groups = group_runs(runs)
    assert [g.label for g in groups] == ["optim.lr=0.00106153607727", "optim.lr=0.0010615360772719654",
                                         "optim.lr=0.0027592052977704327"]  # alike at 4 digits: shown whole
    assert [g.label for g in group_runs(runs[:2])] == ["optim.lr=0.001062", "optim.lr=0.002759"]


def test_groups_sort_their_numbers_by_value():
    from rlgen.compare import _natural

    labels = ["seed=10", "seed=2", "train.total_steps=20000", "train.total_steps=4096", "lr=1e-3", "lr=3e-4"]
    assert sorted(labels, key=_natural) == ["lr=3e-4", "lr=1e-3", "seed=2", "seed=10", "train.total_steps=4096",
                                            "train.total_steps=20000"]


@pytest.mark.parametrize("mode, best", [("max", 5.0), ("min", 3.0)])
def test_a_nan_evaluation_is_never_a_runs_best(make_run, mode, best):
    """As the runner keeps it: one NaN evaluation made every run's best NaN (min) or hung on order (max)."""
    runs = [read_run(make_run("nan", seed, [(1000, 5.0, 1.0), (2000, float("nan"), 2.0), (3000, 3.0, 3.0)]))
            for seed in (0, 1)]
    _, (stats,) = compare(runs, "eval/return_mean", mode=mode)
    assert stats.best.mean == best and stats.final.mean == 3.0


def test_without_metric_compare_takes_the_runs_shared_early_stop_metric_and_mode(make_run, tmp_path, capsys):
    """A GAN's runs compare by their own early-stop metric (eval/mmd, lowest best), not by an RL
    return they never log; runs that do not share one fall back to eval/return_mean, max."""
    import yaml

    from rlgen.compare import shared_early_stop

    dirs = [make_run("ppo_a", seed, evals) for seed, evals in enumerate(A)]
    for d in dirs:
        cfg = yaml.safe_load((d / "config.yaml").read_text())
        cfg["train"]["early_stop"] = {"metric": "rollout/ep_return_mean", "mode": "min"}
        (d / "config.yaml").write_text(yaml.safe_dump(cfg))
    runs = read_runs([str(tmp_path / "ppo_a")])
    assert shared_early_stop(runs, None, None) == ("rollout/ep_return_mean", "min")
    assert shared_early_stop(runs, "eval/return_mean", None) == ("eval/return_mean", "max")  # another metric: max
    assert shared_early_stop(runs, None, "max") == ("rollout/ep_return_mean", "max")  # a mode given is kept
    assert main(["compare", str(tmp_path / "ppo_a")]) == 0
    out = capsys.readouterr()
    assert "metric: rollout/ep_return_mean (min), the runs' train.early_stop" in " ".join(out.err.split())
    assert "rollout/ep_return_mean" in out.out and "eval/return_mean" not in out.out
    make_run("ppo_b", 0, B[0])  # its config names no early stop: the runs share none
    assert shared_early_stop(read_runs([str(tmp_path)]), None, None) == ("eval/return_mean", "max")


def test_a_comparison_logged_from_python_leaves_the_callers_wandb_run_open(runs, tmp_path, monkeypatch):
    import wandb

    from rlgen.compare_report import log_to_wandb

    monkeypatch.setenv("WANDB_MODE", "offline")
    mine = wandb.init(project="mine", mode="offline", dir=str(tmp_path))
    try:
        groups, stats = compare(read_runs([str(runs)]), "eval/return_mean", threshold=250)
        png = plot_curves(groups, "eval/return_mean", tmp_path / "w" / "c.png")
        log_to_wandb(groups, stats, "eval/return_mean", png, threshold=250)
        mine.log({"x": 1.0})  # wandb.init's default would have finished it: "Run ... is finished"
        assert not mine._is_finished
    finally:
        mine.finish()
        wandb.teardown()
    assert list((tmp_path / "w" / "wandb").glob("offline-run-*/run-*.wandb"))  # the comparison's own run
