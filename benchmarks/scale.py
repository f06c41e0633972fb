"""Past one machine (issue 14): a sweep spread over workers on PostgreSQL, and what the storage costs.

1. Wall time of one 12-trial `rlgen sweep` of PPO on CartPole (8,192 steps a trial, pruning and
   early stopping off so that every trial does the same work) with 1, 2 and 4 workers, each an
   `rlgen sweep SWEEP.yaml --storage postgresql://...` process, as on separate machines. Reported:
   wall time, speed-up over 1 worker, worker-seconds per trial (wall x workers / trials: the cost of
   a trial including its share of process start-up and waiting), and the mean trial duration as the
   study recorded it, and the workers' CPU time: per trial (start-up included) and in cores used
   (CPU time / wall time), which tells a machine busy with other work from a slow queue. Each
   worker trains with one torch thread, so on an idle 2-core machine the speed-up should stop at 2.
2. Storage overhead per trial, in one process, on SQLite and on PostgreSQL: (a) the worker loop
   with trials that only make a real trial's database calls (claim a slot, a parameter, 5 reports
   and pruning checks, user attributes, the result), and (b) full sweep trials of the tests' toy
   kind, which trains nothing (5 units, 5 evaluations reported, 5 checkpoints): the runner's own
   work per trial (run directory, checkpoints, summary) beside the database's.

The PostgreSQL server is a throwaway one started here from Debian's binaries (tests/postgres.py;
`apt-get install postgresql`), with its default durability (fsync on), or `--postgres URL`.

    nice -n 10 python benchmarks/scale.py                  # ~3 minutes on 2 quiet cores, 5-6 busy
    python benchmarks/scale.py --workers 1,2 --trials 6 --steps 4096
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests/postgres.py (the throwaway server), tests/compare/toy.py (a null kind)

import benchkit  # noqa: E402
from rlgen.errors import RlgenError  # noqa: E402
from rlgen.logging import console  # noqa: E402
from rlgen.sweep import Sweep, SweepConfig  # noqa: E402
from tests.compare.toy import Toy, load_toy, toy_config  # noqa: E402  (a kind that trains nothing)

out = Console(highlight=False, width=150)  # the tables whole, in a terminal or a log file


def cartpole_sweep(folder: Path, trials: int, steps: int) -> Path:
    path = folder / "scale.yaml"
    path.write_text(yaml.safe_dump({
        "config": "ppo_cartpole", "study": "scale", "n_trials": trials,
        "overrides": [f"train.total_steps={steps}", f"train.eval_every={steps}", "train.eval_episodes=5",
                      "train.early_stop.target=null", "train.threads=1", "logging.console=false",
                      "logging.wandb.mode=disabled", f"logging.dir={folder / 'runs'}"],
        "sampler": {"type": "random", "seed": 0}, "pruner": {"type": "none"},
        "space": {"optim.lr": {"type": "float", "low": 3e-4, "high": 3e-3, "log": True},
                  "agent.hyperparams.gamma": {"type": "float", "low": 0.95, "high": 0.99}},
    }))
    return path


def spread(url: str, workers: int, trials: int, steps: int) -> dict[str, Any]:
    """One study, `workers` processes; wall time from the first start to the last exit."""
    import optuna

    with tempfile.TemporaryDirectory(prefix="rlgen-scale-") as tmp:
        path = cartpole_sweep(Path(tmp), trials, steps)
        env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200"}
        cpu0 = _children_cpu()
        t0 = time.perf_counter()
        procs = [benchkit.spawn([sys.executable, "-m", "rlgen", "sweep", str(path), "--storage", url], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                 for _ in range(workers)]
        errors = [p.communicate()[1] for p in procs]
        wall = time.perf_counter() - t0
        cpu = _children_cpu() - cpu0
        for i, (p, e) in enumerate(zip(procs, errors)):
            benchkit.check_process(p.returncode, e, f"sweep worker {i + 1} of {workers}")
        study = optuna.load_study(study_name="scale", storage=url)
        done = [t for t in study.trials if t.state.name == "COMPLETE"]
        durations = [(t.datetime_complete - t.datetime_start).total_seconds() for t in done]
        optuna.delete_study(study_name="scale", storage=url)
    return {"workers": workers, "wall": wall, "cpu": cpu, "complete": len(done), "trial_s": statistics.mean(durations),
            "by": len({t.user_attrs["worker"] for t in done})}


def _children_cpu() -> float:
    """CPU seconds (user + system) of the finished child processes so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def per_trial(url: str | None, trials: int) -> float:
    """Seconds per null trial of an in-process sweep on `url` (None: SQLite in the study folder)."""
    with tempfile.TemporaryDirectory(prefix="rlgen-scale-") as tmp:
        base = Path(tmp) / "null.yaml"
        base.write_text(yaml.safe_dump(toy_config(Path(tmp))))
        spec = SweepConfig.model_validate({"config": str(base), "study": f"null_{secrets.token_hex(3)}",
                                           "storage": url, "n_trials": trials, "pruner": {"type": "median"},
                                           "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}})
        sweep = Sweep(spec, load=load_toy, make_experiment=Toy)
        console.quiet = True  # the sweep's own lines are not the result
        try:
            t0 = time.perf_counter()
            sweep.run()
            return (time.perf_counter() - t0) / trials
        finally:
            console.quiet = False


def storage_only(url: str | None, trials: int, folder: Path) -> float:
    """Seconds per trial of the queue's own database calls alone: the worker loop (`work`) with a
    trial that only talks to Optuna as a real one does (a parameter, 5 reports and pruning
    checks, its user attributes) and trains nothing."""
    from rlgen.study_queue import HeartbeatConfig, open_study, work

    url = url or f"sqlite:///{folder / f'ops_{secrets.token_hex(3)}.db'}"
    study = open_study(f"ops_{secrets.token_hex(3)}", url, direction="maximize", heartbeat=HeartbeatConfig())

    def run(trial: Any, index: int) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("run_dir", f"runs/ops/{trial.number}")
        for step in range(10, 60, 10):
            trial.report(x * step, step)
            trial.should_prune()
        trial.set_user_attr("status", "completed")
        trial.set_user_attr("global_step", 50)
        return x * 50

    t0 = time.perf_counter()
    work(study, trials, run)
    return (time.perf_counter() - t0) / trials


def start_server(postgres: Any) -> tuple[str, Path]:
    """A throwaway server's URL and data folder; a machine without PostgreSQL is one line (its text says
    how to install it), not a traceback."""
    try:
        return postgres.start(durable=True)
    except RuntimeError as e:
        raise RlgenError(f"{e}; or give a server with --postgres postgresql://USER@HOST:PORT/DB") from None
    except subprocess.CalledProcessError as e:
        last = (e.stderr or "").strip().splitlines()[-1:] or ["no output"]
        raise RlgenError(f"starting PostgreSQL failed (exit code {e.returncode}): {last[0]}") from None


def new_database(postgres: Any, server: str, given: bool) -> str:
    """A fresh database on `server`, its URL; a server that cannot be reached is one line."""
    import psycopg

    try:
        return postgres.create_database(server, f"scale_{secrets.token_hex(3)}")
    except psycopg.Error as e:
        where = f"--postgres {server}" if given else f"the server started here ({server})"
        reason = " ".join(str(e).split())  # psycopg's message spans lines
        raise RlgenError(f"{where}: cannot create a database there: {reason}") from None


def main() -> None:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workers", type=benchkit.counts, default="1,2,4", help="worker counts to time, e.g. 1,2,4")
    p.add_argument("--trials", type=benchkit.count, default=12)
    p.add_argument("--steps", type=benchkit.count, default=8192, help="PPO steps per trial")
    p.add_argument("--null-trials", type=benchkit.count, default=40)
    p.add_argument("--postgres", help="a server URL (default: a throwaway server started here)")
    args = p.parse_args()

    from tests import postgres

    data = None
    server = args.postgres
    if server is None:
        server, data = start_server(postgres)
    try:
        url = new_database(postgres, server, bool(args.postgres))
        out.print(f"PostgreSQL {url}; {os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.2f}; "
                  f"{args.trials} trials of {args.steps:,} PPO steps")
        rows = [spread(url, w, args.trials, args.steps) for w in args.workers]
        table = Table(title=f"{args.trials}-trial sweep, PPO CartPole {args.steps:,} steps a trial, PostgreSQL")
        for col in ("workers", "wall (s)", "speed-up", "worker-s / trial", "mean trial (s)", "CPU s / trial",
                    "cores used", "trials", "workers used"):
            table.add_column(col, justify="right")
        for r in rows:
            table.add_row(str(r["workers"]), f"{r['wall']:.1f}", f"{rows[0]['wall'] / r['wall']:.2f}x",
                          f"{r['wall'] * r['workers'] / args.trials:.2f}", f"{r['trial_s']:.2f}",
                          f"{r['cpu'] / args.trials:.2f}", f"{r['cpu'] / r['wall']:.2f}", str(r["complete"]),
                          str(r["by"]))
        out.print(table)

        per_trial(None, 3)  # warm-up: imports, first database connections
        with tempfile.TemporaryDirectory(prefix="rlgen-scale-") as tmp:
            ops = {name: statistics.median(storage_only(u, args.null_trials, Path(tmp)) for _ in range(3))
                   for name, u in (("sqlite", None), ("pg", url))}
        null = {name: statistics.median(per_trial(u, args.null_trials) for _ in range(3))
                for name, u in (("sqlite", None), ("pg", url))}
        table = Table(title=f"per trial, in one process: {args.null_trials} trials, median of 3 repeats")
        for col in ("storage", "database calls alone (ms)", "null trial: runner + database (ms)"):
            table.add_column(col, justify="right")
        table.add_row("SQLite (file)", f"{ops['sqlite'] * 1e3:.1f}", f"{null['sqlite'] * 1e3:.1f}")
        table.add_row("PostgreSQL (loopback)", f"{ops['pg'] * 1e3:.1f}", f"{null['pg'] * 1e3:.1f}")
        table.add_row("PostgreSQL - SQLite", f"{(ops['pg'] - ops['sqlite']) * 1e3:+.1f}",
                      f"{(null['pg'] - null['sqlite']) * 1e3:+.1f}")
        out.print(table)
        out.print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    finally:
        if data is not None:
            postgres.stop(data)


if __name__ == "__main__":
    benchkit.main(main)
