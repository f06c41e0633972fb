"""Memory: what LSTM and Transformer policies learn where one observation is not enough.

Side by side in one process, seeds interleaved so machine noise hits every arm alike, all through
rlgen's runner (the same evaluation for every arm: 10 deterministic episodes every 2,048 steps):

1. CartPole without velocities (rlgen/CartPoleNoVel-v1), the same step budget for each arm:
   - mlp:         PPO, an MLP on the current observation only (memoryless)
   - lstm:        configs/ppo_lstm_cartpole_novel.yaml (an LSTM over a window of 4 steps)
   - transformer: configs/ppo_transformer_cartpole_novel.yaml (a causal Transformer, same window)
   - recurrent:   configs/recurrent_ppo_cartpole_novel.yaml: sb3-contrib's RecurrentPPO
                  MlpLstmPolicy with rl-zoo3's hyperparameters, the reference
   Targets: lstm and transformer >= 475 with the mlp far below; they reach 475 in no more wall
   time than RecurrentPPO.
2. Cue recall with a 20-step delay (rlgen/CueRecall-v0, 2 cues, chance 0.5): success rate over 100
   episodes of configs/ppo_lstm_cue.yaml against the same PPO with a memoryless MLP.
   Targets: memory >= 0.95, MLP near 0.5.

    python benchmarks/memory.py                       # 3 seeds, 100k CartPole / 50k cue steps a run
    python benchmarks/memory.py --seeds 0 --steps 50000
"""

from __future__ import annotations

import statistics
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import benchkit
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

from rlgen.api import train

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]
MLP = {"type": "mlp", "hidden": [64, 64], "activation": "tanh"}


def memoryless(config: str, tmp: Path) -> Path:
    """`config` with an MLP backbone and no history window, written to `tmp`."""
    raw: Any = OmegaConf.to_container(OmegaConf.load(CONFIGS / config))
    raw["name"] = raw["name"] + "_mlp"
    raw["agent"]["policy"]["backbone"] = MLP
    raw["env"].pop("history", None)
    path = tmp / f"{raw['name']}.yaml"
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(raw)))
    return path


def run(path: Path, seed: int, steps: int, tmp: Path) -> dict[str, Any]:
    summary = benchkit.finished(train(path, [f"seed={seed}", f"train.total_steps={steps}", f"logging.dir={tmp}",
                                             *QUIET])).summary
    return {"final": summary["final"]["eval/return_mean"], "reached": summary["target_reached"],
            "steps": summary["global_step"], "wall": summary["wall_time_s"]}


def median(values: list[float]) -> str:
    return f"{statistics.median(values):,.1f}" if values else "-"


def cartpole_table(results: dict[str, list[dict[str, Any]]], steps: int) -> Table:
    table = Table(title=f"CartPole without velocities, {steps:,} steps at most, target 475")
    for col in ("arm", "final eval return per seed", "reached 475", "median steps to 475",
                "median wall s to 475", "median wall s of run"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for arm, runs in results.items():
        hit = [r["reached"] for r in runs if r["reached"]]
        table.add_row(arm, " ".join(f"{r['final']:.0f}" for r in runs), f"{len(hit)}/{len(runs)}",
                      median([h["global_step"] for h in hit]), median([h["wall_time_s"] for h in hit]),
                      median([r["wall"] for r in runs]))
    return table


def cue_table(results: dict[str, list[dict[str, Any]]], delay: int) -> Table:
    table = Table(title=f"Cue recall, delay {delay}, 2 cues (chance 0.50), success over 100 episodes")
    for col in ("arm", "success per seed", "median success", "median steps", "median wall s"):
        table.add_column(col, justify="left" if col == "arm" else "right")
    for arm, runs in results.items():
        table.add_row(arm, " ".join(f"{r['final']:.2f}" for r in runs), f"{statistics.median(r['final'] for r in runs):.2f}",
                      median([r["steps"] for r in runs]), median([r["wall"] for r in runs]))
    return table


def main() -> None:
    parser = benchkit.Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=benchkit.seed, nargs="+", action=benchkit.Distinct, default=[0, 1, 2])
    parser.add_argument("--steps", type=benchkit.count, default=100_000, help="CartPole step budget per run")
    parser.add_argument("--cue-steps", type=benchkit.count, default=50_000, help="cue-task step budget per run")
    args = parser.parse_args()
    console = Console(width=150)
    with TemporaryDirectory() as d:
        tmp = Path(d)
        cartpole = {"mlp": memoryless("ppo_lstm_cartpole_novel.yaml", tmp),
                    "lstm window (rlgen)": CONFIGS / "ppo_lstm_cartpole_novel.yaml",
                    "transformer window (rlgen)": CONFIGS / "ppo_transformer_cartpole_novel.yaml",
                    "RecurrentPPO MlpLstmPolicy": CONFIGS / "recurrent_ppo_cartpole_novel.yaml"}
        cue = {"mlp": memoryless("ppo_lstm_cue.yaml", tmp), "lstm window (rlgen)": CONFIGS / "ppo_lstm_cue.yaml"}
        results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in cartpole}
        for seed in args.seeds:
            for arm, path in cartpole.items():
                results[arm].append(run(path, seed, args.steps, tmp))
                console.print(f"cartpole seed {seed} {arm}: {results[arm][-1]}")
        cue_results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in cue}
        for seed in args.seeds:
            for arm, path in cue.items():
                cue_results[arm].append(run(path, seed, args.cue_steps, tmp))
                console.print(f"cue seed {seed} {arm}: {cue_results[arm][-1]}")
    console.print(cartpole_table(results, args.steps))
    console.print(cue_table(cue_results, int(OmegaConf.load(CONFIGS / "ppo_lstm_cue.yaml").env.kwargs.delay)))


if __name__ == "__main__":
    benchkit.main(main)
