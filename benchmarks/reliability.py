"""Reliability: a run killed with SIGKILL again and again, at random moments and during checkpoint
writes, resumed each time, must end with exactly the weights of a run that was never killed.

One config runs twice as `rlgen train` processes with a checkpoint every training unit:

1. straight through, never interrupted;
2. killed N times with SIGKILL (no chance to write a checkpoint or flush anything) and resumed
   with `rlgen train --resume` after each kill. Kill k comes once the run has passed a random step
   in the k-th of N+1 equal stretches of the run (so every kill lands, however fast the machine):
   odd kills then wait a random part of a unit's time; even kills land the instant a checkpoint
   directory is being written (`step_<N>.tmp` exists).
   After every `--damage-every`-th kill the newest checkpoint file is also cut in half, as a
   failing disk would leave it: the resume must notice (checksum) and fall back to the one before.

Printed: kills survived / N (the resume after the kill continued from an intact checkpoint), how
many kills left a half-written checkpoint behind, the largest loss of progress (the newest logged
step minus the step the resume continued from, in steps and in seconds of training), and whether
the final weights, optimizer state, RNGs, envs and eval figures of run 2 equal run 1's, bit for bit.

    python benchmarks/reliability.py                     # 8 kills, PPO CartPole (~2 minutes on 2 cores)
    python benchmarks/reliability.py --kills 20 --seed 3
    python benchmarks/reliability.py --config dqn_cartpole --total-steps 6000 --overrides agent.hyperparams.train_freq=16
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import benchkit
from rlgen import checkpoint, load_config
from rlgen.errors import RlgenError
from rlgen.testing import _differences

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def every_or_never(text: str) -> int:
    """--damage-every: a count, or 0 for never."""
    return 0 if text.strip() == "0" else benchkit.count(text)


def main() -> None:
    args = _parse()
    overrides = _overrides(args)
    with TemporaryDirectory(prefix="rlgen-reliability-") as tmp:
        root = Path(tmp)
        straight = root / "straight"
        t0 = time.perf_counter()
        _finish(_rlgen(["train", args.config, *overrides, "--run-dir", str(straight)], root / "straight.log"),
                root / "straight.log", "the uninterrupted run")
        print(f"uninterrupted run: {time.perf_counter() - t0:.1f} s")
        rate = args.total_steps / max(json.loads((straight / "summary.json").read_text())["wall_time_s"], 1e-9)
        killed = root / "killed"
        tally = _kill_and_resume(args, overrides, root, killed, rate)
        _report(args, straight, killed, rate, tally)


def _parse() -> argparse.Namespace:
    p = benchkit.Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default="ppo_cartpole")
    p.add_argument("--kills", type=benchkit.count, default=8)
    p.add_argument("--total-steps", type=benchkit.count, default=16384)
    p.add_argument("--checkpoint-every", type=benchkit.count, default=512,
                   help="steps; 512 = every PPO unit of ppo_cartpole")
    p.add_argument("--seed", type=benchkit.seed, default=0, help="seeds the kill schedule")
    p.add_argument("--damage-every", type=every_or_never, default=4,
                   help="cut the newest checkpoint short after every Nth kill (0: never)")
    p.add_argument("--overrides", nargs="*", default=[])
    args = p.parse_args()
    load_config(args.config, _overrides(args))  # a bad name or override: one line now, not the child's two
    return args


def _overrides(args: argparse.Namespace) -> list[str]:
    """Both runs' overrides: the user's, then the benchmark's own."""
    return [*args.overrides, *QUIET, "train.early_stop.target=null", f"train.total_steps={args.total_steps}",
            f"train.checkpoint_every={args.checkpoint_every}", "train.eval_every=2048"]


def _kill_and_resume(args: argparse.Namespace, overrides: list[str], root: Path, killed: Path,
                     rate: float) -> dict[str, Any]:
    """Train `killed`, SIGKILL it `args.kills` times (half of them while a checkpoint is being
    written) and resume it each time, to its end; what the kills did."""
    rng = random.Random(args.seed)
    unit_s = args.checkpoint_every / rate  # about one training unit (and one checkpoint) apart
    stretch = args.total_steps / (args.kills + 1)
    targets = [int(rng.uniform(k, k + 1) * stretch) for k in range(args.kills)]
    log = root / "killed-0.log"  # the log of the process now running
    proc = _rlgen(["train", args.config, *overrides, "--run-dir", str(killed)], log)
    tally: dict[str, Any] = {"survived": 0, "half_written": 0, "damaged": 0, "losses": []}
    for k, target in enumerate(targets, 1):
        during_write = k % 2 == 0
        rows_before = len(_rows(killed))
        # past the target step, with at least one unit trained by this process, and a checkpoint to resume from
        if not _wait_for(lambda: _logged(killed) >= target and len(_rows(killed)) > rows_before
                         and checkpoint.latest(killed / "checkpoints") is not None, proc):
            print(f"kill {k}: the run ended before it; stopping here")
            break
        if during_write:
            _wait_for(lambda: any((killed / "checkpoints").glob("*.tmp")), proc, poll=0.0005)
        else:
            time.sleep(rng.uniform(0.0, unit_s))
        if proc.poll() is not None:
            print(f"kill {k}: the run ended before it; stopping here")
            break
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        left = any((killed / "checkpoints").glob("*.tmp"))
        tally["half_written"] += left
        cut = bool(args.damage_every) and k % args.damage_every == 0
        if cut:
            newest = checkpoint.candidates(killed)[0][0] / checkpoint.STATE
            newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
            tally["damaged"] += 1
        logged = _logged(killed)
        log = root / f"killed-{k}.log"
        proc = _rlgen(["train", "--resume", str(killed)], log)
        resumed_at = _resumed_step(log, proc)
        if resumed_at is None:  # it ended without resuming: its own error, or this one
            _finish(proc, log, f"the resume after kill {k}")
            raise RlgenError(f"the resume after kill {k} ended without resuming; its output ends:\n"
                             f"{log.read_text()[-2000:]}")
        tally["survived"] += 1
        tally["losses"].append(max(0, logged - resumed_at))
        print(f"kill {k} ({'during a checkpoint write' if during_write else 'at a random moment'}"
              f"{', left a half-written checkpoint' if left else ''}{', newest checkpoint then cut short' if cut else ''})"
              f": logged up to step {logged:,}, resumed from {resumed_at:,}")
    _finish(proc, log, "the killed run's last process")
    return tally


def _report(args: argparse.Namespace, straight: Path, killed: Path, rate: float, tally: dict[str, Any]) -> None:
    a, b = checkpoint.load(straight), checkpoint.load(killed)
    diff = _differences({**a["experiment"], "rng": a["rng"]}, {**b["experiment"], "rng": b["rng"]}, True,
                        ("uninterrupted", "killed"))
    tensors = _count_tensors(a["experiment"]["params"]) if "params" in a["experiment"] else None
    same_evals = _evals(straight) == _evals(killed)
    worst = max(tally["losses"], default=0)
    print()
    print(f"kills survived: {tally['survived']} / {args.kills}")
    print(f"kills that left a half-written checkpoint: {tally['half_written']}; newest checkpoints cut short after "
          f"a kill: {tally['damaged']} (each detected, the one before used)")
    print(f"largest loss of progress: {worst:,} steps (~{worst / rate:.2f} s of training at {rate:,.0f} steps/s)")
    print(f"final step: {b['global_step']:,} (uninterrupted: {a['global_step']:,})")
    equal = "yes" if not diff else f"no ({len(diff)} entries differ, e.g. {diff[0][0]}: {diff[0][1]})"
    print(f"final state equals the uninterrupted run's, bit for bit: {equal}"
          + (f" ({tensors} weight and optimizer tensors, envs, RNGs)" if tensors and not diff else ""))
    print(f"eval figures equal at every evaluation: {'yes' if same_evals else 'no'}")


def _finish(proc: subprocess.Popen, log: Path, what: str) -> None:
    """Wait for an `rlgen train` process; a failed one stops the benchmark with the end of its log
    (the log is in a temporary folder, gone once the benchmark exits), an interrupted one as a signal would."""
    benchkit.check_process(proc.wait(), log.read_text(), what)


def _rlgen(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "w") as out:
        return benchkit.spawn([sys.executable, "-m", "rlgen", *args], stdout=out, stderr=subprocess.STDOUT,
                              env={**os.environ, "COLUMNS": "1000"})


def _wait_for(condition, proc: subprocess.Popen, poll: float = 0.05) -> bool:
    """Until `condition()` holds (True) or the process ends (False)."""
    while not condition():
        if proc.poll() is not None:
            return condition()
        time.sleep(poll)
    return True


def _rows(run_dir: Path) -> list[dict]:
    rows = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines() if (run_dir / "metrics.jsonl").exists() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass  # a row cut short by the kill
    return rows


def _logged(run_dir: Path) -> int:
    return max((r["global_step"] for r in _rows(run_dir)), default=0)


def _resumed_step(log: Path, proc: subprocess.Popen) -> int | None:
    """The step a resumed process continued from (its "resumed from step N" line); None if it ended without."""
    while True:
        found = re.search(r"resumed from step ([\d,]+)", log.read_text())
        if found:
            return int(found[1].replace(",", ""))
        if proc.poll() is not None and not re.search(r"resumed from step", log.read_text()):
            return None
        time.sleep(0.05)


def _evals(run_dir: Path) -> dict[int, dict]:
    return {r["global_step"]: {k: v for k, v in r.items() if k.startswith("eval/") and k != "eval/wall_time_s"}
            for r in _rows(run_dir) if "eval/wall_time_s" in r}


def _count_tensors(tree) -> int:
    import torch

    if isinstance(tree, torch.Tensor):
        return 1
    if isinstance(tree, dict):
        return sum(_count_tensors(v) for v in tree.values())
    return 0


if __name__ == "__main__":
    benchkit.main(main)
