"""`rlgen train CONFIG --seeds ...`: one run per seed, one W&B group, read back offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import wandb

from rlgen.cli import main
from rlgen.errors import RlgenError
from rlgen.seeds import parse_seeds
from tests.wandb_log import wandb_records

TINY = ["train.total_steps=256", "train.eval_every=256", "train.eval_episodes=2", "env.n_envs=2",
        "agent.hyperparams.batch_size=64", "agent.hyperparams.n_epochs=1", "train.progress=false", "logging.console=false"]


def test_parse_seeds():
    assert parse_seeds("0,1,2") == [0, 1, 2]
    assert parse_seeds("3-5,9") == [3, 4, 5, 9]
    for bad in ("a", "1,,2", "5-3", "1,1"):
        with pytest.raises(RlgenError, match="--seeds"):
            parse_seeds(bad)


@pytest.mark.slow
def test_seeds_share_one_wandb_group_offline(tmp_path, monkeypatch):
    """Two seeds, offline W&B: one group, job_type = the kind, tags (agent, env, backbone), names
    with the overrides and the seed; each offline log holds the same eval values as metrics.jsonl (what `wandb sync`
    would upload later)."""
    monkeypatch.setenv("WANDB_MODE", "offline")  # tests/conftest.py disables W&B; this test is about it
    overrides = [*TINY, f"logging.dir={tmp_path}", "logging.wandb.mode=offline"]
    assert main(["train", "ppo_cartpole", "--seeds", "0,1", *overrides]) == 0
    wandb.teardown()  # the W&B service writes the logs asynchronously; this waits until they are on disk
    runs = sorted((tmp_path / "ppo_cartpole").iterdir())
    assert [json.loads((r / "summary.json").read_text())["seed"] for r in runs] == [0, 1]
    infos = []
    for seed, run in enumerate(runs):
        records = wandb_records(run)
        (info,) = [r["run"] for r in records if r["type"] == "run" and "run_group" in r["run"]]
        infos.append(info)
        # the name shows what differs from the bundled ppo_cartpole, then the seed
        assert info["display_name"].startswith("ppo_cartpole total_steps=256 ") and info["display_name"].endswith(f" s{seed}")
        history = [r["history"]["item"] for r in records if r["type"] == "history"]
        logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        evals = lambda rows: [(r["global_step"], r["eval/return_mean"]) for r in rows if "eval/return_mean" in r]  # noqa: E731
        assert evals(history) == evals(logged) and evals(logged)
    assert {i["run_group"] for i in infos} == {infos[0]["display_name"].removesuffix(" s0")}  # one group, no seed
    assert {i["job_type"] for i in infos} == {"rl"}
    assert all({"ppo", "CartPole-v1", "mlp", "rl"} <= set(i["tags"]) for i in infos)


@pytest.mark.slow
def test_parallel_seeds_run_as_processes(tmp_path, capsys):
    overrides = [*TINY, f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"]
    assert main(["train", "ppo_cartpole", "--seeds", "0-1", "--parallel", "2", *overrides]) == 0
    summaries = [json.loads(p.read_text()) for p in sorted(tmp_path.glob("ppo_cartpole/*/summary.json"))]
    assert sorted(s["seed"] for s in summaries) == [0, 1]
    assert all(s["status"] == "completed" and s["global_step"] >= 256 for s in summaries)
    err = capsys.readouterr().err
    assert "seed 0 (exit code 0)" in err and "seed 1 (exit code 0)" in err and "runs" in err


@pytest.mark.slow
def test_train_seeds_gives_the_run_directories_in_seed_order(tmp_path):
    from rlgen.errors import RlgenError
    from rlgen.seeds import train_seeds

    overrides = [*TINY, f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"]
    run_dirs = train_seeds("ppo_cartpole", overrides, [3, 1], parallel=2)
    assert [json.loads((d / "summary.json").read_text())["seed"] for d in run_dirs] == [3, 1]
    with pytest.raises(RlgenError, match=r"seed\(s\) 0 did not finish"):
        train_seeds("ppo_cartpole", [*overrides, "env.kwargs={bogus: 1}"], [0])


def test_train_seeds_stopped_by_a_signal_is_an_interruption_not_an_error(monkeypatch):
    """A benchmark's Ctrl-C during its seeds ended as "seed(s) ... did not finish", exit 2."""
    from rlgen import seeds
    from rlgen.errors import Interrupted

    monkeypatch.setattr(seeds, "run_in_processes", lambda config, overrides, cfgs, parallel: [
        seeds.SeedResult(0, 0, Path("a"), ""), seeds.SeedResult(1, 143, Path("b"), "")])
    with pytest.raises(Interrupted) as info:
        seeds.train_seeds("ppo_cartpole", [], [0, 1])
    assert info.value.signum == 15


def test_seeds_check_every_config_first(tmp_path, capsys):
    assert main(["train", "ppo_cartpole", "--seeds", "0,1", f"logging.dir={tmp_path}", "optim.lr=-1"]) == 2
    assert "optim.lr" in capsys.readouterr().err
    assert not tmp_path.joinpath("ppo_cartpole").exists()
    assert main(["train", "ppo_cartpole", "--parallel", "2"]) == 2
    assert "use it with --seeds" in capsys.readouterr().err


@pytest.mark.slow
def test_a_seed_override_beside_seeds_is_refused(tmp_path, capsys):
    assert main(["train", "ppo_cartpole", "--seeds", "7", f"logging.dir={tmp_path}", "seed=5"]) == 2
    assert "--seeds 7 and seed=5 both set the seed" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_parallel_seeds_refused_at_setup_leave_no_folder(tmp_path, capsys):
    """Each child's run refused when its experiment is built (SB3's PPO refuses a batch_size of 1,
    which the config check leaves to it): no run directory stays, nor the folders made for them."""
    logdir = tmp_path / "runs"
    overrides = [*TINY, f"logging.dir={logdir}", "logging.wandb.mode=disabled", "agent.hyperparams.batch_size=1"]
    assert main(["train", "ppo_cartpole", "--seeds", "0-1", "--parallel", "2", *overrides]) == 2
    assert "must be greater than 1" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_seeds_table_metric_no_run_logs_names_the_config_key_to_set(tmp_path, capsys):
    """`rlgen train --seeds` takes the table's metric from the config: its fix is
    train.early_stop.metric, not `rlgen compare`'s --metric."""
    overrides = [f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "train.total_steps=64",
                 "train.eval_every=64", "train.eval_episodes=1", "env.n_envs=2", "agent.hyperparams.n_steps=32",
                 "train.early_stop.metric=eval/nothing"]
    assert main(["train", "ppo_cartpole", "--seeds", "0,1", *overrides]) == 0
    captured = capsys.readouterr()
    out = " ".join((captured.out + captured.err).split())
    assert "no seed table: metric 'eval/nothing' is not logged by 2 of 2 runs" in out
    assert "set train.early_stop.metric to one of them, or compare fewer runs" in out and "--metric" not in out


@pytest.fixture(scope="module")
def source_naming_code(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run whose config names code by import path (a wrapper): opening it needs --trust."""
    run_dir = tmp_path_factory.mktemp("source") / "run"
    wrapper = "env.wrappers=[{gymnasium.wrappers:ClipReward: {min_reward: -1, max_reward: 1}}]"
    assert main(["train", "ppo_cartpole", "--run-dir", str(run_dir), *TINY, "logging.wandb.mode=disabled", wrapper]) == 0
    return run_dir


@pytest.mark.parametrize("how", [[], ["--parallel", "2"], ["--storage", "QUEUE"]], ids=["one", "parallel", "queue"])
def test_trust_reaches_every_seed(tmp_path, capsys, source_naming_code, how):
    """--trust opens the runs a seed's backbone init names, however the seeds run."""
    how = [str(f"sqlite:///{tmp_path / 'q.db'}") if a == "QUEUE" else a for a in how]
    init = f"agent.policy.backbone.init={{run: {source_naming_code}, role: policy, freeze: false}}"
    overrides = [*TINY, f"logging.dir={tmp_path / 'runs'}", "logging.wandb.mode=disabled", init]
    assert main(["train", "ppo_cartpole", "--seeds", "0", *how, *overrides, "--trust"]) == 0, capsys.readouterr().err
    assert [json.loads(p.read_text())["status"] for p in (tmp_path / "runs").glob("*/*/summary.json")] == ["completed"]


def test_a_parallel_seed_killed_by_a_signal_exits_128_plus_its_number(tmp_path, capsys):
    """SIGKILL: exit code 137, as a shell says it (Popen's -9 made the parent exit 247)."""
    from .queue_toy import write_config

    config = write_config(tmp_path, die_at=20, die_once=str(tmp_path / "once"))
    assert main(["train", str(config), "--seeds", "0,1", "--parallel", "2"]) == 137
    assert "(exit code 137)" in capsys.readouterr().err


def test_the_parallel_bar_counts_an_interrupted_seed_apart_from_the_failed(tmp_path):
    from rlgen.seeds import SeedResult, SeedsProgress

    bar = SeedsProgress(total=3, parallel=3)
    for seed, code in enumerate((130, 143, 1)):
        bar.finished(SeedResult(seed, code, tmp_path, ""))
    assert (bar.failed, bar.interrupted) == (1, 2) and "failed 1 · interrupted 2" in bar._text(3)


def test_parallel_seeds_start_the_rlgen_installed_whatever_folder_they_start_in(tmp_path, monkeypatch, capsys):
    """A folder named rlgen in the working directory (a checkout after a non-editable install)
    stood in for rlgen in every child, which `python -m rlgen` put first on sys.path."""
    (tmp_path / "rlgen").mkdir()
    (tmp_path / "rlgen" / "__init__.py").write_text("raise ImportError('not the rlgen installed')")
    monkeypatch.chdir(tmp_path)
    overrides = [*TINY, f"logging.dir={tmp_path / 'runs'}", "logging.wandb.mode=disabled"]
    assert main(["train", "ppo_cartpole", "--seeds", "0", "--parallel", "2", *overrides]) == 0, capsys.readouterr()
    assert [json.loads(p.read_text())["status"] for p in tmp_path.glob("runs/*/*/summary.json")] == ["completed"]


def test_a_parallel_seed_that_fails_ends_in_one_error_line_and_exit_2(tmp_path, monkeypatch, capsys):
    """The child's own exit code (1 for a traceback) was passed on, with no error line."""
    from rlgen import seeds

    crash = "import sys; print('Traceback: the child crashed'); sys.exit(1)"
    monkeypatch.setattr(seeds, "_rlgen_here", lambda: [sys.executable, "-c", crash])
    overrides = [*TINY, f"logging.dir={tmp_path / 'runs'}", "logging.wandb.mode=disabled"]
    assert main(["train", "ppo_cartpole", "--seeds", "0", "--parallel", "2", *overrides]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "Traceback: the child crashed" in err  # the child's output, shown
    assert err[-1] == "error: ppo_cartpole: seed(s) 0 did not finish; their output is above"
