"""Opening a run never runs code from it: crafted run directories whose checkpoint, replay buffer
or config carry a payload are refused (or, by `rlgen compare`, ignored) by every command, and the
payload's marker file never appears. Each payload is shown to be live: with --trust it runs."""

import hashlib
import pickle
import shutil
from pathlib import Path

import pytest
import torch
import yaml

import rlgen
from rlgen import checkpoint, plain
from rlgen.cli import main

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
