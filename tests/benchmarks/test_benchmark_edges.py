"""Edges of the benchmark scripts that tests/test_benchmark_scripts.py's one-line tables do not
reach: what a failed step leaves behind, the kind checked before training, what a table reports."""

import subprocess
import sys
from types import SimpleNamespace

import pytest

from rlgen.errors import RlgenError
from tests.bench import load
from tests.test_benchmark_scripts import main_exit

SMOKE = ["game.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
         "ratings.games_per_pair=2", "logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]


@pytest.mark.parametrize("name, argv, patched, said", [
    ("selfplay", ["--configs", "ppo_cartpole"], "train", "--configs ppo_cartpole is kind rl"),
    ("configs_on_seeds", ["--configs", "gan_ring8"], "train_seeds", "--configs gan_ring8 is kind gan"),
])
def test_a_config_of_another_kind_is_refused_before_it_trains(name, argv, patched, said, monkeypatch, capsys):
    monkeypatch.setattr(load(name), patched, lambda *a, **k: pytest.fail("trained a config it cannot measure"))
    code, err = main_exit(name, argv, monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and said in err, err


def test_selfplay_elo_is_anchored_on_the_configs_anchor(tmp_path, capsys):
    """A config whose references lack "random" crashed on `names.index("random")`."""
    import rlgen

    refs = ["ratings.references=[minimax]", "ratings.anchor=minimax", "league.references=[minimax]"]
    run = rlgen.train("selfplay_tictactoe", [*SMOKE, *refs, "train.total_steps=64", "train.eval_every=64",
                                             f"logging.dir={tmp_path}"])
    capsys.readouterr()
    load("selfplay").measure(run.run_dir, 1, 1)
    assert "Elo (minimax = 1000" in capsys.readouterr().out


def test_zoo_reports_the_steps_each_run_trained(monkeypatch, capsys):
    """A run stopped early (or rounded up to a rollout) trained other steps than its budget asked."""
    zoo = load("zoo")
    trained = iter([20_224, 30_000])

    def run_one(spec, seed, eval_episodes, root):
        return {"spec": spec[0], "algo": spec[1], "env": spec[2], "seed": seed, "steps": next(trained),
                "budget": 100_000, "final": 500.0, "best": 500.0, "best_step": 20_224, "seconds": 1.0,
                "unsupported": []}

    monkeypatch.setattr(zoo, "run_one", run_one)
    monkeypatch.setattr(sys, "argv", ["zoo.py", "--configs", "ppo/CartPole-v1", "--seeds", "0", "1"])
    zoo.main()
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("ppo/CartPole-v1"))
    assert "20,224-30,000" in line and " 25% |" in line, line


def test_scale_an_unreachable_server_is_one_line(monkeypatch, capsys):
    code, err = main_exit("scale", ["--postgres", "postgresql://nobody@127.0.0.1:1/x"], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "--postgres postgresql://nobody@" in err, err


def test_scale_without_postgresql_is_one_line_that_says_how_to_install(monkeypatch):
    def start(durable):
        raise RuntimeError("PostgreSQL is not installed (Debian: apt-get install postgresql)")

    with pytest.raises(RlgenError, match=r"apt-get install postgresql\); or give a server with --postgres"):
        load("scale").start_server(SimpleNamespace(start=start))


def fake_builds(pip_code: int, calls: list):
    """subprocess.run for imitation_python: `python -m venv DIR` makes DIR/bin/python; pip exits `pip_code`."""
    def run(cmd, **kw):
        calls.append(cmd)
        if cmd[1:3] == ["-m", "venv"]:
            (python := __import__("pathlib").Path(cmd[3]) / "bin" / "python").parent.mkdir(parents=True)
            python.write_text("")
            return subprocess.CompletedProcess(cmd, 0)
        return subprocess.CompletedProcess(cmd, pip_code)
    return run


def test_imitation_a_failed_venv_build_is_removed_and_built_again(tmp_path, monkeypatch):
    imitation = load("imitation")
    venv, console, calls = tmp_path / "vi", SimpleNamespace(print=lambda *a: None), []
    monkeypatch.setattr(imitation.subprocess, "run", fake_builds(1, calls))
    with pytest.raises(RlgenError, match="building the imitation venv"):
        imitation.imitation_python(venv, [], console)
    assert not venv.exists()  # was left with bin/python, taken for built by the next run
    monkeypatch.setattr(imitation.subprocess, "run", fake_builds(0, calls))
    assert imitation.imitation_python(venv, [], console) == venv / "bin" / "python"
    calls.clear()
    assert imitation.imitation_python(venv, [], console) == venv / "bin" / "python" and calls == []  # built once


def test_imitation_refuses_a_folder_that_is_no_built_venv(tmp_path, monkeypatch):
    imitation = load("imitation")
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RlgenError, match="without a working imitation venv; remove it"):
        imitation.imitation_python(tmp_path, [], SimpleNamespace(print=lambda *a: None))
    assert (tmp_path / "notes.txt").exists()
