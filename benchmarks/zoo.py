"""rl-zoo3's tuned hyperparameters, converted by rlgen (`zoo:ALGO/ENV`), against rl-zoo3's published figures.

Each config is rl-zoo3's own entry as `rlgen train zoo:ALGO/ENV` converts it (SB3's default
networks, rl-zoo3's n_envs, schedules, normalization and noise), trained by rlgen's runner on 2
seeds. The figure is the run's final evaluation: the mean return of `--eval-episodes` deterministic
episodes (rl-zoo3's benchmark also evaluates deterministically, over ~150k steps, of one trained
agent: its README calls the table "not a quantitative benchmark ... only one run").

The budget is rl-zoo3's n_timesteps, or the fraction written after `@` (LunarLander's 1M steps
take ~5 minutes a seed on this 2-core machine, so the default runs half of it and says so;
rl-zoo3's `lin_` schedules then decay over the shorter run).

    nice -n 10 python benchmarks/zoo.py                          # the 5 default configs, seeds 0 1
    python benchmarks/zoo.py --configs sac/Pendulum-v1 ppo/LunarLander-v3@1 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import benchkit
import rlgen
from rlgen.agents.rl import zoo
from rlgen.errors import RlgenError

# rl-baselines3-zoo benchmark.md: (mean_reward, n_timesteps) of its trained agent
PUBLISHED = {
    ("ppo", "CartPole-v1"): (500.0, 100_000),
    ("a2c", "CartPole-v1"): (500.0, 500_000),
    ("dqn", "CartPole-v1"): (500.0, 50_000),
    ("td3", "Pendulum-v1"): (-151.855, 20_000),
    ("sac", "Pendulum-v1"): (-156.995, 20_000),
    ("ppo", "LunarLander-v3"): (242.119, 1_000_000),  # published for LunarLander-v2, the same task
    ("dqn", "Acrobot-v1"): (-76.639, 100_000),
    ("ppo", "Acrobot-v1"): (-73.506, 1_000_000),
    ("dqn", "MountainCar-v0"): (-100.849, 120_000),
    ("ppo", "MountainCarContinuous-v0"): (88.343, 20_000),
}
DEFAULT = ["ppo/CartPole-v1", "a2c/CartPole-v1@0.2", "dqn/CartPole-v1", "td3/Pendulum-v1", "ppo/LunarLander-v3@0.5"]
QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]


def zoo_spec(text: str) -> tuple[str, str, str, float]:
    """--configs ALGO/ENV[@FRACTION] -> (the text, algo, env id, fraction of rl-zoo3's budget)."""
    ref, at, fraction_text = text.partition("@")
    try:
        algo, env_id = zoo.parse_ref(ref)
    except RlgenError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    try:
        fraction = benchkit.fraction(fraction_text) if at else 1.0
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"{text!r}: the budget after @ is a fraction of rl-zoo3's in (0, 1], "
                                         f"e.g. {ref}@0.5") from None
    return text, algo, env_id, fraction


def run_one(spec: tuple[str, str, str, float], seed: int, eval_episodes: int, root: Path) -> dict:
    text, algo, env_id, fraction = spec
    conversion = zoo.convert(algo, env_id)
    budget = conversion.config["train"]["total_steps"]
    steps = int(budget * fraction)
    overrides = [*QUIET, f"seed={seed}", f"logging.dir={root}", f"train.total_steps={steps}",
                 f"train.eval_every={max(steps // 5, 1)}", f"train.eval_episodes={eval_episodes}"]
    t0 = time.perf_counter()
    run = benchkit.finished(rlgen.train(conversion.config, overrides))
    # what the run trained, not what it was asked to: an early stop ends it sooner, a rollout's rounding later
    return {"spec": text, "algo": algo, "env": env_id, "seed": seed, "steps": run.summary["global_step"],
            "budget": budget, "final": run.summary["final"]["eval/return_mean"], "best": run.summary["best"]["value"],
            "best_step": run.summary["best"]["global_step"], "seconds": time.perf_counter() - t0,
            "unsupported": conversion.unsupported}


def main() -> None:
    parser = benchkit.Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--configs", nargs="+", type=zoo_spec, action=benchkit.Distinct, default=[zoo_spec(s) for s in DEFAULT],
                        metavar="ALGO/ENV[@FRACTION]")
    parser.add_argument("--seeds", type=benchkit.seed, nargs="+", action=benchkit.Distinct, default=[0, 1])
    parser.add_argument("--eval-episodes", type=benchkit.count, default=20)
    args = parser.parse_args()
    for _, algo, env_id, _ in args.configs:  # an algorithm or env rl-zoo3 or gymnasium lacks: refused before a run
        rlgen.load_config(zoo.convert(algo, env_id).config, QUIET)
    print(f"rl-zoo3 {zoo.zoo_version()} hyperparameters converted by rlgen; final eval: {args.eval_episodes} "
          f"deterministic episodes; seeds {args.seeds}; 1 torch thread")
    header = (f"{'config':<26} {'steps':>9} {'of zoo':>7} | {'final, per seed':<17} {'mean':>7} | "
              f"{'best eval (at step), per seed':<32} | {'rl-zoo3':>8} {'at':>5} | {'s/seed':>6}")
    print(header)
    print("-" * len(header))
    with TemporaryDirectory() as tmp:
        for spec in args.configs:
            results = [run_one(spec, seed, args.eval_episodes, Path(tmp)) for seed in args.seeds]
            r0 = results[0]
            finals = [r["final"] for r in results]
            published, at = PUBLISHED.get((r0["algo"], r0["env"]), (float("nan"), 0))
            seeds = ", ".join(f"{v:.1f}" for v in finals)
            bests = ", ".join(f"{r['best']:.1f} ({r['best_step']:,})" for r in results)
            trained = sorted({r["steps"] for r in results})  # a range where the seeds stopped apart
            steps = f"{trained[0]:,}" + (f"-{trained[-1]:,}" if len(trained) > 1 else "")
            of_zoo = statistics.mean(r["steps"] for r in results) / r0["budget"]
            print(f"{r0['spec']:<26} {steps:>9} {of_zoo:>6.0%} | {seeds:<17} "
                  f"{statistics.mean(finals):>7.1f} | {bests:<32} | {published:>8.1f} {_short(at):>5} | "
                  f"{statistics.mean(r['seconds'] for r in results):>6.0f}", flush=True)
            for item in r0["unsupported"]:
                print(f"    not converted: {item}")


def _short(n: int) -> str:
    return f"{n / 1e6:g}M" if n >= 1_000_000 else f"{n / 1e3:g}k" if n else "-"


if __name__ == "__main__":
    benchkit.main(main)
