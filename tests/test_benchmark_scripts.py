"""The benchmark scripts' edges: a bad argument is one line and exit 2, a run cut short by Ctrl-C or
SIGTERM stops the script (130 / 143) instead of being scored, a failed child run shows its error.

Each script runs in this process, as `python benchmarks/NAME.py` runs it (its `__main__` block);
only the signal tests and the raw SB3 ones train, a few steps.
"""

import json
import os
import re
import runpy
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

import pytest

from tests.bench import BENCHMARKS, load

benchkit = load("benchkit")


def script_exit(name: str, argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """Run benchmarks/NAME.py as a script with `argv` as its command line: (exit code, stderr)."""
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *argv])
    with pytest.raises(SystemExit) as ended:
        runpy.run_path(str(BENCHMARKS / f"{name}.py"), run_name="__main__")
    return ended.value.code, capsys.readouterr().err


def main_exit(name: str, argv: list[str], monkeypatch, capsys) -> tuple[int, str]:
    """benchmarks/NAME.py's main, loaded as a module (to patch what it calls), as its script runs it."""
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *argv])
    with pytest.raises(SystemExit) as ended:
        benchkit.main(load(name).main)
    return ended.value.code, capsys.readouterr().err


@pytest.mark.parametrize("name, argv, said", [
    ("zoo", ["--configs", "ppo/CartPole-v1@abc"], "fraction of rl-zoo3's in (0, 1]"),
    ("zoo", ["--configs", "ppo/CartPole-v1@1.5"], "fraction of rl-zoo3's in (0, 1]"),
    ("scale", ["--workers", "x"], "whole numbers >= 1 separated by commas"),
    ("gpu", ["--device", "nosuch"], "device must be auto, cpu, mps, cuda or cuda:N"),
    ("gpu", ["--gan-steps", "0"], "must be 1 or more, got"),
    ("cartpole_time_to_solve", ["--seeds", "abc"], "expected seeds like 0,1,2"),
    ("memory", ["--steps", "-5"], "must be 1 or more, got"),
    ("gan_ring", ["--steps", "0"], "must be 1 or more, got"),  # 0 trained the config's 20,000 steps
    ("gan_digits", ["--steps", "0"], "must be 1 or more, got"),
    ("gan_digits", ["--seeds", "0,x"], "expected seeds like 0,1,2"),
    ("teams", ["--seeds", "abc"], "expected seeds like 0,1,2"),
    ("teams", ["--checkpoint", "bogus"], "latest, best or step_N"),
    ("selfplay", ["--run", "/nonexistent"], "no such directory"),
    ("transfer", ["--games", "NoSuchGame"], "invalid choice: 'NoSuchGame'"),
    ("imitation", ["--demos", "11"], "10 are recorded"),
    ("reliability", ["--kills", "0"], "must be 1 or more, got"),
    ("cartpole_time_to_solve", ["--only-fps", "optim.lr=1e-3"], "drop optim.lr=1e-3 or --only-fps"),
    # SB3's arm evaluated every 7 // 8 = 0 calls: never
    ("cartpole_time_to_solve", ["--eval-every", "7"], "--eval-every 7 is not a multiple of 8"),
    ("cartpole_time_to_solve", ["--eval-every", "2050"], "give e.g. 2056"),
    ("gpu", ["--reference", "/nonexistent/gpu.json"], "No such file or directory"),  # a traceback, after sections
    # --run with nothing after it trained everything; --seeds and overrides with --run were ignored
    ("selfplay", ["--run"], "expected at least one argument"),
    ("teams", ["--run"], "expected at least one argument"),
    ("selfplay", ["--run", str(BENCHMARKS), "--seeds", "0"], "drop --seeds, or --run"),
    ("selfplay", ["--run", str(BENCHMARKS), "--parallel", "2"], "give --seeds, or drop --parallel"),  # was ignored
    ("selfplay", ["--configs", "selfplay_tictactoe", "--parallel", "2"], "give --seeds, or drop --parallel"),
    ("selfplay", ["--configs", "selfplay_tictactoe", "seed=1", "--run", str(BENCHMARKS)],
     "drop --configs seed=1, or --run"),
    ("teams", ["--seeds", "0", "--run", str(BENCHMARKS)], "drop --seeds, or --run"),
    ("teams", ["seed=1", "--run", str(BENCHMARKS)], "drop seed=1, or --run"),
    ("gan_ring", ["--speed-rounds", "1", "--steps", "20", "--plain-steps", "5", "--seeds", "7"],
     "drop --seeds and --plain-steps, or --speed-rounds"),
    ("gpu_carry", ["--bogus"], "unrecognized arguments: --bogus"),  # was argparse's usage block
    # checked after every download, or never
    ("gpu_carry", ["--check-imports", "/nonexistent/python3.12"], "/nonexistent/python3.12: no such program"),
    ("gpu_carry", ["--check-imports", sys.executable], f"is not Python 3.12 ({sys.version_info[0]}.{sys.version_info[1]})"),
    # an output path that cannot be written was a traceback after the first seed or section had trained
    ("teams", ["--json", str(BENCHMARKS / "teams.py" / "t.json")], "teams.py is a file, so no folder can be made"),
    ("gpu", ["--out", str(BENCHMARKS / "gpu.py" / "x.json")], "gpu.py is a file, so no folder can be made"),
    ("gpu", ["--out", str(BENCHMARKS)], "is a folder; give a file path in it"),
    ("gan_digits", ["--grid", str(BENCHMARKS / "gan_digits.py" / "g.png")], "is a file, so no folder can be made"),
    ("gan_digits", ["--out", str(BENCHMARKS / "gan_digits.py")], "gan_digits.py is a file; give a folder"),
    ("imitation", ["--venv", str(BENCHMARKS / "imitation.py")], "imitation.py is a file; give a folder"),
    ("gpu", ["--pixel-env", "atari"], "invalid choice: 'atari'"),
    # a seed or config given twice trained twice
    ("gan_digits", ["--seeds", "1", "1,2"], "--seeds lists 1 twice; give each once"),
    ("gan_digits", ["--configs", "gan_digits_dcgan", "gan_digits_dcgan"], "--configs lists gan_digits_dcgan twice"),
    ("configs_on_seeds", ["--configs", "sac_pendulum", "sac_pendulum"], "--configs lists sac_pendulum twice"),
    ("selfplay", ["--configs", "selfplay_tictactoe", "selfplay_tictactoe"], "--configs lists selfplay_tictactoe twice"),
    ("zoo", ["--configs", "ppo/CartPole-v1", "ppo/CartPole-v1"], "--configs lists ppo/CartPole-v1 twice"),
    ("gan_ring", ["--seeds", "0", "0"], "--seeds lists 0 twice"),
    ("zoo", ["--seeds", "0", "0"], "--seeds lists 0 twice"),
    ("memory", ["--seeds", "2", "2"], "--seeds lists 2 twice"),
    ("transfer", ["--seeds", "0", "1", "0"], "--seeds lists 0 twice"),
    ("imitation", ["--seeds", "0", "0"], "--seeds lists 0 twice"),
    ("imitation", ["--methods", "b", "b"], "--methods lists b twice"),
    ("gpu", ["--only", "auto", "auto"], "--only lists auto twice"),
])
def test_a_bad_argument_is_one_line_and_exit_2(name, argv, said, monkeypatch, capsys):
    code, err = script_exit(name, argv, monkeypatch, capsys)
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and said in err, err


@pytest.mark.parametrize("name, argv, said", [
    ("configs_on_seeds", ["--configs", "nosuch"], "config file not found: nosuch"),
    ("gan_digits", ["--configs", "nosuch"], "config file not found"),
    ("zoo", ["--configs", "ppo/NoSuchEnv-v1"], "unknown gymnasium env id 'NoSuchEnv-v1'"),
    ("selfplay", ["--configs", "selfplay_tictactoe", "nosuch.key=1"], "nosuch: unknown key"),
    ("teams", ["nosuch.key=1"], "nosuch: unknown key"),
    ("cartpole_time_to_solve", ["--seeds", "0", "nosuch.key=1"], "nosuch: unknown key"),
    # refused by the child process only, in two lines
    ("reliability", ["--overrides", "train.bogus=1"], "train.bogus: unknown key"),
    ("reliability", ["--config", "nosuch"], "config file not found: nosuch"),
    # trained, then a KeyError on eval/frechet
    ("gan_digits", ["--configs", "gan_ring8", "--steps", "10"],
     "gan_ring8 (kind gan, data.source ring8) logs no eval/frechet"),
])
def test_rlgen_refusing_a_config_is_one_line_before_any_run(name, argv, said, monkeypatch, capsys):
    code, err = script_exit(name, argv, monkeypatch, capsys)
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1 and said in err, err


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_run_cut_short_by_a_signal_stops_the_script(signum, code, monkeypatch, capsys):
    """The signal comes during the run's evaluation: the run still ends (rlgen.train returns), and
    the script must neither score it nor go on to the plain loop and the next seed."""
    import rlgen

    gan_ring = load("gan_ring")

    def signalled(config, overrides):
        return rlgen.train(config, overrides, on_eval=lambda step, metrics: os.kill(os.getpid(), signum))

    plain = []
    monkeypatch.setattr(gan_ring, "train", signalled)
    monkeypatch.setattr(gan_ring, "plain_run", lambda *a: plain.append(a))
    got, err = main_exit("gan_ring", ["--seeds", "0", "1", "--steps", "20"], monkeypatch, capsys)
    assert got == code and not plain
    assert f"{signal.Signals(signum).name}: the benchmark stopped" in err


def test_a_signal_outside_a_run_stops_the_script_too(monkeypatch, capsys):
    """SIGTERM between runs (here in the plain torch loop) exits 143 through the script's cleanup."""
    gan_ring = load("gan_ring")
    monkeypatch.setattr(gan_ring, "rlgen_run", lambda *a: {"modes": 8, "hq": 1.0, "sps": 1.0})
    monkeypatch.setattr(gan_ring, "plain_run", lambda *a: os.kill(os.getpid(), signal.SIGTERM))
    before = signal.getsignal(signal.SIGTERM)
    got, err = main_exit("gan_ring", ["--seeds", "0", "--steps", "20"], monkeypatch, capsys)
    assert got == 143 and "SIGTERM: the benchmark stopped" in err
    assert signal.getsignal(signal.SIGTERM) == before  # handed back


# a child that takes a while to write its "checkpoint" after a signal, and says how many signals it got
CHILD = """
import os, pathlib, signal, sys, time
got = []
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda signum, frame: got.append(signum))
print("ready", flush=True)
if len(sys.argv) > 2:  # signal the script itself, once it waits for this process in `proc.wait()`
    time.sleep(0.3)
    os.kill(os.getppid(), int(sys.argv[2]))
while not got:
    time.sleep(0.01)
time.sleep(0.3)  # the checkpoint being written, into the script's temporary folder
pathlib.Path(sys.argv[1]).write_text("checkpoint")
time.sleep(0.2)  # a second signal would land here
sys.exit(128 + got[0] if len(got) == 1 else 99)
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
@pytest.mark.parametrize("in_wait", [False, True])
def test_a_signal_to_the_script_reaches_each_child_once_and_is_waited_for(tmp_path, signum, code, in_wait):
    """Before, Ctrl-C reached the children from the terminal (SIGTERM not at all) and the script's
    temporary folders were removed while a child still wrote its last checkpoint into one. A signal
    landing in the script's own `proc.wait()` (as reliability.py waits for its runs) hung it forever."""
    started = []

    def script():
        with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
            argv = [sys.executable, "-c", CHILD, f"{tmp}/state", *([str(int(signum))] if in_wait else [])]
            proc = benchkit.spawn(argv, stdout=subprocess.PIPE, text=True)
            started.append((proc, tmp))
            assert proc.stdout.readline() == "ready\n"
            if in_wait:
                proc.wait()  # the child signals the script while it waits here
            else:
                os.kill(os.getpid(), signum)
            time.sleep(10)  # the signal stops the script before this ends

    try:
        with pytest.raises(SystemExit) as ended:
            benchkit.main(script)
        proc, tmp = started[0]
        assert ended.value.code == code
        assert proc.returncode == 128 + signum  # waited for; one signal; its checkpoint written before the cleanup
        assert not Path(tmp).exists()
    finally:
        for proc, _ in started:
            proc.kill()
            proc.wait()


def test_only_completed_or_stopped_early_runs_are_results():
    assert benchkit.check_ended({"status": "stopped_early"}, 0, "runs/a")["status"] == "stopped_early"
    with pytest.raises(benchkit.RlgenError, match="ended 'pruned'"):
        benchkit.check_ended({"status": "pruned"}, 0, "runs/a")
    assert benchkit.check_ended({"status": "pruned"}, 0, "runs/a", ended=("pruned",))
    with pytest.raises(KeyboardInterrupt) as stopped:  # a signal during the evaluation that ended it
        benchkit.check_ended({"status": "stopped_early"}, 143, "runs/a")
    assert stopped.value.signum == signal.SIGTERM


def test_a_child_process_that_failed_or_was_stopped():
    benchkit.check_process(0, "", "run")
    for rc, signum in ((130, signal.SIGINT), (143, signal.SIGTERM), (-signal.SIGINT, signal.SIGINT)):
        with pytest.raises(KeyboardInterrupt) as stopped:
            benchkit.check_process(rc, "", "run")
        assert stopped.value.signum == signum
    with pytest.raises(benchkit.RlgenError, match=r"run failed \(exit code 2\); its output ends:\n  some line\n  error: bad"):
        benchkit.check_process(2, "some line\nerror: bad\n", "run")


def test_reliability_shows_a_failed_runs_error(monkeypatch, capsys):
    """The uninterrupted run's log lived in a temporary folder: its error line must reach the user
    (it was a FileNotFoundError on summary.json). The script's own check of the config is skipped
    here, so that the child process is the one to fail."""
    monkeypatch.setattr(load("reliability"), "load_config", lambda *a: None)
    code, err = main_exit("reliability", ["--config", "nosuch", "--kills", "1"], monkeypatch, capsys)
    assert code == 2 and "the uninterrupted run failed (exit code 2)" in err
    assert "config file not found: nosuch" in err and "Traceback" not in err


def test_steps_to_solve_count_only_solved_runs(capsys):
    """An unsolved run stopped at its budget: its steps are no steps to solve."""
    cartpole = load("cartpole_time_to_solve")
    rows = {"sb3_t": [1.0, None], "sb3_n": [1_000, 100_000], "rl_t": [0.5, 0.6], "rl_n": [800, 900],
            "sb3_fps": [], "rl_fps": []}
    args = cartpole.argparse.Namespace(eval_every=2048, fps_steps=0)
    cartpole._report(cartpole.Console(width=200), rows, [0, 1], args)
    out = capsys.readouterr().out
    steps_row = next(line for line in out.splitlines() if "median env steps to solve" in line)
    assert "50,500" not in steps_row and "unsolved" in steps_row and "850" in steps_row
    solved_row = next(line for line in out.splitlines() if "seeds solved" in line)
    assert "1 of 2" in solved_row and "2 of 2" in solved_row


def test_a_step_budget_may_pass_a_million():
    import benchkit

    assert benchkit.count("2500000") == 2_500_000


def test_the_throughput_arm_says_nothing_of_its_stubbed_evaluation(tmp_path):
    """Its final evaluation is stubbed out of the clock, and logged no early-stop metric: the runner's
    warning of that (a real one for a user's run) was printed into the benchmark's output."""
    from rlgen.logging import console

    cartpole = load("cartpole_time_to_solve")
    with console.capture() as said:
        assert cartpole.rlgen_steps_per_s(0, 64, str(tmp_path)) > 0
    assert "warning" not in said.get()
    assert not console.quiet  # given back


def test_gpu_refuses_a_broken_reference_before_any_section(tmp_path, monkeypatch, capsys):
    """A truncated --reference was a traceback once the sections before the PPO ones had run."""
    ref = tmp_path / "gpu.json"
    ref.write_text('{"host": "box", "rows": [')
    code, err = script_exit("gpu", ["--device", "cpu", "--reference", str(ref)], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{ref} is not JSON" in err, err
    ref.write_text('{"host": "box", "rows": [{"section": "ppo_cnn"}]}')
    code, err = script_exit("gpu", ["--device", "cpu", "--reference", str(ref)], monkeypatch, capsys)
    assert code == 2 and "needs a host and rows with section, arm, device" in err, err
    bundled = BENCHMARKS / "gpu_reference_cpu.json"
    assert load("gpu").parse(["--reference", str(bundled)]).reference == bundled


def tiny_ppo():
    """Raw SB3 PPO on CartPole, 2 envs x 16 steps a rollout."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    return PPO("MlpPolicy", make_vec_env("CartPole-v1", n_envs=2, seed=0), n_steps=16, batch_size=32, n_epochs=1,
               seed=0, device="cpu")


def no_sb3_folders(tmp_path, monkeypatch):
    """Where SB3's default logger would make its /tmp/SB3-<date> folders: a list of those made."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.delenv("SB3_LOGDIR", raising=False)
    return lambda: sorted(p.name for p in tmp_path.glob("SB3-*"))


def test_transfers_sb3_speed_counts_the_steps_it_ran_and_logs_nowhere(tmp_path, monkeypatch):
    """SB3 runs whole rollouts: 10 steps asked ran 32, and the table divided 10 by their time. Its
    default logger left an empty /tmp/SB3-<date> folder each run."""
    transfer = load("transfer")
    made = no_sb3_folders(tmp_path, monkeypatch)
    clock = iter([0.0, 1.0])  # the timed learn() takes 1 s
    monkeypatch.setattr(transfer, "time", types.SimpleNamespace(perf_counter=lambda: next(clock)))
    assert transfer.sb3_rate(tiny_ppo(), 10) == 32
    assert made() == []


def test_cartpoles_sb3_arms_log_nowhere(tmp_path, monkeypatch):
    cartpole = load("cartpole_time_to_solve")
    made = no_sb3_folders(tmp_path, monkeypatch)
    assert cartpole.sb3_steps_per_s(0, 64) > 0
    cartpole.sb3_time_to_solve(0, 256, 256)
    assert made() == []


def test_a_config_without_a_target_meets_none(tmp_path, monkeypatch, capsys):
    """With train.early_stop.target=null every seed read "met", and "at or above the target on 1 of 1"."""
    configs_on_seeds = load("configs_on_seeds")
    run = tmp_path / "run"
    run.mkdir()
    (run / "summary.json").write_text(json.dumps({"status": "completed", "target": None, "target_reached": None,
                                                  "wall_time_s": 1.0, "best": {"value": 9.0}}))
    monkeypatch.setattr(configs_on_seeds, "train_seeds", lambda *a: [run])
    monkeypatch.setattr(configs_on_seeds, "fresh_eval", lambda *a: ("best", 512, [10.0, 12.0]))
    monkeypatch.setattr(sys, "argv", ["configs_on_seeds.py", "--configs", "ppo_cartpole", "--seeds", "100",
                                      "train.early_stop.target=null"])
    with pytest.raises(SystemExit) as ended:
        benchkit.main(configs_on_seeds.main)
    out = capsys.readouterr().out
    assert ended.value.code == 0
    row = next(line for line in out.splitlines() if "ppo_cartpole" in line and "100" in line)
    assert "met" not in row and "missed" not in row and row.rstrip(" │|").endswith("-"), out
    assert "ppo_cartpole: no train.early_stop.target, so nothing to meet" in out
    assert "at or above the target" not in out


def test_a_quiet_script_gets_no_sweep_tables(capsys):
    """scale.py silences rlgen's console during its in-process sweeps; the sweep's status table went
    to stderr all the same, through a console of its own."""
    scale = load("scale")
    assert scale.per_trial(None, 1) > 0
    assert capsys.readouterr().err == ""


def test_teams_help_says_how_the_best_checkpoint_is_kept(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["teams.py", "-h"])
    with pytest.raises(SystemExit):
        runpy.run_path(str(BENCHMARKS / "teams.py"), run_name="__main__")
    said = " ".join(capsys.readouterr().out.split())
    assert "eval/score_min" in said and "random prey alone" not in said


ADVERSARY = ["game.name=simple_adversary_v3", "league.references=[random]", "ratings.baselines=[random]"]
NO_CHASER = "simple_adversary_v3 has no chaser or evader (its players: random)"


def test_teams_refuses_a_game_without_chaser_and_evader_before_training(monkeypatch, capsys, tmp_path):
    teams = load("teams")
    monkeypatch.setattr(teams, "train", lambda seed, overrides: pytest.fail("trained a run it cannot measure"))
    monkeypatch.chdir(tmp_path)
    code, err = main_exit("teams", ["--seeds", "0", *ADVERSARY], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and NO_CHASER in err, err


def test_teams_refuses_such_a_run_before_measuring_any(monkeypatch, capsys, tmp_path):
    import rlgen

    run = rlgen.train("teams_simple_tag", [*ADVERSARY, "logging.wandb.mode=disabled", "train.progress=false",
                                           "game.copies=1", "agent.hyperparams.n_steps=8",
                                           "agent.hyperparams.batch_size=8", "train.total_steps=8",
                                           "train.eval_every=8", "ratings.episodes=1", "ratings.games_per_pair=1"],
                      run_dir=tmp_path / "adversary")
    assert run.exit_code == 0
    capsys.readouterr()  # the training's own lines
    monkeypatch.setattr(load("teams"), "measure", lambda *a: pytest.fail("measured a run it cannot measure"))
    code, err = main_exit("teams", ["--run", str(run.run_dir)], monkeypatch, capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and f"{run.run_dir}: " in err and NO_CHASER in err, err


def make(*args: str) -> str:
    return subprocess.run(["make", "-s", "-C", str(BENCHMARKS.parent), *args], capture_output=True, text=True,
                          check=True).stdout


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_make_help_lists_every_target_with_a_help_comment():
    makefile = (BENCHMARKS.parent / "Makefile").read_text()
    documented = re.findall(r"^([a-z-]+):.*## ", makefile, re.MULTILINE)
    listed = [line.split()[0] for line in make("help").splitlines()]
    assert listed == documented and {"help", "demo", "test", "bench", "bench-all"} <= set(listed)


@pytest.mark.skipif(shutil.which("make") is None, reason="no make here")
def test_bench_all_runs_every_cpu_benchmark_and_lists_those_that_failed(tmp_path):
    """The README says `make bench-all` runs every one: all but those named here, and gan_ring.py as
    the README's figures ran it. One that fails (gan_digits.py exits 1 when a config misses on a
    seed) stopped every benchmark after it; now they all run and the failures are listed at the end.
    PY is a stand-in that logs its arguments (`-o install`: the venv is left alone)."""
    log, python = tmp_path / "ran.log", tmp_path / "python"
    python.write_text(f'#!/bin/sh\necho "$*" >> {log}\ncase "$1" in *gan_digits*) exit 1;; esac\n')
    python.chmod(0o755)
    done = subprocess.run(["make", "-s", "-C", str(BENCHMARKS.parent), "-o", "install", "bench-all", f"PY={python}"],
                          capture_output=True, text=True)
    commands = log.read_text().splitlines()
    own = {"benchkit", "gpu_carry", "gpu", "gpu_table", "teams"}  # no benchmark; `make gpu-carry`; a GPU's (and its table); hours
    assert {Path(c.split()[0]).stem for c in commands} == {p.stem for p in BENCHMARKS.glob("*.py")} - own
    assert "benchmarks/gan_ring.py --steps 20000 --plain-steps 500" in commands
    assert done.returncode != 0 and "these benchmarks failed:\n  gan_digits.py (exit 1)\n" in done.stdout, done.stdout


def test_cartpole_only_fps_takes_any_eval_every(monkeypatch):
    """--only-fps evaluates in neither library: its --eval-every is not SB3's EvalCallback's to refuse."""
    monkeypatch.setattr(sys, "argv", ["cartpole_time_to_solve.py", "--only-fps", "--eval-every", "100"])
    assert load("cartpole_time_to_solve").parse().eval_every == 100
