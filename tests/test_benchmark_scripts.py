"""The benchmark scripts' edges: a bad argument is one line and exit 2, a run cut short by Ctrl-C or
SIGTERM stops the script (130 / 143) instead of being scored, a failed child run shows its error.

Each script runs in this process, as `python benchmarks/NAME.py` runs it (its `__main__` block);
only the signal tests train, a few steps.
"""

import os
import runpy
import signal
import subprocess
import sys
import tempfile
import time
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
])
def test_rlgen_refusing_a_config_is_one_line_before_any_run(name, argv, said, monkeypatch, capsys):
    code, err = script_exit(name, argv, monkeypatch, capsys)
    assert code == 2
    assert err.startswith("error: ") and "Traceback" not in err and said in err, err


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
import pathlib, signal, sys, time
got = []
for s in (signal.SIGINT, signal.SIGTERM):
    signal.signal(s, lambda signum, frame: got.append(signum))
print("ready", flush=True)
while not got:
    time.sleep(0.01)
time.sleep(0.3)  # the checkpoint being written, into the script's temporary folder
pathlib.Path(sys.argv[1]).write_text("checkpoint")
time.sleep(0.2)  # a second signal would land here
sys.exit(128 + got[0] if len(got) == 1 else 99)
"""


@pytest.mark.parametrize("signum, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_to_the_script_reaches_each_child_once_and_is_waited_for(tmp_path, signum, code):
    """Before, Ctrl-C reached the children from the terminal (SIGTERM not at all) and the script's
    temporary folders were removed while a child still wrote its last checkpoint into one."""
    started = []

    def script():
        with tempfile.TemporaryDirectory(dir=tmp_path) as tmp:
            proc = benchkit.spawn([sys.executable, "-c", CHILD, f"{tmp}/state"], stdout=subprocess.PIPE, text=True)
            started.append((proc, tmp))
            assert proc.stdout.readline() == "ready\n"
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
    (it was a FileNotFoundError on summary.json)."""
    code, err = script_exit("reliability", ["--config", "nosuch", "--kills", "1"], monkeypatch, capsys)
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
