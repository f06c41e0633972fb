"""The runner under torchrun: what its ranks agree on, and the jobs it refuses.

Several gloo processes on one CPU (tests/runner/torchrun_worker.py, the toy kind declaring
data-parallel training as a plugin kind may): a new best forces a checkpoint on every rank, as with
one process; rank 0's evaluation decides for all; only rank 0 speaks; a resume by a job of another
size warns and starts fresh per-rank state. In this process: a kind that does not train
data-parallel, and a torchrun environment that cannot be joined, are refused in one line before any
file is written.
"""

import json
import signal
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.distributed as dist

from rlgen import checkpoint
from rlgen.cli import main
from tests.agents.gan.test_ddp import torchrun

WORKER = Path(__file__).with_name("torchrun_worker.py")


def launch(out: Path, nproc: int, **settings: Any) -> tuple[str, list[dict[str, Any]]]:
    """The worker as `nproc` torchrun processes (as one plain process for 1): its console output
    and what each rank wrote."""
    out.mkdir(parents=True)
    cmd = [str(WORKER), str(out), json.dumps(settings)]
    if nproc > 1:
        cmd = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", *cmd]
    resumed = Path(settings["resume"]) if settings.get("resume") else None  # a retry starts from it as it was
    done = torchrun([sys.executable, *cmd], out, timeout=120, keep=resumed)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout + done.stderr, [json.loads((out / f"rank{r}.json").read_text()) for r in range(nproc)]


def best_of(run_dir: Path) -> tuple[int, dict[str, torch.Tensor]]:
    """The step checkpoints/best/ keeps (summary.json names the same) and its model's weights."""
    summary = json.loads((run_dir / "summary.json").read_text())
    best = run_dir / "checkpoints" / "best"
    step = int((best / "step").read_text())
    assert summary["best"]["global_step"] == step
    state = checkpoint.read(best)
    assert state["global_step"] == step
    return step, state["experiment"]["model"]


@pytest.mark.slow
def test_a_run_dir_rank_0_refuses_stops_every_rank_on_the_same_line(tmp_path):
    """Only rank 0 claims the directory: the other ranks went on into the first collective and
    died there with a gloo traceback and exit code 1."""
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("x")
    _, ranks = launch(tmp_path / "out", 2, runs=str(tmp_path / "runs"), run_dir=str(busy))
    assert [r.get("error", "").split(": give")[0] for r in ranks] == [f"the run directory {busy} already holds files"] * 2
    assert sorted(p.name for p in busy.iterdir()) == ["notes.txt"]


# a new best at the first evaluation (step 20), off the checkpoint schedule (every 60)
BEST_OFF_SCHEDULE = {"total_steps": 60, "eval_every": 20, "checkpoint_every": 60,
                     "early_stop": {"metric": "eval/score", "mode": "max", "target": 5.0}}


@pytest.mark.slow
def test_two_processes_keep_the_best_checkpoint_one_process_keeps(tmp_path):
    """Rank 0's scores put the best at step 20; rank 1's, at step 40, where they also reach the
    target: every rank follows rank 0, checkpoints at step 20 with it, and trains on to the end."""
    runs = str(tmp_path / "runs")
    _, ranks = launch(tmp_path / "two", 2, runs=runs, train=BEST_OFF_SCHEDULE, scores=[[1, 0, 0], [0, 9, 0]])
    assert [(r["status"], r["global_step"]) for r in ranks] == [("completed", 60)] * 2
    _, (one,) = launch(tmp_path / "one", 1, runs=runs, train=BEST_OFF_SCHEDULE, scores=[[1, 0, 0]])
    two_step, two_weights = best_of(Path(ranks[0]["run_dir"]))
    one_step, one_weights = best_of(Path(one["run_dir"]))
    assert two_step == one_step == 20
    # the toy's replicas train alike, and as one process does: the same weights kept as best
    assert two_weights.keys() == one_weights.keys()
    assert all(torch.equal(two_weights[k], one_weights[k]) for k in one_weights)


@pytest.mark.slow
def test_a_signal_is_announced_once_and_the_same_size_resumes_each_ranks_state(tmp_path):
    runs = str(tmp_path / "runs")
    train = {"total_steps": 60, "eval_every": 20, "early_stop": {"metric": "eval/nothing"}}
    said, ranks = launch(tmp_path / "a", 2, runs=runs, train=train, toy={"on_unit": "sigterm", "signal_at": 20})
    assert [(r["status"], r["global_step"]) for r in ranks] == [("interrupted", 20)] * 2
    assert said.count("SIGTERM: finishing this unit") == 1, said  # every rank was signalled; rank 0 speaks
    assert said.count("'eval/nothing' is not among") == 1, said  # every rank evaluated; rank 0 speaks
    said, ranks = launch(tmp_path / "b", 2, runs=runs, train=train, resume=ranks[0]["run_dir"])
    assert said.count("resumed from step 20") == 1, said
    assert "fresh data stream" not in said
    assert [r["given"] for r in ranks] == [{"rank": 0, "step": 20}, {"rank": 1, "step": 20}]


@pytest.mark.slow
@pytest.mark.parametrize("rank, after, step", [(0, "checkpoint", 30), (1, "agreement", 20)])
def test_a_signal_to_one_rank_between_agreements_stops_every_rank_after_the_next_unit(tmp_path, rank, after, step):
    """SIGTERM to one rank just after the ranks agreed (while rank 0 writes the step-20 checkpoint,
    or as the step-10 all-reduce returns): rank 0 stopped alone and waited in the final barrier
    while rank 1 trained on; rank 1's signal was lost, overwritten by the agreement."""
    train = {"total_steps": 60, "eval_every": 60, "checkpoint_every": 20}
    _, ranks = launch(tmp_path / "out", 2, runs=str(tmp_path / "runs"), train=train,
                      sigterm={"rank": rank, "after": after})
    assert [(r["status"], r["global_step"], r["exit_code"]) for r in ranks] == [("interrupted", step, 143)] * 2
    assert checkpoint.load(Path(ranks[0]["run_dir"]))["global_step"] == step


@pytest.mark.slow
@pytest.mark.parametrize("rank", [0, 1])
def test_a_signal_to_one_rank_while_it_sets_up_aborts_every_rank_and_leaves_no_directory(tmp_path, rank):
    """The signalled rank aborted alone; the other died in its first collective (a gloo traceback),
    rank 0 leaving a failed run directory."""
    run_dir = tmp_path / "runs" / "new"
    _, ranks = launch(tmp_path / "out", 2, runs=str(tmp_path / "runs"), run_dir=str(run_dir),
                      sigterm={"rank": rank, "after": "setup"})
    assert ranks == [{"aborted": signal.SIGTERM}] * 2
    assert not run_dir.exists()


@pytest.mark.slow
def test_a_resume_by_a_job_of_another_size_warns_and_starts_fresh_streams(tmp_path):
    runs = str(tmp_path / "runs")
    said, (one,) = launch(tmp_path / "a", 1, runs=runs, train={"total_steps": 20, "eval_every": 20})
    assert one["given"] == "not called"  # one process's own state is in the experiment's state_dict
    said, ranks = launch(tmp_path / "b", 2, runs=runs, train={"total_steps": 40, "eval_every": 20},
                         resume=one["run_dir"])
    assert said.count("written by 1 process, this job has 2: each process starts a fresh data stream") == 1, said
    assert said.count("resumed from step 20") == 1, said
    assert [r["given"] for r in ranks] == ["fresh", "fresh"]
    said, (again,) = launch(tmp_path / "c", 1, runs=runs, train={"total_steps": 60, "eval_every": 20},
                            resume=one["run_dir"])
    assert said.count("written by 2 processes, this job has 1: each process starts a fresh data stream") == 1, said
    assert (again["given"], again["global_step"]) == ("fresh", 60)


# --- refused in this process, before any file ---------------------------------------------------


@pytest.fixture
def torchrun_env(monkeypatch):
    """A clean torchrun environment to fill in; joining a process group fails the test (rather than
    waiting for ranks that never come)."""
    for k in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", "TORCHELASTIC_RUN_ID"):
        monkeypatch.delenv(k, raising=False)

    def joined(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("joined a process group")

    monkeypatch.setattr(dist, "init_process_group", joined)
    return lambda **env: [monkeypatch.setenv(k, v) for k, v in env.items()]


FULL = {"WORLD_SIZE": "2", "RANK": "0", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "29500"}


def test_a_kind_that_does_not_train_data_parallel_is_refused_under_torchrun(tmp_path, torchrun_env, capsys):
    torchrun_env(**FULL)
    assert main(["train", "ppo_cartpole", f"logging.dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: kind 'rl' does not train data-parallel") and "\n" not in err, err
    assert "without torchrun" in err
    assert not (tmp_path / "runs").exists()


def test_the_gan_kind_declares_data_parallel_training(tmp_path, torchrun_env):
    """...so under the same environment it goes on to join the group."""
    torchrun_env(**FULL)
    with pytest.raises(AssertionError, match="joined a process group"):
        main(["train", str(_gan_yaml(tmp_path)), f"logging.dir={tmp_path / 'runs'}"])


@pytest.mark.parametrize("env, said", [
    ({"WORLD_SIZE": "2", "RANK": "0"}, "WORLD_SIZE=2 is set but MASTER_ADDR and MASTER_PORT are not"),
    ({**FULL, "MASTER_ADDR": ""}, "WORLD_SIZE=2 is set but MASTER_ADDR is not"),
    ({"WORLD_SIZE": "two"}, "WORLD_SIZE='two' is not a number of processes"),
    ({"WORLD_SIZE": "0"}, "WORLD_SIZE='0' is not a number of processes"),
    ({**FULL, "RANK": "2"}, "RANK='2' is no rank of WORLD_SIZE=2"),
    ({**FULL, "MASTER_PORT": "http"}, "MASTER_PORT='http' is not a port number"),
])
def test_a_torchrun_environment_that_cannot_be_joined_is_one_line(env, said, tmp_path, torchrun_env, capsys):
    torchrun_env(**env)
    assert main(["train", str(_gan_yaml(tmp_path)), f"logging.dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {said}") and "\n" not in err, err
    assert err.endswith("start with torchrun, or unset WORLD_SIZE")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("env, said", [
    ({"TORCHELASTIC_RUN_ID": "x"}, "TORCHELASTIC_RUN_ID is set but WORLD_SIZE is not"),  # said WORLD_SIZE=''
    ({"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "1"}, "WORLD_SIZE=1 is set but RANK and MASTER_ADDR and MASTER_PORT"),
])
def test_a_stray_torchelastic_run_id_is_what_the_line_says_to_unset(env, said, tmp_path, torchrun_env, capsys):
    torchrun_env(**env)
    assert main(["train", str(_gan_yaml(tmp_path)), f"logging.dir={tmp_path / 'runs'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {said}") and err.endswith("start with torchrun, or unset TORCHELASTIC_RUN_ID"), err


def test_a_rank_left_in_the_environment_of_one_process_hides_no_report(tmp_path, torchrun_env, capsys):
    """RANK=1 without WORLD_SIZE trains as one process, whose report (and resume line) was hidden."""
    torchrun_env(RANK="1")
    assert main(["train", str(_gan_yaml(tmp_path)), f"logging.dir={tmp_path / 'runs'}", "train.total_steps=4",
                 "train.eval_every=4", "eval.samples=64"]) == 0
    said = capsys.readouterr()
    assert "run directory:" in said.out + said.err


@pytest.mark.parametrize("argv, said", [
    (["sweep", "SWEEP"], "rlgen sweep starts its runs itself (one trial after another"),
    (["train", "GAN", "--seeds", "0,1"], "rlgen train --seeds starts its runs itself (one run per seed"),
    (["train", "GAN", "--seeds", "0,1", "--parallel", "2"], "rlgen train --seeds starts its runs itself"),
    (["train", "GAN", "--seeds", "0,1", "--storage", "QUEUE"], "rlgen train --seeds starts its runs itself"),
], ids=["sweep", "seeds", "parallel_seeds", "seed_queue"])
def test_commands_that_start_their_own_runs_are_refused_under_several_processes(argv, said, tmp_path, torchrun_env,
                                                                                 monkeypatch, capsys):
    """Each process would take a trial or seed of its own, and their runs would then average each
    other's gradients in one process group."""
    monkeypatch.chdir(tmp_path)
    gan = _gan_yaml(tmp_path)
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text(f"config: {gan}\nn_trials: 2\n"
                     "space: {generator.optim.lr: {type: float, low: 1.0e-4, high: 1.0e-3}}\n")
    written = sorted(tmp_path.rglob("*"))
    sub = {"SWEEP": str(sweep), "GAN": str(gan), "QUEUE": f"sqlite:///{tmp_path / 'queue.db'}"}
    monkeypatch.setattr("rlgen.seeds.run_in_processes", _no_processes)
    torchrun_env(**FULL)
    assert main([sub.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {said}") and "\n" not in err, err
    assert "not under torchrun with 2 processes: start it without torchrun" in err
    assert sorted(tmp_path.rglob("*")) == written  # no study, no run directory


def _no_processes(*args: Any, **kwargs: Any) -> None:
    raise AssertionError("started seed processes")  # they would inherit the torchrun environment and wait


def test_the_python_entry_points_of_sweeps_and_seeds_refuse_several_processes(tmp_path, torchrun_env, monkeypatch):
    from rlgen.api import load_config, make_experiment
    from rlgen.errors import RlgenError
    from rlgen.seeds import train_seeds
    from rlgen.seeds_queue import train_seed_queue
    from rlgen.sweep import Sweep, SweepConfig

    monkeypatch.chdir(tmp_path)  # logging.dir is runs/
    gan = str(_gan_yaml(tmp_path))
    spec = SweepConfig.model_validate({"config": gan, "study": "s",
                                       "space": {"generator.optim.lr": {"type": "float", "low": 1e-4, "high": 1e-3}}})
    sweep = Sweep(spec, load=load_config, make_experiment=make_experiment)
    monkeypatch.setattr("rlgen.seeds.run_in_processes", _no_processes)
    torchrun_env(**FULL)
    with pytest.raises(RlgenError, match="^rlgen sweep starts its runs itself"):
        sweep.run()
    for call in (lambda: train_seeds(gan, [], [0, 1]),
                 lambda: train_seed_queue(gan, [], [0, 1], f"sqlite:///{tmp_path / 'queue.db'}")):
        with pytest.raises(RlgenError, match="^rlgen train --seeds starts its runs itself"):
            call()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gan.yaml"]


def test_one_torchrun_process_is_not_refused(torchrun_env):
    """torchrun --nproc_per_node 1 asks for one process: its runs share no process group."""
    from rlgen.distributed import refuse_several_processes

    torchrun_env(WORLD_SIZE="1", RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", TORCHELASTIC_RUN_ID="x")
    refuse_several_processes("rlgen sweep", "trials", "-")


def _gan_yaml(tmp_path: Path) -> Path:
    path = tmp_path / "gan.yaml"
    path.write_text("name: gan_tiny\nkind: gan\ndevice: cpu\ndata: {source: ring8}\n"
                    "generator: {backbone: {type: mlp, hidden: [16]}}\n"
                    "discriminator: {backbone: {type: mlp, hidden: [16]}}\n"
                    "train: {total_steps: 20, eval_every: 10, progress: false}\n"
                    "logging: {wandb: {mode: disabled}}\n")
    return path
