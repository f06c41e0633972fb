"""Opening a run never runs code from it: crafted run directories whose checkpoint, replay buffer
or config carry a payload are refused (or, by `rlgen compare`, ignored) by every command, and the
payload's marker file never appears. Each payload is shown to be live: with --trust it runs."""

import hashlib
import os
import pickle
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import rlgen
from rlgen import checkpoint, plain
from rlgen.cli import main
from rlgen.errors import RlgenError

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
RUNS = {
    "selfplay": ("selfplay_tictactoe", ["game.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
                                        "ratings.games_per_pair=1", "train.total_steps=32", "train.eval_every=32",
                                        "train.eval_episodes=1"]),
    "dqn": ("dqn_cartpole", ["agent.hyperparams.learning_starts=0", "agent.hyperparams.buffer_size=500",
                             "train.total_steps=64", "train.eval_every=64", "train.eval_episodes=1"]),
    "gan": ("gan_ring8", ["eval.samples=200", "train.total_steps=2", "train.eval_every=2", "perf.steps_per_unit=2"]),
    "frames": ("gan_cartpole_frames", ["data.kwargs.n_frames=16", "eval.samples=16", "train.total_steps=2",
                                       "train.eval_every=2", "perf.steps_per_unit=2"]),
}


class Payload:
    """Unpickles into a call of `Path.touch(marker)`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("pristine")
    return {kind: rlgen.train(name, [*overrides, *QUIET, f"logging.dir={root}"]).run_dir
            for kind, (name, overrides) in RUNS.items()}


def _copy(pristine: dict[str, Path], kind: str, tmp_path: Path) -> Path:
    run = tmp_path / "run"
    shutil.copytree(pristine[kind], run, ignore=shutil.ignore_patterns(".lock"))
    return run


def _checkpoints(run: Path) -> list[Path]:
    """Every checkpoint of the run: the latest (what --resume opens) and best/ (what eval, play,
    tournament and export open in a finished run) among them."""
    ckpts = run / "checkpoints"
    return [p for p in [*ckpts.glob("step_*"), ckpts / checkpoint.BEST] if (p / checkpoint.STATE).is_file()]


def _write_state(ckpt: Path, obj) -> None:
    """A state file and a checksum that matches it: an attacker can write both."""
    torch.save(obj, ckpt / checkpoint.STATE)
    digest = hashlib.sha256((ckpt / checkpoint.STATE).read_bytes()).hexdigest()
    (ckpt / checkpoint.CHECKSUM).write_text(f"{digest}  0\n")


def crafted_checkpoint(run: Path, marker: Path) -> None:
    for ckpt in _checkpoints(run):
        state = checkpoint.read(ckpt)
        state["experiment"] = {"x": Payload(marker)}
        _write_state(ckpt, state)


def crafted_buffer(run: Path, marker: Path) -> None:
    """Plain data all through, but the replay buffer is a pickle (as older rlgen wrote it)."""
    for ckpt in _checkpoints(run):
        state = checkpoint.read(ckpt)
        state["experiment"]["replay_buffer"] = pickle.dumps(Payload(marker))
        _write_state(ckpt, plain.encode(state))  # arrays as rlgen writes them: only the buffer is a pickle


def crafted_source(run: Path, marker: Path) -> None:
    """The config names a function by import path and gives it the arguments of a command."""
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"] = {"source": "subprocess:getoutput", "kwargs": {"cmd": f"touch {marker}"}}
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    for ckpt in _checkpoints(run):  # the checkpoints' own configs agree, as a crafter would make them
        state = checkpoint.read(ckpt)
        state["config"]["data"] = config["data"]
        _write_state(ckpt, plain.encode(state))


def crafted_interpolation(run: Path, marker: Path) -> None:
    text = (run / "config.yaml").read_text()
    (run / "config.yaml").write_text(text.replace("project: rlgen", "project: ${oc.env:HOME}"))


def _commands(run: Path) -> dict[str, list[str]]:
    return {
        "eval": ["eval", str(run), "--episodes", "1"],
        "resume": ["train", "--resume", str(run), "train.total_steps=100000", *QUIET],
        "play": ["play", str(run)],
        "tournament": ["tournament", str(run), "--games", "1"],
        "compare": ["compare", str(run), "--metric", "time/elapsed_s", "--out", str(run.parent / "curves.png")],
        "export": ["export", str(run), "--format", "torchscript", "-o", str(run.parent / "export")],
    }


CASES = [  # (run, craft, commands that refuse, the refusal, a command that runs the payload with --trust,
    #          or "refused": --trust does not open it either)
    ("selfplay", crafted_checkpoint, ["eval", "resume", "play", "tournament", "export"],
     "refused to open .*state.pt.*--trust", "refused"),
    ("dqn", crafted_buffer, ["eval", "resume", "play", "export"], "refused to unpickle the replay buffer.*--trust",
     "refused"),
    ("gan", crafted_source, ["eval", "resume", "play", "export"], "'subprocess:getoutput' is an import path.*--trust", "eval"),
    ("selfplay", crafted_interpolation, ["eval", "resume", "play", "tournament", "export"],
     r"logging\.wandb\.project is the interpolation '\$\{oc\.env:HOME\}'", None),
]


@pytest.mark.parametrize("kind, craft, refusing, refusal, live", CASES, ids=[c[1].__name__ for c in CASES])
def test_a_crafted_run_never_runs_its_payload(pristine, tmp_path, capsys, kind, craft, refusing, refusal, live):
    run, marker = _copy(pristine, kind, tmp_path), tmp_path / "marker"
    craft(run, marker)
    commands = _commands(run)
    for name in refusing:
        assert main(commands[name]) == 2, name
        err = capsys.readouterr().err
        assert __import__("re").search(refusal, " ".join(err.split())), (name, err)
        assert "Traceback" not in err and not marker.exists(), name
    assert main(commands["compare"]) == 0  # reads metrics and the config as plain YAML: the payload is ignored
    assert not marker.exists()
    if live not in (None, "refused"):  # the same payload is real: opened with --trust, it runs
        main([*commands[live], "--trust"])
        assert marker.exists()
    elif live == "refused":  # a pickled payload stays refused under --trust: it only reads what old checkpoints held
        for name in ("eval", "resume"):
            assert main([*commands[name], "--trust"]) == 2, name
            assert "refused" in capsys.readouterr().err and not marker.exists(), name


def test_the_pristine_runs_open_without_trust(pristine, tmp_path):
    for kind in RUNS:
        with rlgen.load_run(pristine[kind]) as run:
            assert run.modules() and run.global_step > 0


def test_an_old_pickled_checkpoint_opens_only_with_trust(pristine, tmp_path, capsys):
    """What rlgen wrote before this format: objects pickled whole (a replay buffer, numpy RNG
    state), no checksum. Refused by default; with --trust it evaluates and resumes (not exactly)."""
    run = _copy(pristine, "dqn", tmp_path)
    shutil.rmtree(run / "checkpoints" / checkpoint.BEST, ignore_errors=True)  # older rlgen kept no best/
    ckpt = checkpoint.candidates(run)[0][0]
    with rlgen.load_run(run) as loaded:
        model = loaded.experiment.model
        state = checkpoint.read(ckpt)
        old = {k: state["experiment"][k] for k in ("params", "num_timesteps", "ep_info_buffer", "ep_success_buffer")}
        old.update(n_updates=model._n_updates, episode_num=model._episode_num, vec_normalize=None,
                   replay_buffer=pickle.dumps(model.replay_buffer))
    (ckpt / checkpoint.CHECKSUM).unlink()
    torch.save({**state, "experiment": old, "format": 1}, ckpt / checkpoint.STATE)  # rng holds a numpy array: pickled
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    assert "--trust" in capsys.readouterr().err
    assert main(["eval", str(run), "--episodes", "1", "--trust"]) == 0
    assert main(["train", "--resume", str(run), "train.total_steps=320", *QUIET, "--trust"]) == 0
    err = capsys.readouterr().err
    assert "old-format checkpoint" in err and "(--trust)" in err and "this resume is not exact" in err


def test_an_env_id_inside_a_data_source_is_an_import_path_too(pristine, tmp_path, capsys, monkeypatch):
    """`frames` renders a gymnasium env: its `env_id` may be `module:Env`, which imports the module."""
    marker = tmp_path / "marker"
    (tmp_path / "rlgen_payload_env.py").write_text(f"from pathlib import Path\nPath({str(marker)!r}).touch()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = _copy(pristine, "frames", tmp_path)
    config = yaml.safe_load((run / "config.yaml").read_text())
    config["data"]["kwargs"]["env_id"] = "rlgen_payload_env:CartPole-v1"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    for ckpt in _checkpoints(run):  # the checkpoints' own configs agree, so that a resume gets as far as setup
        state = checkpoint.read(ckpt)
        state["config"]["data"]["kwargs"]["env_id"] = "rlgen_payload_env:CartPole-v1"
        _write_state(ckpt, plain.encode(state))
    resume = ["train", "--resume", str(run), "train.total_steps=100000", *QUIET]
    for command in (["eval", str(run), "--episodes", "1"], ["inspect", str(run)], resume):
        assert main(command) == 2, command
        err = " ".join(capsys.readouterr().err.split())
        assert "'rlgen_payload_env:CartPole-v1' is an import path" in err and "--trust" in err, err
        assert not marker.exists(), command
    main(["eval", str(run), "--episodes", "1", "--trust"])  # live: trusted, the module is imported
    assert marker.exists()


def test_every_command_that_opens_a_run_takes_trust(tmp_path, capsys):
    """A run of your own that names code by import path is refused until you say --trust: record
    and inspect too, not only eval, export, play and --resume."""
    wrapper = "{gymnasium.wrappers:ClipReward: {min_reward: -1, max_reward: 1}}"
    run = rlgen.train("ppo_cartpole", ["env.n_envs=2", "agent.hyperparams.n_steps=16", "agent.hyperparams.batch_size=32",
                                       "train.total_steps=32", "train.eval_every=32", "train.eval_episodes=1",
                                       f"env.wrappers=[{wrapper}]", *QUIET, f"logging.dir={tmp_path}"]).run_dir
    for command in (["record", str(run), "--episodes", "1", "--out", str(tmp_path / "demos.npz")], ["inspect", str(run)]):
        assert main(command) == 2, command
        assert "'gymnasium.wrappers:ClipReward' is an import path" in " ".join(capsys.readouterr().err.split())
        assert main([*command, "--trust"]) == 0, command
    assert (tmp_path / "demos.npz").is_file()


# --- symbolic links out of a run --------------------------------------------------------------------


def _snapshot(root: Path) -> dict[str, object]:
    """Every path under `root` but the lock file (a resume takes it first), links not followed: a
    link by its target, a file by its bytes."""
    seen: dict[str, object] = {}
    for parent, dirs, files in __import__("os").walk(root):
        for name in set(dirs + files) - {".lock"}:
            path = Path(parent, name)
            rel = str(path.relative_to(root))
            seen[rel] = ("link", str(path.readlink())) if path.is_symlink() else \
                ("dir",) if path.is_dir() else hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def test_a_run_with_a_link_out_of_it_is_refused_and_nothing_is_written(pristine, tmp_path, capsys):
    """A shared run whose summary.json and metrics.jsonl are links to files outside it: a resume
    would rewrite the one and append to the other. Every command that opens the run refuses it in
    one line naming the link and its target, and no file, in the run or outside it, changes."""
    run, outside = _copy(pristine, "gan", tmp_path), tmp_path / "victim"
    outside.mkdir()
    (outside / "important.txt").write_text("precious\n")
    (outside / "log.txt").write_text("victim log\n")
    (run / "summary.json").unlink()
    (run / "summary.json").symlink_to(outside / "important.txt")
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").symlink_to(outside / "log.txt")
    before, victims = _snapshot(run), _snapshot(outside)
    commands = {**_commands(run), "resume": ["train", "--resume", str(run), "train.total_steps=4", *QUIET]}
    for name in ("resume", "eval", "export"):
        for trust in ([], ["--trust"]):  # not code: --trust does not open it either
            assert main([*commands[name], *trust]) == 2, name
            err = " ".join(capsys.readouterr().err.split())
            assert f"refused to open {run}: metrics.jsonl is a symbolic link to {outside / 'log.txt'}, outside the run " \
                   "directory" in err, (name, err)
            assert "Traceback" not in err and err.count("error:") == 1, err
    with pytest.raises(RlgenError, match="metrics.jsonl is a symbolic link"):
        rlgen.load_run(run)
    assert _snapshot(run) == before and _snapshot(outside) == victims
    assert not (run / ".lock").exists()

    # a link to a directory out of the run (where eval --video would record) is refused too
    (run / "metrics.jsonl").unlink()
    (run / "metrics.jsonl").write_text("")
    (run / "summary.json").unlink()
    (run / "media").mkdir(exist_ok=True)
    (run / "media" / "videos").symlink_to(outside, target_is_directory=True)
    assert main([*commands["eval"], "--video"]) == 2
    assert "media/videos is a symbolic link to" in " ".join(capsys.readouterr().err.split())
    assert _snapshot(outside) == victims


def test_links_inside_a_run_and_a_linked_run_directory_open(pristine, tmp_path, capsys):
    """What stays inside the run is no danger: a link to one of its own files, W&B's own links
    (which W&B replaces rather than writes through; its core log names the machine's W&B cache),
    and the run directory itself being a link (a run kept on another disk)."""
    run = _copy(pristine, "gan", tmp_path)
    (run / "summary-link.json").symlink_to("summary.json")
    wandb = run / "wandb" / "offline-run-20260101_000000-x"
    (wandb / "logs").mkdir(parents=True)
    (wandb / "logs" / "debug-core.log").symlink_to("/nonexistent/wandb/logs/core-debug-20260101_000000.log")
    (run / "wandb" / "latest-run").symlink_to(wandb.name)
    (run / "wandb" / "debug.log").symlink_to(tmp_path / "elsewhere" / "debug.log")  # written on another machine
    linked = tmp_path / "linked"
    linked.symlink_to(run, target_is_directory=True)
    assert main(["eval", str(linked), "--episodes", "1"]) == 0
    assert main(["train", "--resume", str(linked), "train.total_steps=4", *QUIET]) == 0
    assert not (tmp_path / "elsewhere").exists()
    # but a link W&B does not make, under wandb/ too, is refused
    (run / "wandb" / "offline-run-20260101_000001-x").symlink_to(tmp_path, target_is_directory=True)
    assert main(["eval", str(run), "--episodes", "1"]) == 2
    assert "wandb/offline-run-20260101_000001-x is a symbolic link to" in " ".join(capsys.readouterr().err.split())


def test_a_wandb_run_copied_elsewhere_resumes_and_evaluates(tmp_path, monkeypatch):
    """W&B's offline folder holds links of its own, one to the W&B cache outside the run; a run
    copied as `cp -a` copies it (links kept as links) still resumes, with W&B, and evaluates."""
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DATA_DIR", str(tmp_path / "wandb-data"))
    name, overrides = RUNS["gan"]
    quiet = ["logging.wandb.mode=offline", "train.progress=false", "logging.console=false"]
    first = rlgen.train(name, [*overrides, *quiet, f"logging.dir={tmp_path / 'a'}"]).run_dir
    links = [p for p in first.rglob("*") if p.is_symlink()]
    assert links, "W&B made no links: nothing is checked here"
    copy = tmp_path / "b" / first.name
    shutil.copytree(first, copy, symlinks=True, ignore=shutil.ignore_patterns(".lock"))
    assert rlgen.train(resume=copy, overrides=["train.total_steps=4", *quiet]).summary["status"] == "completed"
    assert main(["eval", str(copy), "--episodes", "1"]) == 0


# --- an old replay buffer's classes are never called ------------------------------------------------


class _CalledBuffer:
    """Unpickles into a call `ReplayBuffer(size, ...)`: its __init__ would allocate the buffer."""

    def __reduce__(self):
        import gymnasium as gym
        from stable_baselines3.common.buffers import ReplayBuffer

        return ReplayBuffer, (7, gym.spaces.Box(-1, 1, (1,)), gym.spaces.Discrete(2), "cpu")


class _CalledBox:
    def __reduce__(self):
        import gymnasium as gym

        return gym.spaces.Box, (-1.0, 1.0, (3,))


def test_an_old_replay_buffer_is_made_without_calling_its_class(tmp_path, monkeypatch):
    """Under --trust an old pickled buffer is read with SB3's buffers and gymnasium's spaces
    allowed, made as pickle makes them (their attributes set, no __init__); a pickle that calls
    one (`ReplayBuffer(10**12, ...)` would allocate terabytes) is refused, in the buffer's blob and
    in the checkpoint's own state.pt. A buffer pickled by SB3 still reads back whole."""
    import gymnasium as gym
    import numpy as np
    from stable_baselines3.common.buffers import ReplayBuffer

    calls = []
    init = ReplayBuffer.__init__
    monkeypatch.setattr(ReplayBuffer, "__init__", lambda self, *a, **k: (calls.append(a), init(self, *a, **k))[1])
    genuine = ReplayBuffer(5, gym.spaces.Box(-1, 1, (2,)), gym.spaces.Discrete(3), "cpu")
    genuine.observations[:] = np.arange(10, dtype=np.float32).reshape(5, 1, 2)
    genuine.pos = 3
    blob, calls[:] = pickle.dumps(genuine), []
    with checkpoint.trusted(True):
        back = checkpoint.unpickle(blob, "replay buffer")
        assert isinstance(back, ReplayBuffer) and back.pos == 3 and not calls
        assert np.array_equal(back.observations, genuine.observations) and back.action_space == gym.spaces.Discrete(3)
        for payload, called in ((_CalledBuffer(), "ReplayBuffer"), ((1, [_CalledBox()]), "Box")):
            with pytest.raises(checkpoint.UnsafeCheckpointError, match=f"refused a call of .*{called}"):
                checkpoint.unpickle(pickle.dumps(payload), "replay buffer")
    assert not calls
    ckpt = tmp_path / "step_1"
    ckpt.mkdir()
    for payload in (_CalledBuffer(), _CalledBox()):
        torch.save({"experiment": {"x": payload}, "format": 1}, ckpt / checkpoint.STATE)
        with pytest.raises(checkpoint.UnsafeCheckpointError, match="never held .*gymnasium.spaces.box.Box"):
            checkpoint.read(ckpt, trust=True)
    assert not calls


# --- counters of the wrong type ---------------------------------------------------------------------


def _set_in_checkpoints(run: Path, where: str | None, key: str, value) -> None:
    for ckpt in _checkpoints(run):
        state = checkpoint.read(ckpt)
        (state if where is None else state[where])[key] = value
        _write_state(ckpt, plain.encode(state))


COUNTERS = [  # (where, key, value, the refusal, read by eval too)
    ("runner", "next_eval", None, "its checkpoint's runner.next_eval is None, not a count", False),
    ("runner", "train_time_s", "1 s", "its checkpoint's runner.train_time_s is '1 s', not a number", False),
    (None, "global_step", None, "its global_step is None, not a count", True),
    ("experiment", "num_timesteps", None, "the checkpoint's num_timesteps is None, not a count", True),
]


@pytest.mark.parametrize("where, key, value, refusal, evaluated", COUNTERS, ids=[c[1] for c in COUNTERS])
def test_a_counter_of_the_wrong_type_is_refused_in_one_line(pristine, tmp_path, capsys, where, key, value, refusal,
                                                            evaluated):
    """A checkpoint's counters (the runner's schedule, the step, SB3's num_timesteps) are checked
    where they are read: a crafted `next_eval: None` fails in one line, not in the training loop."""
    run = _copy(pristine, "dqn", tmp_path)
    _set_in_checkpoints(run, where, key, value)
    before = _snapshot(run)
    commands = [["train", "--resume", str(run), "train.total_steps=1024", *QUIET]]
    commands += [["eval", str(run), "--episodes", "1"]] if evaluated else []
    for command in commands:
        assert main(command) == 2, command
        err = " ".join(capsys.readouterr().err.split())
        assert refusal in err and "Traceback" not in err, err
    assert _snapshot(run) == before


def test_a_run_with_a_folder_rlgen_cannot_list_is_refused(tmp_path, monkeypatch):
    """A link out of the run, in a folder rlgen cannot list (mode 0311), would go unchecked: rlgen
    opens the run's files by name, never by listing them."""
    from rlgen import rundir

    run = tmp_path / "run"
    (run / "media").mkdir(parents=True)
    real_access, real_scandir = rundir.os.access, os.scandir
    monkeypatch.setattr(rundir.os, "access", lambda p, mode: False if str(p) == os.path.realpath(run)
                        else real_access(p, mode))
    with pytest.raises(RlgenError, match="cannot be listed"):
        rundir.check_links(run)
    monkeypatch.setattr(rundir.os, "access", real_access)

    def scandir(path="."):
        if str(path).endswith("media"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(RlgenError, match="media cannot be listed"):
        rundir.check_links(run)
