"""Every bad input is one readable line, exit code 2, no traceback, and no file changed: a table of
mistakes run through the real command line (`python -m rlgen ...`), plus the resume that must
never harm its run."""

import hashlib
import re
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


@pytest.mark.parametrize("override, changed", [("kind=gan", "kind"), ("seed=abc", "seed"),
                                               ("agent.algo=nope", "agent.algo")])
def test_an_override_at_resume_the_schema_refuses_is_the_resume_refusal(runs, capsys, override, changed):
    """Another kind is another schema: the run's config.yaml was blamed for the new kind's
    missing sections, as if the file were broken."""
    before = snapshot(runs["ppo"])
    assert main(["train", "--resume", str(runs["ppo"]), override]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"cannot resume {runs['ppo']} with {changed} changed: its checkpoint was built with the saved value; at " \
           "resume only train.*, logging.*, device, env.vectorize may change" in err, err
    assert snapshot(runs["ppo"]) == before
    assert main(["train", "--resume", str(runs["ppo"]), "train.total_steps=abc"]) == 2  # a resumable key: its own error
    assert "train.total_steps" in capsys.readouterr().err


def _inputs(runs: dict[str, Path], tmp: Path) -> list[tuple[list[str], str]]:
    """(arguments, a phrase the one-line error must hold); files made here live outside the snapshot."""
    root, ppo, gan = runs["root"], runs["ppo"], runs["gan"]
    step = checkpoint.candidates(ppo)[0][0].name
    gan_step = checkpoint.candidates(gan)[0][0]
    (tmp / "not_yaml.yaml").write_text("name: [unclosed\n")
    (tmp / "a_list.yaml").write_text("- 1\n- 2\n")
    (tmp / "a_word.yaml").write_text("hello\n")
    (tmp / "a_file").write_text("in the way of a folder\n")
    (tmp / "zoo_scalar.yml").write_text("CartPole-v1: 5\n")
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
        (["train", "--resume", str(root / "nope")], "does not exist"),
        (["train", "--resume", str(root)], "has no config.yaml"),
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
        (["list", "--bogus"], "unrecognized arguments: --bogus (see `rlgen list -h`)"),  # the command's help, not rlgen's
        (["train", "ppo_cartpole", "--run-dir", str(tmp / "x"), "seed", "3"], "unrecognized arguments: seed 3 (see `rlgen train -h`)"),
        (["bogus"], "invalid choice: 'bogus'"),
        (["train", "gan_ring8", "generator.backbone={type: lstm}", new], "draws sequences"),
        (["compare", str(ppo), "--out", str(tmp / "c.txt")], "ends in .png, .pdf or .svg, not '.txt'"),
        (["sweep", "sweeps/ppo_cartpole", "--n-trials", "0"], "--n-trials: must be 1 or more"),
        (["sweep", "sweeps/ppo_cartpole", "--study", "../../esc"], "is not a study name"),
        (["eval", str(ppo), "--episodes", "99999999999999999999"], "must be at most 1,000,000"),
        (["record", str(ppo), "--out", str(tmp / "z.npz"), "--episodes", "1", "--seed", "-1"], "a seed is 0 to"),
        (["import-zoo", "ppo", "CartPole-v1", "--file", str(tmp / "a_word.yaml")], "maps env ids to hyperparameters"),
        (["import-zoo", "ppo", "CartPole-v1", "--file", str(tmp / "zoo_scalar.yml")], "is int 5, not a mapping"),
        (["export", str(ppo), "--format", "sb3", "-o", str(gan), "--force"], "is a run directory"),
        (["train", "ppo_cartpole", "--run-dir", "", new], "--run-dir: is empty"),
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


# --- one command each: the mistake refused before any work, or the output put where it belongs --------


def _one_error_line(capsys, phrase: str) -> str:
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and phrase in " ".join(err.split()), err
    return err


def test_compare_out_a_folder_writes_inside_it_and_an_unknown_ending_is_refused(runs, tmp_path, capsys):
    ppo = str(runs["ppo"])
    assert main(["compare", ppo, "--out", f"{tmp_path / 'new'}/"]) == 0  # a folder to make: the trailing /
    assert (tmp_path / "new" / "compare_eval_return_mean.png").is_file()
    assert str(tmp_path / "new" / "compare_eval_return_mean.png") in capsys.readouterr().err
    (tmp_path / "there").mkdir()  # an existing folder, no trailing /
    assert main(["compare", ppo, "--out", str(tmp_path / "there")]) == 0
    assert (tmp_path / "there" / "compare_eval_return_mean.png").is_file()
    assert not (tmp_path / "new.png").exists() and not (tmp_path / "there.png").exists()
    capsys.readouterr()
    before = snapshot(tmp_path)
    for out, phrase in ((tmp_path / "c.txt", "ends in .png, .pdf or .svg, not '.txt'"),
                        (tmp_path / "c", "and this name has no ending")):
        assert main(["compare", ppo, "--out", str(out)]) == 2
        _one_error_line(capsys, phrase)
    assert main(["compare", ppo, "--out", str(tmp_path / "c.svg"), "--wandb"]) == 2
    _one_error_line(capsys, "--wandb logs the figure as an image; give --out a .png")
    assert snapshot(tmp_path) == before and not list(tmp_path.glob("c*"))


def test_api_counts_are_checked_before_any_work(tmp_path):
    from rlgen.agents.rl.evaluation import play_episodes
    from rlgen.agents.selfplay.play import tournament
    from rlgen.api import load_config, make_experiment
    from rlgen.errors import RlgenError
    from rlgen.sweep import Sweep, read_sweep

    with pytest.raises(RlgenError, match="episodes must be a whole number from 1 to 1,000,000"):
        play_episodes(None, None, 10**20)  # was an OverflowError from numpy
    with pytest.raises(RlgenError, match="games_per_pair must be a whole number from 1 to 1,000,000"):
        tournament([], games_per_pair=0)
    spec = read_sweep("sweeps/ppo_cartpole", [f"logging.dir={tmp_path}"])
    with pytest.raises(RlgenError, match="n_trials must be a whole number from 1 to 1,000,000, got 0"):
        Sweep(spec, load=load_config, make_experiment=make_experiment).run(0)  # 0 ran the file's n_trials
    assert not any(tmp_path.iterdir())


def test_a_sweeps_study_name_is_checked_as_a_name_not_blamed_on_the_space(tmp_path):
    from rlgen.api import load_config, make_experiment
    from rlgen.errors import RlgenError
    from rlgen.sweep import Sweep, read_sweep

    spec = read_sweep("sweeps/ppo_cartpole", [f"logging.dir={tmp_path}"])
    for name in ("../../esc", ".."):  # `..` passed the pattern: the trials' folder would be logging.dir's parent
        spec.study = name
        with pytest.raises(RlgenError, match=re.escape(f"study name {name!r}: use letters")):
            Sweep(spec, load=load_config, make_experiment=make_experiment)
    assert not any(tmp_path.iterdir())


def test_import_zoo_names_a_bad_file_and_keeps_an_existing_output(tmp_path, capsys):
    (tmp_path / "utf16.yml").write_bytes("CartPole-v1:\n  policy: MlpPolicy\n".encode("utf-16"))
    (tmp_path / "scalar.yml").write_text("CartPole-v1: 5\n")
    good = tmp_path / "good.yml"
    good.write_text("CartPole-v1:\n  n_timesteps: 1e4\n  policy: MlpPolicy\n")
    for name, phrase in (("utf16.yml", "utf16.yml: not UTF-8 text"),
                         ("scalar.yml", "scalar.yml: entry 'CartPole-v1' is int 5, not a mapping")):
        assert main(["import-zoo", "ppo", "CartPole-v1", "--file", str(tmp_path / name)]) == 2
        _one_error_line(capsys, phrase)
    out = tmp_path / "mine.yaml"
    out.write_text("my own config\n")
    assert main(["import-zoo", "ppo", "CartPole-v1", "--file", str(good), "-o", str(out)]) == 2
    _one_error_line(capsys, f"-o {out} exists already: give a new file name, or --force to replace it")
    assert out.read_text() == "my own config\n"
    assert main(["import-zoo", "ppo", "CartPole-v1", "--file", str(good), "-o", str(out), "--force"]) == 0
    assert "name: zoo_ppo_CartPole-v1" in out.read_text()


def test_export_never_writes_into_a_run_or_a_folder_of_other_files(runs, tmp_path, capsys):
    ppo, gan = runs["ppo"], runs["gan"]
    before = snapshot(runs["root"])
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    assert main(["export", str(ppo), "--format", "sb3", "-o", str(mine)]) == 2
    _one_error_line(capsys, "already holds files that are not an rlgen export (notes.txt): give -o a new or empty "
                    "folder, or --force")
    for args in (["-o", str(gan)], ["-o", str(gan), "--force"], ["-o", str(ppo), "--force"]):
        assert main(["export", str(ppo), "--format", "torchscript", *args]) == 2
        _one_error_line(capsys, "is a run directory: an export never writes into one")
    assert snapshot(runs["root"]) == before and sorted(p.name for p in mine.iterdir()) == ["notes.txt"]
    assert main(["export", str(ppo), "--format", "torchscript", "-o", str(mine), "--force"]) == 0
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "policy.pt"]
    # a folder of earlier exports: another format joins it; the same format replaces its earlier files
    out = tmp_path / "export"
    assert main(["export", str(ppo), "--format", "sb3", "-o", str(out)]) == 0
    assert main(["export", str(ppo), "--format", "torchscript", "-o", str(out)]) == 0
    stale = out / "rl-zoo" / "dqn" / "Old-v0_1" / "Old-v0.zip"  # an earlier sb3 export of another run
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old")
    capsys.readouterr()
    assert main(["export", str(ppo), "--format", "sb3", "-o", str(out)]) == 0
    assert f"replacing the earlier sb3 export in {out}" in capsys.readouterr().err
    assert not stale.exists() and (out / "model.zip").is_file() and (out / "policy.pt").is_file()


def test_a_demos_file_that_is_no_zip_is_called_so_without_a_pickle_hint(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    assert main(["train", "gail_cartpole", f"demos.path={bad}", f"logging.dir={tmp_path / 'runs'}", *QUIET]) == 2
    err = _one_error_line(capsys, f"{bad} is not a .npz of plain arrays: not a readable .npz archive (not a zip file)")
    assert "pickle" not in err
    assert not (tmp_path / "runs").exists()


def test_a_checkpoint_without_experiment_state_names_the_api_callers_parameter(runs, tmp_path):
    """The same refusal as `rlgen eval --checkpoint latest` on such a run, said in Python's words."""
    run = tmp_path / "no_experiment"
    shutil.copytree(runs["ppo"], run)
    for ckpt in run.glob("checkpoints/*/"):
        if (ckpt / checkpoint.STATE).is_file():
            torch.save({"global_step": 64}, ckpt / checkpoint.STATE)
            digest = hashlib.sha256((ckpt / checkpoint.STATE).read_bytes()).hexdigest()
            (ckpt / checkpoint.CHECKSUM).write_text(f"{digest}  0\n")
    with pytest.raises(checkpoint.CheckpointChoiceError, match="holds no experiment state") as e:
        rlgen.load_run(run, checkpoint="latest").experiment
    assert "pick another with checkpoint='step_N'" in str(e.value) and "--checkpoint" not in str(e.value)
