"""Team play quality on mpe2 simple_tag (`configs/teams_simple_tag.yaml`), per seed. Not a test.

    python benchmarks/teams.py --seeds 0,1,2                 # train one run per seed, then measure
    python benchmarks/teams.py --run RUN_DIR [RUN_DIR ...]   # measure finished runs instead

Each trained side (deterministic, as `rlgen eval` plays it, and sampling) against each fixed
baseline of the other side: `random`, and the scripted chaser (predators: toward the nearest prey)
and evader (prey: away from the predators, back from the edges) of `envs/games/simple_tag.py`;
next to the baselines among themselves for the scale. Figures: tags per episode (the predators'
mean return / 10: (prey, predator) contacts summed over the 25 steps) and the share of episodes
with at least one tag (the predators' win in the Elo fit). Every matchup plays the same episode
seeds. Then a fresh round robin among the baselines, every snapshot the run kept and the final
sides (sampling), rated by selfplay's Bradley-Terry fit with random predators at 1000.
"""

from __future__ import annotations

import argparse
import json
import re
import time
from pathlib import Path

import benchkit
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from rlgen import api
from rlgen.agents.selfplay.team_ratings import cross_pairs, elo_tables, team_round_robin
from rlgen.agents.selfplay.teams import baseline_players
from rlgen.envs.games.teams import TeamRules, play_team_episodes

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "teams_simple_tag.yaml"
SEED = 10_000  # episode seeds SEED + i, the same in every matchup
TRAINING = ["logging.wandb.mode=disabled", "train.progress=false"]
BASELINES = ["random", "chaser", "evader"]  # every trained side meets these (MATCHUPS)
console = Console(width=150)

# (row label, predators, prey): "trained" is the run's side, "trained~" the same sampling
MATCHUPS = [
    ("random vs random", "random", "random"),
    ("chaser vs random", "chaser", "random"),
    ("random vs evader", "random", "evader"),
    ("chaser vs evader (scripted vs scripted)", "chaser", "evader"),
    ("trained predators vs random prey", "trained", "random"),
    ("trained predators vs evader", "trained", "evader"),
    ("random predators vs trained prey", "random", "trained"),
    ("chaser vs trained prey", "chaser", "trained"),
    ("trained vs trained", "trained", "trained"),
]
# the same four matchups with the trained side sampling its actions
MATCHUPS += [tuple(x.replace("trained", "trained~") for x in row) for row in MATCHUPS[4:8]]


def train(seed: int, overrides: list[str]) -> tuple[Path, float]:
    t0 = time.perf_counter()
    run = benchkit.finished(api.train(CONFIG, [*TRAINING, f"seed={seed}", *overrides]))
    return run.run_dir, time.perf_counter() - t0


def measure(run_dir: Path, episodes: int, games_per_pair: int, checkpoint: str | None) -> dict:
    with api.load_run(run_dir, checkpoint=checkpoint) as run:
        exp = run.experiment
        predators, prey = exp.sides
        baselines = baseline_players(exp.cfg.model_copy(update={"ratings": exp.cfg.ratings.model_copy(
            update={"baselines": BASELINES})}), exp.game, exp.sides, exp.rules)

        def player(name: str, side: str):
            if name.startswith("trained"):
                return exp.side_player(side, deterministic=not name.endswith("~"))
            return baselines[f"{side}:{name}"]

        rows = {}
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(0)
            for label, a, b in MATCHUPS:
                returns = play_team_episodes(exp.game, {predators: player(a, predators), prey: player(b, prey)},
                                             episodes, SEED)
                tags = np.array([exp.rules.scores(r)["tags"] for r in returns])
                rows[label] = (float(tags.mean()), float((tags > 0).mean()))
            players = {**baselines, **{s: exp.snapshot_player(s) for s in exp.snapshot_names()},
                       f"{predators}:final": exp.side_player(predators, deterministic=False),
                       f"{prey}:final": exp.side_player(prey, deterministic=False)}
            results = team_round_robin(exp.game, exp.rules, players, cross_pairs(list(players), exp.sides),
                                       games_per_pair, SEED + 50_000)
        elo, _, _ = elo_tables(list(players), results, anchor=f"{predators}:random")
        return {"step": run.global_step, "checkpoint": checkpoint, "rows": rows, "elo": elo, "sides": exp.sides}


def report(measured: dict[int | str, dict], times: dict, episodes: int, games_per_pair: int) -> None:
    """One column per key: a training seed (int), or a measured run's label (`run_labels`)."""
    keys = list(measured)
    named = {k: f"seed {k}" if isinstance(k, int) else k for k in keys}
    table = Table(title=f"simple_tag: tags per episode (share of episodes with a tag), {episodes} episodes each")
    table.add_column("predators vs prey")
    for k in keys:
        m = measured[k]
        wall = f", {times[k]:.0f} s" if k in times else ""
        table.add_column(f"{named[k]} ({m['checkpoint']}: {m['step']:,} steps{wall})", justify="right")
    for label, _, _ in MATCHUPS:
        table.add_row(label, *[f"{measured[k]['rows'][label][0]:.2f} ({measured[k]['rows'][label][1]:.0%})" for k in keys])
    console.print(table)
    console.print(f"Elo (adversary:random = 1000; round robin across the sides, {games_per_pair} episodes per pair, "
                  "sampled play; snapshots oldest first):")
    for k in keys:
        m = measured[k]
        for side in m["sides"]:
            line = "  ".join(f"{n.split(':', 1)[1]} {e:.0f}" for n, e in m["elo"].items() if n.startswith(f"{side}:"))
            console.print(f"  {named[k]} {side}: {line}")


def unmeasurable(cfg) -> str | None:
    """Why `measure` cannot play its matchups on a run of `cfg` (None: it can): a kind: teams game whose
    module has simple_tag's scripted players (TeamRules). Checked before any training or measuring."""
    if cfg.kind != "teams":
        return f"benchmarks/teams.py measures kind: teams runs, and {cfg.name} is kind: {cfg.kind}"
    known = TeamRules.of(cfg.game.name).players
    if missing := [n for n in BASELINES if n not in known]:
        return (f"benchmarks/teams.py measures against chaser and evader, and {cfg.game.name} has no "
                f"{' or '.join(missing)} (its players: {', '.join(known)}): measure a simple_tag_v3 run, or read "
                "this game's figures from its run's own evaluations (eval/ in metrics.jsonl)")
    return None


def run_labels(runs: list[Path]) -> dict[str, Path]:
    """Each run's column label: its directory's name, or its path where runs share a name (x/run, y/run)."""
    names = [r.name for r in runs]
    return {(r.name if names.count(r.name) == 1 else str(r)): r for r in runs}


def checkpoint(text: str) -> str:
    """--checkpoint: checked before the first seed trains (load_run would refuse it only after)."""
    if not re.fullmatch(r"best|latest|step_\d+", text):
        raise argparse.ArgumentTypeError(f"expected latest, best or step_N, not {text!r}")
    return text


def main() -> None:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=benchkit.seeds, default=None,
                   help="training seeds, e.g. 0,1,2 or 0-2 (default and reported: 0,1,2)")
    p.add_argument("--run", nargs="+", type=benchkit.directory, action=benchkit.Distinct, default=None,
                   help="finished run directories to measure (no training)")
    p.add_argument("--episodes", type=benchkit.count, default=200, help="episodes per matchup")
    p.add_argument("--games-per-pair", type=benchkit.count, default=20, help="round-robin episodes per pair of players")
    p.add_argument("--checkpoint", type=checkpoint, default="latest",
                   help="latest (the sides as training left them; the default) | best (kept by the config's "
                        "early-stop metric: in teams_simple_tag eval/score_min, the lower score of the two sides, each "
                        "against its hardest baseline) | step_N")
    p.add_argument("--json", type=benchkit.output_file, default=None, help="also write the figures here")
    p.add_argument("overrides", nargs="*", help="config overrides for training, e.g. train.total_steps=400000")
    args = p.parse_args()
    if args.run is not None:  # what only training reads was silently ignored
        ignored = [*(["--seeds"] if args.seeds is not None else []), *args.overrides]
        if ignored:
            p.error(f"--run measures finished runs and trains nothing: drop {' '.join(ignored)}, or --run")
        for run_dir in args.run:  # every run, before the first is measured
            with api.load_run(run_dir, checkpoint=args.checkpoint) as run:
                if (problem := unmeasurable(run.config)) is not None:
                    p.error(f"{run_dir}: {problem}")
    # every override checked before the first run, and the game: measuring starts after the run has trained
    elif (problem := unmeasurable(api.load_config(CONFIG, [*TRAINING, *args.overrides]))) is not None:
        p.error(problem)
    args.seeds = [0, 1, 2] if args.seeds is None else args.seeds
    torch.set_num_threads(1)
    measured, times = {}, {}
    if args.run:
        for label, run_dir in run_labels(list(map(Path, args.run))).items():
            measured[label] = measure(run_dir, args.episodes, args.games_per_pair, args.checkpoint)
    else:
        for seed in args.seeds:
            run_dir, times[seed] = train(seed, args.overrides)
            console.print(f"seed {seed}: trained in {times[seed]:.0f} s (evaluations included) -> {run_dir}")
            measured[seed] = measure(run_dir, args.episodes, args.games_per_pair, args.checkpoint)
            if args.json:  # after every seed: a long benchmark stopped early keeps what it measured
                save(args.json, measured, times)
    report(measured, times, args.episodes, args.games_per_pair)
    if args.json:
        save(args.json, measured, times)


def save(path: Path, measured: dict, times: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)  # --json was checked to be a file whose folder can be made
    path.write_text(json.dumps({str(k): {**v, "time_s": times.get(k)} for k, v in measured.items()}, indent=1))

if __name__ == "__main__":
    benchkit.main(main)
