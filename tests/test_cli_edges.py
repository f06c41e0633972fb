"""Edges of the commands: a --video the env cannot film, `runs/<name>` resolution, printed commands
that paste into a shell, positionals after options, inspect --checkpoint, W&B artifacts' checksum."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

import rlgen
from rlgen.agents.rl.experiment import video_problem
from rlgen.checkpoint import CHECKSUM, STATE
from rlgen.cli import _report, main
from rlgen.config import EnvConfig
from rlgen.errors import ConfigError, RlgenError
from rlgen.transfer import resolve_run

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
CUE = ["env.id=rlgen/CueRecall-v0", "env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
       "train.total_steps=64", "train.eval_every=32", "train.eval_episodes=1", *QUIET]


@pytest.fixture(scope="module")
def cue_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished PPO run on CueRecall, an env that renders no frames (two checkpoints, a best)."""
    root = tmp_path_factory.mktemp("cue")
    return rlgen.train("ppo_cartpole", [f"logging.dir={root}", *CUE]).run_dir


def _files(run_dir: Path) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in run_dir.rglob("*") if p.is_file() and p.name != ".lock"}


# --- A: filming an env that renders no rgb_array frames ---------------------------------------------


class _HumanOnly(gym.Env):
    """Takes render_mode, but renders for a person only."""

    metadata = {"render_modes": ["human"]}

    def __init__(self, render_mode: str | None = None):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, 1.0, (2,))
        self.action_space = gym.spaces.Discrete(2)


def test_video_problem_reads_the_envs_render_modes():
    gym.register("rlgen_test/HumanOnly-v0", entry_point=_HumanOnly)
    try:
        assert video_problem(EnvConfig(id="CartPole-v1")) is None
        cue = video_problem(EnvConfig(id="rlgen/CueRecall-v0"))  # its constructor takes no render_mode
        assert cue is not None and "'rlgen/CueRecall-v0' cannot render rgb_array frames" in cue
        human = video_problem(EnvConfig(id="rlgen_test/HumanOnly-v0"))
        assert human is not None and "render_modes']: human)" in human
    finally:
        del gym.registry["rlgen_test/HumanOnly-v0"]


def test_video_every_for_an_env_that_cannot_render_is_refused_when_the_config_loads():
    with pytest.raises(ConfigError, match=r"train\.video_every: env 'rlgen/CueRecall-v0' cannot render rgb_array"):
        rlgen.load_config("ppo_cartpole", ["env.id=rlgen/CueRecall-v0", "train.video_every=1"])
    rlgen.load_config("ppo_cartpole", ["train.video_every=1"])  # CartPole renders


def test_eval_video_of_an_env_that_cannot_render_is_one_line_and_writes_nothing(cue_run, capsys):
    before = _files(cue_run)
    assert main(["eval", str(cue_run), "--episodes", "1", "--video"]) == 2
    err = capsys.readouterr().err
    assert "cannot render rgb_array frames" in err and "leave out --video" in err
    assert "check env.kwargs" not in err  # not blamed on the config
    assert not (cue_run / "media").exists() and _files(cue_run) == before


def test_run_evaluate_refuses_such_a_video_before_playing_and_leaves_no_folder(cue_run, tmp_path):
    with rlgen.load_run(cue_run) as run:
        with pytest.raises(RlgenError, match="cannot render rgb_array frames"):
            run.evaluate(episodes=1, video_dir=tmp_path / "films" / "here")
    assert not (tmp_path / "films").exists()


def test_eval_video_with_a_file_in_the_runs_media_names_that_file(tmp_path, capsys):
    run_dir = rlgen.train("ppo_cartpole", [f"logging.dir={tmp_path}", *CUE[1:]]).run_dir  # CartPole: it renders
    (run_dir / "media").write_text("")
    assert main(["eval", str(run_dir), "--episodes", "1", "--video"]) == 2
    err = capsys.readouterr().err
    assert f": {run_dir / 'media'} is a file, not a folder; move or rename it" in err
    assert "give a video_dir" not in err  # the command line has no video_dir to give


# --- B: a folder of runs as runs/<name> -------------------------------------------------------------


def _fake_run(folder: Path, name: str, status: str | None, mtime: int) -> Path:
    run = folder / f"2026010{mtime}-000000-s0-{name}"
    (run / "checkpoints").mkdir(parents=True)
    (run / "config.yaml").write_text(f"name: {name}\n")
    (run / "checkpoints" / "latest").write_text("step_1\n")
    os.utime(run / "checkpoints" / "latest", (1000 + mtime, 1000 + mtime))
    if status is not None:
        (run / "summary.json").write_text(json.dumps({"status": status}))
    return run


def test_a_folder_of_runs_of_several_configs_is_not_a_run(tmp_path, capsys):
    _fake_run(tmp_path, "alpha", "completed", 1)
    _fake_run(tmp_path, "beta", "completed", 2)
    with pytest.raises(RlgenError, match=r"its runs are of 2 configs \(alpha, beta\), not one"):
        resolve_run(tmp_path)
    assert main(["inspect", str(tmp_path)]) == 2
    assert "runs are of 2 configs" in capsys.readouterr().err


def test_the_folder_above_runs_name_folders_names_their_configs(tmp_path, capsys):
    """runs/ itself holds runs/<name>/<id>: it is refused for what it is, not as holding no run."""
    _fake_run(tmp_path / "alpha", "alpha", "completed", 1)
    _fake_run(tmp_path / "beta", "beta", "completed", 2)
    with pytest.raises(RlgenError, match=r"its runs are of 2 configs \(alpha, beta\), not one: give a run directory"):
        resolve_run(tmp_path)
    _fake_run(tmp_path / "solo" / "gamma", "gamma", "completed", 1)
    with pytest.raises(RlgenError, match=r"its runs are of 1 config \(gamma\) one folder down"):
        resolve_run(tmp_path / "solo")
    assert main(["inspect", str(tmp_path)]) == 2
    assert "runs are of 2 configs" in capsys.readouterr().err


def test_runs_name_is_its_newest_finished_run_and_says_so(tmp_path, capsys):
    finished = _fake_run(tmp_path, "x", "completed", 1)
    _fake_run(tmp_path, "x", "interrupted", 2)  # checkpointed later, but not the config's result
    _fake_run(tmp_path, "x", "running", 3)  # training now: its weights still change
    assert resolve_run(tmp_path) == finished
    assert f"its newest finished run, {finished}" in capsys.readouterr().err


def test_runs_name_with_no_finished_run_names_the_newest(tmp_path):
    _fake_run(tmp_path, "x", "interrupted", 1)
    newest = _fake_run(tmp_path, "x", None, 2)
    with pytest.raises(RlgenError, match=rf"holds no finished run of x \(its newest, {newest}, is unfinished\)"):
        resolve_run(tmp_path)


# --- C: printed commands paste into a shell ---------------------------------------------------------


def test_printed_commands_are_shell_quoted(tmp_path, capsys):
    run_dir = tmp_path / "exp dir ü" / "$HOME [x]"
    for i in (1, 2):
        (run_dir / "wandb" / f"offline-run-2026010{i}_000000-abc").mkdir(parents=True)
    _report({"status": "interrupted", "global_step": 8, "wall_time_s": 1.0, "final": {}}, run_dir)
    lines = {line.split(":", 1)[0].strip(): line.split(":", 1)[1].strip()
             for line in capsys.readouterr().err.splitlines() if ":" in line}
    assert shlex.split(lines["resume with"]) == ["rlgen", "train", "--resume", str(run_dir)]
    assert shlex.split(lines["look at it"]) == ["wandb", "leet", str(run_dir / "wandb")]
    # two offline runs: the glob stays outside the quotes, for the shell to expand
    assert lines["upload later"] == f"wandb sync {shlex.quote(str(run_dir / 'wandb'))}/offline-run-*"


@pytest.mark.parametrize("distributed, env, launcher", [
    (None, {"WORLD_SIZE": "", "LOCAL_WORLD_SIZE": ""}, ["rlgen"]),  # empty: one process, as the run was
    ({"backend": "gloo", "world_size": 1}, {"WORLD_SIZE": "1"}, ["rlgen"]),  # torchrun --nproc_per_node 1
    ({"backend": "gloo", "world_size": 2}, {"WORLD_SIZE": "", "LOCAL_WORLD_SIZE": ""},
     ["torchrun", "--nproc_per_node", "2", "--no-python", "rlgen"]),
    ({"backend": "nccl", "world_size": 4}, {"WORLD_SIZE": "4", "LOCAL_WORLD_SIZE": "2"},
     ["torchrun", "--nnodes", "2", "--nproc_per_node", "2", "--no-python", "rlgen"]),
], ids=["empty_world_size", "one_process", "two_unset_local", "two_nodes"])
def test_the_resume_line_starts_the_job_size_the_run_had(distributed, env, launcher, tmp_path, monkeypatch, capsys):
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    _report({"status": "interrupted", "global_step": 8, "wall_time_s": 1.0, "final": {}, "distributed": distributed},
            tmp_path)
    line = next(x for x in capsys.readouterr().err.splitlines() if "resume with:" in x)
    assert shlex.split(line.split(":", 1)[1]) == [*launcher, "train", "--resume", str(tmp_path)]


# --- D: smaller edges -------------------------------------------------------------------------------


def test_a_file_given_as_run_dir_is_one_line_naming_its_folder(cue_run, capsys):
    assert main(["eval", str(cue_run / "config.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"is a file, not a run directory: give its folder, {cue_run}" in err.replace("\n", "")
    assert "unreadable" not in err


def test_positionals_after_an_option_join_the_commands_list(monkeypatch):
    import rlgen.agents.selfplay.play as play

    opened: list[tuple[str, Any]] = []

    class Stop(Exception):
        pass

    def restore(path: Path, trust: bool = False, checkpoint: str | None = None) -> Any:
        opened.append((str(path), checkpoint))
        return type("Exp", (), {"close": lambda self: None})()

    def tournament(*args: Any, **kwargs: Any) -> Any:
        raise Stop

    monkeypatch.setattr(play, "restore", restore)
    monkeypatch.setattr(play, "tournament", tournament)
    with pytest.raises(Stop):
        main(["tournament", "runs/a", "--checkpoint", "best", "runs/b"])
    assert opened == [("runs/a", "best"), ("runs/b", "best")]
    with pytest.raises(SystemExit):  # a command with one positional still takes no second one
        main(["eval", "runs/a", "--episodes", "1", "runs/b"])


def test_a_tournament_of_checkpoint_directories_alone_refuses_checkpoint(tmp_path, capsys):
    """--checkpoint picks in run directories: with none given it was ignored without a word."""
    run = rlgen.train("selfplay_tictactoe", ["train.total_steps=64", "train.eval_every=64", "train.eval_episodes=2",
                                             f"logging.dir={tmp_path}", *QUIET]).run_dir
    best = str(run / "checkpoints" / "best")
    assert main(["tournament", best, best, "--checkpoint", "latest", "--games", "2"]) == 2
    assert "every path given is a checkpoint directory; drop --checkpoint" in capsys.readouterr().err
    assert main(["tournament", str(run), best, "--checkpoint", "latest", "--games", "2"]) == 0  # it picks in `run`


def test_inspect_opens_the_checkpoint_asked_for(cue_run, capsys):
    assert main(["inspect", str(cue_run), "--checkpoint", "step_32"]) == 0
    assert "at step 32 (step_32 checkpoint)" in capsys.readouterr().out
    assert main(["inspect", str(cue_run)]) == 0
    assert "(best checkpoint)" in capsys.readouterr().out


def test_an_empty_checkpoint_is_refused_without_the_cli_flag(cue_run):
    with pytest.raises(RlgenError, match=r"the checkpoint to open is empty \(''\): give best, latest or step_N") as e:
        rlgen.load_run(cue_run, checkpoint="")
    assert "--checkpoint" not in str(e.value)


def test_rlgens_model_artifacts_hold_the_checksum(cue_run, tmp_path, capsys):
    from rlgen.logging_wandb import WandbSink

    versions: list[dict[str, Path]] = []

    class Recorder:  # WandbSink without W&B: what log_model would put in each artifact version
        def log_model(self, files: dict[str, Path], aliases: list[str], metadata: dict[str, Any]) -> None:
            versions.append(dict(files))

    WandbSink.log_checkpoints(Recorder(), cue_run, {}, {})  # type: ignore[arg-type]
    assert versions and all(sorted(v) == ["config.yaml", STATE, CHECKSUM] for v in versions)
    for i, files in enumerate(versions):  # as artifact.download() lays a version out
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        for name, path in files.items():
            shutil.copyfile(path, folder / name)
        capsys.readouterr()
        with rlgen.load_run(folder) as run:
            assert run.experiment.global_step > 0  # read, verified and loaded
        assert "no state.pt.sha256" not in capsys.readouterr().err
    (folder / CHECKSUM).unlink()  # a hand-made copy without it is still warned of
    with rlgen.load_run(folder) as run:
        assert run.experiment.global_step > 0
    assert "no state.pt.sha256" in capsys.readouterr().err
