"""Bundled RL configs on seeds they were not tuned on: does each seed reach the config's target?

    python benchmarks/configs_on_seeds.py --configs sac_pendulum td3_pendulum ppo_lunarlander --seeds 100-102
    python benchmarks/configs_on_seeds.py --configs ppo_lunarlander --seeds 100-102 --parallel 2

Each run trains as the config ships (stopping at `train.early_stop.target`), then the checkpoint
`rlgen eval` opens by default (the best) is evaluated afresh on `--episodes` episodes seeded apart
from the training run's own evaluations: the per-seed table quotes that figure against the target,
next to the steps and wall time the run took to reach it. Not a test.
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
import torch
from rich.console import Console
from rich.table import Table

import benchkit
import rlgen
from rlgen import summary_file
from rlgen.agents.rl.config import RLConfig
from rlgen.errors import RlgenError
from rlgen.seeds import train_seeds

console = Console(width=150)
QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


def fresh_eval(run_dir: str, episodes: int, seed: int) -> tuple[str, int, list[float]]:
    """Episode returns of the run's default checkpoint on envs seeded `seed`, `seed + 1`, ..."""
    from rlgen.config import EnvConfig
    from rlgen.envs import make_env_fn

    with rlgen.load_run(run_dir) as run:
        agent = run.agent()
        env_cfg: EnvConfig = run.config.env
        env = make_env_fn(env_cfg.id, env_cfg.kwargs, env_cfg.wrappers)()
        returns = []
        for i in range(episodes):
            obs, _ = env.reset(seed=seed + i)
            agent.reset()
            total, done = 0.0, False
            while not done:
                obs, reward, terminated, truncated, _ = env.step(agent.predict(obs, deterministic=True))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
        return run.checkpoint, int(run.global_step or 0), returns


def playable(name: str, cfg: Any) -> None:
    """Refuses `cfg` unless its runs have an agent that plays episodes of its env (kinds rl, bc and
    imitation: RLConfig), which `fresh_eval` scores: another kind trained in full, then was refused."""
    if not isinstance(cfg, RLConfig):
        raise RlgenError(f"--configs {name} is kind {cfg.kind}, with no agent to play episodes; give an RL config "
                         "(kind rl, bc or imitation), e.g. sac_pendulum")


def main() -> None:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--configs", nargs="+", action=benchkit.Distinct, default=["sac_pendulum", "td3_pendulum", "ppo_lunarlander"])
    p.add_argument("--seeds", type=benchkit.seeds, default="100-102",
                   help="reporting seeds (the configs were tuned on others)")
    p.add_argument("--parallel", type=benchkit.count, default=1, help="runs at a time, one process each")
    p.add_argument("--episodes", type=benchkit.count, default=20, help="episodes of the fresh evaluation")
    p.add_argument("overrides", nargs="*", help="overrides for every config")
    args = p.parse_args()
    seeds = args.seeds
    for config in args.configs:  # every name, override and kind checked before the first run
        playable(config, rlgen.load_config(config, [*QUIET, *args.overrides]))
    # train_seeds raises when a seed failed or was interrupted; a summary that says otherwise is checked here
    results = [{"config": c, "seed": s, "run_dir": str(d),
                "summary": benchkit.check_ended(summary_file.from_text((d / "summary.json").read_text()), 0, d)}
               for c in args.configs
               for s, d in zip(seeds, train_seeds(c, [*QUIET, *args.overrides], seeds, args.parallel))]
    torch.set_num_threads(1)
    table = Table(title=f"bundled configs per seed; fresh evaluation: {args.episodes} deterministic episodes "
                        "(env seeds 10,000+), of the checkpoint rlgen eval opens")
    for col in ("config", "seed", "target", "reached at step", "wall s", "best in training", "checkpoint",
                "fresh eval mean ± std", "min", "target"):
        table.add_column(col, justify="left" if col in ("config", "checkpoint") else "right")
    met: dict[str, list[bool]] = {}
    for r in results:
        s = r["summary"]
        target = s["target"]
        reached = s["target_reached"]
        which, step, returns = fresh_eval(r["run_dir"], args.episodes, 10_000)
        mean = float(np.mean(returns))
        ok = target is not None and mean >= target
        if target is not None:  # a run without one met nothing, and missed nothing
            met.setdefault(r["config"], []).append(ok)
        table.add_row(r["config"], str(r["seed"]), f"{target:g}" if target is not None else "-",
                      f"{reached['global_step']:,}" if reached else "not reached",
                      f"{reached['wall_time_s']:.0f}" if reached else f"{s['wall_time_s']:.0f}",
                      f"{s['best']['value']:.1f}" if s["best"]["value"] is not None else "-",
                      f"{which} @{step:,}", f"{mean:.1f} ± {np.std(returns):.1f}", f"{min(returns):.1f}",
                      "-" if target is None else "met" if ok else "missed")
    console.print(table)
    for config in dict.fromkeys(args.configs):
        oks = met.get(config)
        console.print(f"{config}: fresh evaluation at or above the target on {sum(oks)} of {len(oks)} seeds" if oks
                      else f"{config}: no train.early_stop.target, so nothing to meet")


if __name__ == "__main__":
    benchkit.main(main)
