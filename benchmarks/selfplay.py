"""Self-play quality, quoted next to the training wall time. Not a test.

    python benchmarks/selfplay.py                       # train both configs, then measure
    python benchmarks/selfplay.py --run RUN_DIR ...     # measure finished runs instead

tic-tac-toe: the deterministic agent against the perfect minimax player (random among its equally
good moves), 100 games in each seat: the target is no loss. connect four: 200 games (100 per seat)
against random (target >= 99% wins) and against the one-step lookahead (target >= 80% wins), and a
round robin among the snapshots in the pool: the Elo should rise with the step.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from rlgen import api
from rlgen.agents.selfplay.experiment import SelfPlayExperiment, versus
from rlgen.agents.selfplay.play import restore
from rlgen.agents.selfplay.ratings import fit_elo, results_matrix, round_robin

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
console = Console()


def train(config: str, overrides: list[str]) -> Path:
    overrides = ["logging.wandb.mode=disabled", "train.progress=false", *overrides]
    return api.train(CONFIGS / f"{config}.yaml", overrides).run_dir


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
    elo = fit_elo(scores, games, anchor=names.index("random"))
    return list(zip(names, elo.tolist()))


def measure(run_dir: Path, per_seat: int, games_per_pair: int) -> None:
    exp = restore(run_dir)
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
    console.print("Elo (random = 1000, sampled play, round robin of "
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", nargs="*", default=None, help="finished run directories to measure (no training)")
    p.add_argument("--configs", nargs="*", default=["selfplay_tictactoe", "selfplay_connect_four"])
    p.add_argument("--per-seat", type=int, default=100, help="games per seat against each reference")
    p.add_argument("--games-per-pair", type=int, default=20, help="round-robin games per pair of snapshots")
    p.add_argument("overrides", nargs="*", help="config overrides for training, e.g. seed=1")
    args = p.parse_args()
    # `--configs NAME key=value` would read the overrides as config names: split them back out
    args.overrides += [c for c in args.configs if "=" in c]
    args.configs = [c for c in args.configs if "=" not in c]
    torch.set_num_threads(1)
    runs = [Path(r) for r in args.run] if args.run else []
    for config in ([] if args.run else args.configs):
        t0 = time.perf_counter()
        runs.append(train(config, args.overrides))
        console.print(f"{config}: trained in {time.perf_counter() - t0:.0f} s (wall, evaluations included)")
    for run_dir in runs:
        measure(run_dir, args.per_seat, args.games_per_pair)


if __name__ == "__main__":
    main()
