"""Self-play quality, quoted next to the training wall time. Not a test.

    python benchmarks/selfplay.py                       # train both configs, then measure
    python benchmarks/selfplay.py --run RUN_DIR ...     # measure finished runs instead
    python benchmarks/selfplay.py --configs selfplay_connect_four --seeds 100-104 --parallel 2
                                                        # one run per seed, a per-seed table

Runs are measured at the checkpoint `rlgen eval` / `play` / `tournament` open by default (the
best, by the config's `train.early_stop.metric`), with fresh games; `--seeds` also measures each
run's last checkpoint, to show what keeping the best is worth.

tic-tac-toe: the deterministic agent against the perfect minimax player (random among its equally
good moves), `--per-seat` games in each seat: the target is no loss. connect four: `--per-seat`
games in each seat against random and against the one-step lookahead, with the config's
`ratings.targets` (>= 99% and >= 85% wins), and a round robin among the snapshots in the pool: the
Elo should rise with the step. 1,000 games a reference (the default) put the standard error of a
99% win rate at 0.3%; with 200 it is 0.7%, two games.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import benchkit
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from rlgen import api
from rlgen.agents.selfplay.experiment import SelfPlayExperiment, versus
from rlgen.agents.selfplay.play import restore
from rlgen.agents.selfplay.ratings import fit_elo, results_matrix, round_robin
from rlgen.seeds import train_seeds

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
TRAINING = ["logging.wandb.mode=disabled", "train.progress=false"]
CONFIG_NAMES = ["selfplay_tictactoe", "selfplay_connect_four"]  # trained without --configs
console = Console(width=150)


def train(config: str, overrides: list[str]) -> Path:
    return benchkit.finished(api.train(CONFIGS / f"{config}.yaml", [*TRAINING, *overrides])).run_dir


def seat_games(exp: SelfPlayExperiment, name: str, per_seat: int) -> dict[str, float]:
    """The agent (deterministic) against reference `name`, `per_seat` games in each seat."""
    agent, ref = exp.agent_player(deterministic=True), exp.references[name]
    outcomes = np.array(versus(exp.game, agent, ref, 2 * per_seat))
    first, second = outcomes[0::2], outcomes[1::2]
    return {"win": float(np.mean(outcomes == 1)), "draw": float(np.mean(outcomes == 0)),
            "loss": float(np.mean(outcomes == -1)), "losses_first": int(np.sum(first == -1)),
            "losses_second": int(np.sum(second == -1)), "games": len(outcomes)}


def snapshot_elo(exp: SelfPlayExperiment, games_per_pair: int) -> list[tuple[str, float]]:
    """Elo of every snapshot in the pool and the references, from a fresh round robin."""
    players = {name: exp.references[name] for name in exp.cfg.ratings.references}
    players.update({s.name: exp.league.player(s.name) for s in exp.league.snapshots})
    players["final"] = exp.agent_player(deterministic=False)
    names = list(players)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    scores, games = results_matrix(names, round_robin(exp.game, players, pairs, games_per_pair))
    elo = fit_elo(scores, games, anchor=names.index(exp.cfg.ratings.anchor))  # checked to be a reference
    return list(zip(names, elo.tolist()))


def measure(run_dir: Path, per_seat: int, games_per_pair: int) -> None:
    exp = restore(run_dir)
    console.print(f"measured at the {exp.checkpoint} checkpoint")
    wall = _wall_time(run_dir, exp.global_step)
    table = Table(title=f"{exp.cfg.name}: {exp.global_step:,} steps, training wall time {wall:.0f} s ({run_dir})")
    for col in ("opponent", "games", "win", "draw", "loss", "losses as first", "losses as second"):
        table.add_column(col, justify="right" if col != "opponent" else "left")
    for name in exp.cfg.ratings.references:
        r = seat_games(exp, name, per_seat)
        table.add_row(name, str(r["games"]), f"{r['win']:.1%}", f"{r['draw']:.1%}", f"{r['loss']:.1%}",
                      str(r["losses_first"]), str(r["losses_second"]))
    console.print(table)
    elo = snapshot_elo(exp, games_per_pair)
    console.print(f"Elo ({exp.cfg.ratings.anchor} = 1000, sampled play, round robin of "
                  f"{games_per_pair} games per pair): " + "  ".join(f"{n} {e:.0f}" for n, e in elo))
    steps = [(int(n.split("_")[1]), e) for n, e in elo if n.startswith("step_")]
    rising = np.corrcoef([s for s, _ in steps], [e for _, e in steps])[0, 1] if len(steps) > 2 else float("nan")
    console.print(f"correlation of snapshot step and Elo: {rising:.2f}")
    exp.close()


def _wall_time(run_dir: Path, step: int) -> float:
    """Training wall time up to the checkpoint at `step` (a run still going has no summary yet)."""
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    times = [r["eval/wall_time_s"] for r in rows if "eval/wall_time_s" in r and r["global_step"] <= step]
    return float(times[-1]) if times else float("nan")


TARGETS = {"random": 0.99, "lookahead": 0.85, "minimax": None}  # without ratings.targets; vs minimax: no loss


def targets(exp: SelfPlayExperiment) -> dict[str, float | None]:
    """The win-rate target per reference: the config's `ratings.targets`, else the README's."""
    return {n: t for n, t in (exp.cfg.ratings.targets or TARGETS).items() if n in exp.cfg.ratings.references}


def per_seed(config: str, seeds: list[int], overrides: list[str], parallel: int, per_seat: int) -> None:
    """Train `config` once per seed (`parallel` at a time), then one row per seed: the best and
    the last checkpoint against each reference, and whether every target holds."""
    t0 = time.perf_counter()
    run_dirs = train_seeds(str(CONFIGS / f"{config}.yaml"), ["logging.wandb.mode=disabled", *overrides], seeds, parallel)
    console.print(f"{config}: {len(seeds)} seeds trained in {time.perf_counter() - t0:.0f} s "
                  f"({parallel} at a time, wall, evaluations included)")
    table = Table(title=f"{config}: {2 * per_seat} fresh games per reference and checkpoint (half in each seat)")
    table.add_column("seed", justify="right")
    table.add_column("checkpoint")
    refs: list[str] = []
    goals: dict[str, float | None] = {}
    rows, passed = [], 0
    for seed, run_dir in zip(seeds, run_dirs):
        ok = True
        for which in ("best", "latest"):
            exp = restore(run_dir, checkpoint=which)
            refs = refs or list(exp.cfg.ratings.references)
            goals = goals or targets(exp)
            results = {name: seat_games(exp, name, per_seat) for name in refs}
            step = exp.global_step
            exp.close()
            if which == "best":
                for name, target in goals.items():
                    r = results[name]
                    ok &= r["loss"] == 0 if target is None else r["win"] >= target - 1e-9
            rows.append((seed, f"{which} @{step:,}", results, ok if which == "best" else None))
        passed += ok
    for name in refs:
        table.add_column(f"win vs {name}", justify="right")
        table.add_column(f"loss vs {name}", justify="right")
    table.add_column("targets (best)")
    for seed, label, results, ok in rows:
        cells = [c for name in refs for c in (f"{results[name]['win']:.1%}", f"{results[name]['loss']:.1%}")]
        table.add_row(str(seed), label, *cells, "" if ok is None else ("met" if ok else "missed"))
    console.print(table)
    stated = ", ".join(f">= {t:.0%} vs {n}" if t is not None else f"no loss vs {n}" for n, t in goals.items())
    console.print(f"targets ({stated}) met on {passed} of {len(seeds)} seeds at the best checkpoint")


def main() -> None:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", nargs="+", type=benchkit.directory, action=benchkit.Distinct, default=None,
                   help="finished run directories to measure (no training)")
    p.add_argument("--configs", nargs="*", action=benchkit.Distinct, default=None, help=f"default: {' '.join(CONFIG_NAMES)}")
    p.add_argument("--per-seat", type=benchkit.count, default=500, help="games per seat against each reference")
    p.add_argument("--games-per-pair", type=benchkit.count, default=20, help="round-robin games per pair of snapshots")
    p.add_argument("--seeds", type=benchkit.seeds,
                   help="train each config once per seed (0,1,2 or 100-104) and print a per-seed table")
    p.add_argument("--parallel", type=benchkit.count, default=None, help="with --seeds: runs at a time, one process each (default 1)")
    p.add_argument("overrides", nargs="*", help="config overrides for training, e.g. seed=1")
    args = p.parse_args()
    given = args.configs is not None
    args.configs = CONFIG_NAMES if args.configs is None else args.configs
    # `--configs NAME key=value` would read the overrides as config names: split them back out
    args.overrides += [c for c in args.configs if "=" in c]
    args.configs = [c for c in args.configs if "=" not in c]
    if args.run is not None:  # what only training reads was silently ignored
        ignored = [*(["--configs"] if given else []), *(["--seeds"] if args.seeds else []), *args.overrides]
        if ignored:
            p.error(f"--run measures finished runs and trains nothing: drop {' '.join(ignored)}, or --run")
    if args.parallel is not None and not args.seeds:  # without seeds one run trains, or none: nothing in parallel
        p.error(f"--parallel {args.parallel} runs --seeds side by side: give --seeds, or drop --parallel")
    args.parallel = args.parallel or 1
    for config in ([] if args.run else args.configs):  # every name, override and kind, before a run
        if (kind := api.load_config(CONFIGS / f"{config}.yaml", [*TRAINING, *args.overrides]).kind) != "selfplay":
            p.error(f"--configs {config} is kind {kind}; this benchmark measures kind: selfplay configs, "
                    f"e.g. {CONFIG_NAMES[0]}")
    torch.set_num_threads(1)
    if args.seeds:
        for config in args.configs:
            per_seed(config, args.seeds, args.overrides, args.parallel, args.per_seat)
        return
    runs = list(args.run or [])
    for config in ([] if args.run else args.configs):
        t0 = time.perf_counter()
        runs.append(train(config, args.overrides))
        console.print(f"{config}: trained in {time.perf_counter() - t0:.0f} s (wall, evaluations included)")
    for run_dir in runs:
        measure(run_dir, args.per_seat, args.games_per_pair)


if __name__ == "__main__":
    benchkit.main(main)
