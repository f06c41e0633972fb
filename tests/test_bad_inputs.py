"""Every bad input is one readable line, exit code 2, no traceback, and no file changed: a table of
mistakes run through the real command line (`python -m rlgen ...`), plus the resume that must
never harm its run."""

import hashlib
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
import yaml

import rlgen
from rlgen import checkpoint
from rlgen.cli import main

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
PPO = ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32", "agent.hyperparams.n_epochs=1",
       "train.total_steps=64", "train.eval_every=32", "train.eval_episodes=1", "train.early_stop.target=null"]


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("runs")
    ppo = rlgen.train("ppo_cartpole", [*PPO, *QUIET, f"logging.dir={root}"]).run_dir
    gan = rlgen.train("gan_ring8", ["eval.samples=200", "train.total_steps=2", "train.eval_every=2",
                                    "perf.steps_per_unit=2", *QUIET, f"logging.dir={root}"]).run_dir
    return {"root": root, "ppo": ppo, "gan": gan}


def test_an_incompatible_override_at_resume_changes_no_file_of_the_run(runs, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(runs["ppo"], run)
    before = snapshot(run)
    assert main(["train", "--resume", str(run), "agent.policy.backbone.hidden=[128,128]", "optim.lr=1e-2"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "agent.policy.backbone.hidden, optim.lr changed" in err
    assert "only train.*, logging.*, device, env.vectorize may change" in err
    assert snapshot(run) == before
    # the run is as good as before: it resumes, and evaluates
    assert main(["train", "--resume", str(run), "train.total_steps=128", *QUIET]) == 0
    assert checkpoint.load(run)["global_step"] == 128
    assert main(["eval", str(run), "--episodes", "1"]) == 0


def _inputs(runs: dict[str, Path], tmp: Path) -> list[tuple[list[str], str]]:
    """(arguments, a phrase the one-line error must hold); files made here live outside the snapshot."""
    root, ppo, gan = runs["root"], runs["ppo"], runs["gan"]
    step = checkpoint.candidates(ppo)[0][0].name
    gan_step = checkpoint.candidates(gan)[0][0]
    (tmp / "not_yaml.yaml").write_text("name: [unclosed\n")
    (tmp / "a_list.yaml").write_text("- 1\n- 2\n")
    (tmp / "a_word.yaml").write_text("hello\n")
    (tmp / "a_file").write_text("in the way of a folder\n")
    no_experiment = tmp / "no_experiment"  # a checkpoint rewritten without its experiment state
    shutil.copytree(ppo, no_experiment)
    for ckpt in no_experiment.glob("checkpoints/*/"):
        if (ckpt / checkpoint.STATE).is_file():
            torch.save({"global_step": 64}, ckpt / checkpoint.STATE)
            digest = hashlib.sha256((ckpt / checkpoint.STATE).read_bytes()).hexdigest()
            (ckpt / checkpoint.CHECKSUM).write_text(f"{digest}  0\n")  # rewritten whole, checksum and all
    bad_yaml_run = tmp / "bad_yaml_run"  # a run whose config.yaml was broken by hand
    shutil.copytree(ppo, bad_yaml_run)
    (bad_yaml_run / "config.yaml").write_text("name: [unclosed\n")
    foreign = tmp / "foreign"  # a GAN checkpoint copied into an RL run
    shutil.copytree(ppo, foreign)
    shutil.copytree(gan_step, foreign / "checkpoints" / "step_9999")
    broken = tmp / "broken"  # every checkpoint damaged
    shutil.copytree(ppo, broken)
    for state in broken.glob("checkpoints/*/state.pt"):  # step_N and best/
        state.write_bytes(state.read_bytes()[:64])
    edited = tmp / "edited"  # config.yaml changed by hand since the checkpoint
    shutil.copytree(ppo, edited)
    config = yaml.safe_load((edited / "config.yaml").read_text())
    config["agent"]["policy"]["backbone"]["hidden"] = [8, 8]
    (edited / "config.yaml").write_text(yaml.safe_dump(config))
    dev_null_runs = "logging.dir=/dev/null/runs"
    new = f"logging.dir={root}"
    return [
        (["train", "ppo_cartpol", new], "did you mean 'ppo_cartpole'"),
        (["train", "ppo_cartpole", "train.total_steps=-1", new], "train.total_steps: Input should be greater than 0"),
        (["train", "ppo_cartpole", "train.eval_evry=5", new], "did you mean 'eval_every'"),
        (["train", "ppo_cartpole", "env.id=CartPole-v9", new], "unknown gymnasium env id 'CartPole-v9'"),
        (["train", "ppo_cartpole", "agent.hyperparams.n_steps=-1", new], "n_steps: Input should be greater than or equal to 1"),
        (["train", "ppo_cartpole", "agent.hyperparams.batch_size=1", new], "must be greater than 1"),  # SB3 refuses it
        (["train", str(tmp), new], "is a directory, not a YAML file"),
        (["train", "gail_cartpole", f"demos.path={tmp / 'no_demos'}", new], "demos not found"),
        (["train", "ppo_cartpole", "oops", new], "overrides must look like key.sub=value"),
        (["train", "ppo_cartpole", dev_null_runs], "a part of that path is a file, not a directory"),
        (["train", str(tmp / "not_yaml.yaml")], "not valid YAML"),
        (["train", str(tmp / "a_list.yaml")], "must be a mapping"),
        (["train", str(tmp / "a_list.yaml"), "train.total_steps=5"], "must be a mapping of keys to values (key: value lines), not a list"),
        (["train", str(tmp / "a_word.yaml")], "not a single value"),
        (["train", "ppo_cartpole", "seed=99999999999999999999", new], "seed: Input should be less than or equal to 4294967295"),
        (["train", "ppo_cartpole", "--seeds", "0-100000000", new], "one command takes at most 10,000"),
        (["train", "ppo_cartpole", "--seeds", "4294967296", new], "a seed is 0 to 4,294,967,295"),
        (["compare", str(bad_yaml_run)], "config.yaml is not valid YAML"),
        (["compare", str(ppo), "--out", str(tmp / "a_file" / "c.png")], "a_file is a file, so the figure cannot go under it"),
        (["export", str(ppo), "--format", "torchscript", "-o", str(tmp / "a_file" / "x")], "a_file is a file, so no folder"),
        (["eval", str(no_experiment), "--checkpoint", "latest"], "its checkpoint holds no experiment state"),
        (["train", str(tmp / "missing.yaml")], "config file not found"),
        (["train", "ppo_cartpole", "--seeds", "1,1", new], "a seed is listed twice"),
        (["train", "ppo_cartpole", "--seeds", "x", new], "expected seeds like 0,1,2"),
        (["train", "ppo_cartpole", "--parallel", "2", new], "use it with --seeds"),
        (["train", "ppo_cartpole", "--seeds", "0,1", "--parallel", "0", new], "must be 1 or more"),
        (["train", "ppo_cartpole", "--run-dir", str(ppo), new], "already holds files"),
        (["train", "--resume", str(ppo), "agent.policy.backbone.hidden=[128,128]"], "agent.policy.backbone.hidden changed"),
        (["train", "--resume", str(ppo), "seed=5"], "seed changed"),
        (["train", "--resume", str(ppo), "ppo_cartpole"], "give overrides only"),
        (["train", "--resume", str(ppo), "--run-dir", str(tmp / "x")], "--run-dir is for a new run"),
        (["train", "--resume", str(root / "nope")], "has no config.yaml"),
        (["train", "--resume", str(edited)], "agent.policy.backbone.hidden changed"),
        (["train", "--resume", str(broken)], "no intact checkpoint"),
        (["eval", str(root / "nope")], "is not a run directory"),
        (["eval", str(ppo), "--checkpoint", str(gan_step)], "is not a checkpoint of"),
        (["eval", str(foreign), "--checkpoint", str(foreign / "checkpoints" / "step_9999")], "of kind 'gan'"),
        (["eval", str(ppo), "--checkpoint", str(ppo / "checkpoints" / "step_999")], "no checkpoint '"),
        (["eval", str(ppo), "--checkpoint", "step_7"], "(--checkpoint takes best, latest or step_N)"),
        (["eval", str(ppo), "--episodes", "0"], "must be 1 or more"),
        (["eval", str(ppo), "--episodes", "x"], "expected a whole number"),
        (["eval", str(broken)], "no intact checkpoint"),
        (["play", str(ppo)], "kind 'rl'"),
        (["tournament", str(ppo), str(gan)], "kind 'rl'"),
        (["compare", str(root / "nope")], "no run directory matches"),
        (["compare", str(ppo), "--metric", "eval/nope"], "is not logged"),
        (["sweep", str(tmp / "missing.yaml")], "not found"),
        (["list", "--bogus"], "unrecognized arguments: --bogus"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["train", "gan_ring8", "generator.backbone={type: lstm}", new], "draws sequences"),
    ]


@pytest.mark.slow
def test_every_bad_input_is_one_line_exit_2_and_changes_nothing(runs, tmp_path):
    cases = _inputs(runs, tmp_path)
    before = snapshot(runs["root"])

    def run(args: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "rlgen", *args], capture_output=True, text=True, cwd=tmp_path,
                              env={**__import__("os").environ, "COLUMNS": "1000"})

    with ThreadPoolExecutor(2) as pool:  # each is a fresh interpreter: torch and SB3 imports dominate
        done = list(pool.map(run, [args for args, _ in cases]))
    problems = []
    for (args, phrase), out in zip(cases, done):
        lines = [line for line in out.stderr.splitlines() if line.strip()]
        if out.returncode != 2 or len(lines) != 1 or not lines[0].startswith("error: ") or phrase not in lines[0] \
                or "Traceback" in out.stderr or out.stdout.strip():
            problems.append(f"rlgen {' '.join(args)} -> exit {out.returncode}: {out.stderr.strip()[:300]!r}")
    assert not problems, "\n".join(problems)
    assert snapshot(runs["root"]) == before  # no case wrote, created or removed a file of any run
