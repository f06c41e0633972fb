"""CartPole-v1: rlgen's `ppo_cartpole` config against raw SB3 PPO with rl-zoo's tuned settings.

Side by side, in one process, seeds interleaved so machine noise hits both arms alike:

1. time to solve: wall time until a 10-episode deterministic eval reaches mean >= 475, evaluation
   included, every `--eval-every` env steps. SB3 evaluates with its `EvalCallback` (one eval env,
   episode after episode, as users run it); rlgen with the runner (all episodes side by side).
2. training throughput at identical hyperparameters and network: raw `PPO.learn(N)` against the
   rlgen runner on the same settings with evaluation off. Targets: (1) rlgen <= 0.5x SB3's time;
   (2) rlgen's steps/s within 5% of SB3's.

    python benchmarks/cartpole_time_to_solve.py --seeds 0,1,2
    python benchmarks/cartpole_time_to_solve.py --seeds 100-109 --fps-steps 0   # the per-seed table alone

The target holds per seed: rlgen's time on a seed against SB3's on the same seed.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory

import gymnasium as gym
import torch
from rich.console import Console
from rich.table import Table
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import EvalCallback, StopTrainingOnRewardThreshold
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.monitor import Monitor

import benchkit
from rlgen.api import load_config, make_experiment, train
from rlgen.logging import console as rlgen_console
from rlgen.runner import Runner

ROOT = Path(__file__).resolve().parent.parent
TARGET = 475.0
# rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1
ZOO = dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0)
ZOO_LR, ZOO_CLIP, ZOO_ENVS = 1e-3, 0.2, 8
# the same settings and the same network as an rlgen config (two [64, 64] tanh MLPs, linear heads)
ZOO_AS_RLGEN = ["agent.hyperparams={n_steps: 32, batch_size: 256, gae_lambda: 0.8, gamma: 0.98, n_epochs: 20, "
                "ent_coef: 0.0, clip_range: lin_0.2}", "optim.lr=1e-3", "optim.schedule=linear", "env.n_envs=8",
                "agent.policy.backbone={type: mlp, hidden: [64, 64], activation: tanh}",
                "agent.policy.share_backbone=false", "agent.policy.net_arch=[]", "env.normalize=null", "optim.fused=false"]
QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]


def linear(start: float):
    return lambda progress_remaining: progress_remaining * start


def zoo_ppo(seed: int) -> PPO:
    """Raw SB3 PPO with the zoo's CartPole settings, writing no log folder."""
    env = make_vec_env("CartPole-v1", n_envs=ZOO_ENVS, seed=seed)
    return benchkit.quiet_sb3(PPO("MlpPolicy", env, learning_rate=linear(ZOO_LR), clip_range=linear(ZOO_CLIP),
                                  seed=seed, device="cpu", verbose=0, **ZOO))


def sb3_time_to_solve(seed: int, eval_every: int, max_steps: int) -> tuple[float | None, int]:
    model = zoo_ppo(seed)
    eval_env = Monitor(gym.make("CartPole-v1"))
    eval_env.reset(seed=seed + 10_000)
    stop = StopTrainingOnRewardThreshold(reward_threshold=TARGET, verbose=0)
    callback = EvalCallback(eval_env, callback_on_new_best=stop, n_eval_episodes=10,
                            eval_freq=eval_every // ZOO_ENVS, deterministic=True, verbose=0)
    t0 = time.perf_counter()
    model.learn(max_steps, callback=callback)
    elapsed = time.perf_counter() - t0
    solved = callback.best_mean_reward >= TARGET
    return (elapsed if solved else None), model.num_timesteps


def rlgen_time_to_solve(seed: int, eval_every: int, max_steps: int, tmp: str,
                        overrides: list[str] = ()) -> tuple[float | None, int]:
    summary = benchkit.finished(train(ROOT / "configs/ppo_cartpole.yaml", [
        *overrides, f"seed={seed}", f"train.eval_every={eval_every}", f"train.total_steps={max_steps}",
        f"train.early_stop.target={TARGET}", f"logging.dir={tmp}", *QUIET])).summary
    reached = summary["target_reached"]
    return (reached["wall_time_s"] if reached else None), summary["global_step"]


def sb3_steps_per_s(seed: int, steps: int) -> float:
    model = zoo_ppo(seed)
    t0 = time.perf_counter()
    model.learn(steps)
    return model.num_timesteps / (time.perf_counter() - t0)


def rlgen_steps_per_s(seed: int, steps: int, tmp: str) -> float:
    cfg = load_config(ROOT / "configs/ppo_cartpole.yaml",
                      [f"seed={seed}", f"train.total_steps={steps}", f"train.eval_every={10 * steps}",
                       "train.early_stop.target=null", f"logging.dir={tmp}", *ZOO_AS_RLGEN, *QUIET])
    # the runner by hand, not rlgen.train: the experiment's evaluate is stubbed out for this run
    exp = make_experiment(cfg)
    runner = Runner(cfg, exp)
    exp_evaluate = exp.evaluate
    exp.evaluate = lambda *a, **k: {}  # the final evaluation is not training: leave it out of the clock
    rlgen_console.quiet = True  # ... and its warning that the stub logs no early-stop metric unsaid
    try:
        summary = runner.run()
    finally:
        exp.evaluate, rlgen_console.quiet = exp_evaluate, False
    benchkit.check_ended(summary, runner.exit_code, runner.run_dir)
    return summary["global_step"] / summary["wall_time_s"]


def median(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.median(vals) if len(vals) == len(xs) and vals else None


def solved_steps(times: list[float | None], steps: list[int]) -> list[int | None]:
    """The env steps of the runs that solved, None for those that did not: a run that never solved
    stopped at its budget, which is no number of steps to solve."""
    return [None if t is None else n for t, n in zip(times, steps)]


def fps_steps(text: str) -> int:
    """--fps-steps: a count, or 0 to skip the throughput part."""
    return 0 if text.strip() == "0" else benchkit.count(text)


def parse() -> argparse.Namespace:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=benchkit.seeds, default="0,1,2")
    p.add_argument("--eval-every", type=benchkit.count, default=2048, help="env steps between evaluations (both arms)")
    p.add_argument("--max-steps", type=benchkit.count, default=100_000)
    p.add_argument("--fps-steps", type=fps_steps, default=20_000, help="steps per throughput run (0 = skip)")
    p.add_argument("--only-fps", action="store_true", help="measure the throughput parity alone")
    p.add_argument("overrides", nargs="*", help="overrides of ppo_cartpole for the time-to-solve rlgen arm (to try a "
                   "setting); the throughput arm runs SB3's settings as they are")
    args = p.parse_args()
    if args.only_fps and args.overrides:
        p.error(f"--only-fps runs the throughput arm alone, SB3's zoo settings in both libraries, which takes no "
                f"overrides (they are the time-to-solve arm's): drop {' '.join(args.overrides)} or --only-fps")
    if not args.only_fps and (n := args.eval_every) % ZOO_ENVS:  # SB3's EvalCallback counts calls, one per step of all its envs
        p.error(f"--eval-every {n} is not a multiple of {ZOO_ENVS}: SB3's arm would evaluate every {n} // {ZOO_ENVS} = "
                f"{n // ZOO_ENVS} steps of its {ZOO_ENVS} envs{' (never)' if n < ZOO_ENVS else ''}; give e.g. "
                f"{-(-n // ZOO_ENVS) * ZOO_ENVS}")
    if args.only_fps and not args.fps_steps:
        p.error("--only-fps with --fps-steps 0 measures nothing")
    # every override checked before the first run (a typo fails now, not after SB3's arm)
    load_config(ROOT / "configs/ppo_cartpole.yaml", args.overrides)
    return args


def main() -> None:
    args = parse()
    torch.set_num_threads(1)  # both arms: the fastest setting for a small MLP (see rlgen.process.default_threads)
    seeds = args.seeds
    console = Console()
    rows: dict[str, list] = {k: [] for k in ("sb3_t", "sb3_n", "rl_t", "rl_n", "sb3_fps", "rl_fps")}
    with TemporaryDirectory() as tmp:
        for seed in seeds:
            if not args.only_fps:
                t, n = sb3_time_to_solve(seed, args.eval_every, args.max_steps)
                rows["sb3_t"].append(t), rows["sb3_n"].append(n)
                t, n = rlgen_time_to_solve(seed, args.eval_every, args.max_steps, tmp, args.overrides)
                rows["rl_t"].append(t), rows["rl_n"].append(n)
                console.print(f"seed {seed}: SB3 {_s(rows['sb3_t'][-1])} at {rows['sb3_n'][-1]:,} steps | "
                              f"rlgen {_s(rows['rl_t'][-1])} at {rows['rl_n'][-1]:,} steps")
            if args.fps_steps:
                rows["sb3_fps"].append(sb3_steps_per_s(seed, args.fps_steps))
                rows["rl_fps"].append(rlgen_steps_per_s(seed, args.fps_steps, tmp))
                console.print(f"seed {seed}: steps/s SB3 {rows['sb3_fps'][-1]:,.0f} | rlgen {rows['rl_fps'][-1]:,.0f}")
    _report(console, rows, seeds, args)


def _report(console: Console, rows: dict[str, list], seeds: list[int], args: argparse.Namespace) -> None:
    table = Table(title=f"CartPole-v1, eval mean >= {TARGET:g} (10 deterministic episodes every "
                        f"{args.eval_every:,} steps), seeds {seeds}, 1 torch thread")
    for col in ("", "raw SB3 (zoo + EvalCallback)", "rlgen (configs/ppo_cartpole.yaml)", "rlgen / SB3"):
        table.add_column(col, justify="right")
    if rows["sb3_t"]:
        st, rt = median(rows["sb3_t"]), median(rows["rl_t"])
        table.add_row("median wall time to solve (s)", _s(st), _s(rt), _ratio(rt, st))
        table.add_row("per seed (s)", " ".join(_s(x) for x in rows["sb3_t"]),
                      " ".join(_s(x) for x in rows["rl_t"]), "")
        sn, rn = (solved_steps(rows[t], rows[n]) for t, n in (("sb3_t", "sb3_n"), ("rl_t", "rl_n")))
        table.add_row("median env steps to solve", _n(median(sn)), _n(median(rn)), _ratio(median(rn), median(sn)))
        table.add_row("seeds solved", *(f"{sum(x is not None for x in xs)} of {len(xs)}" for xs in (sn, rn)), "")
    if rows["sb3_fps"]:
        sf, rf = statistics.median(rows["sb3_fps"]), statistics.median(rows["rl_fps"])
        table.add_row(f"training steps/s, identical zoo settings ({args.fps_steps:,} steps, no eval)",
                      f"{sf:,.0f}", f"{rf:,.0f}", _ratio(rf, sf))
    console.print(table)
    if rows["sb3_t"]:
        _per_seed(console, rows, seeds)


def _per_seed(console: Console, rows: dict[str, list], seeds: list[int]) -> None:
    table = Table(title="per seed: time to solve, rlgen against SB3 on the same seed (target <= 0.50x)")
    for col in ("seed", "SB3 s", "SB3 steps", "rlgen s", "rlgen steps", "rlgen / SB3", "target"):
        table.add_column(col, justify="right")
    met = 0
    for i, seed in enumerate(seeds):
        st, rt = rows["sb3_t"][i], rows["rl_t"][i]
        ok = rt is not None and (st is None or rt <= 0.5 * st)
        met += ok
        table.add_row(str(seed), _s(st), f"{rows['sb3_n'][i]:,}", _s(rt), f"{rows['rl_n'][i]:,}", _ratio(rt, st),
                      "met" if ok else "missed")
    console.print(table)
    console.print(f"rlgen within 0.5x of SB3's time on {met} of {len(seeds)} seeds")
    # A seed number means nothing across two libraries (each draws its own numbers from it), so
    # every rlgen run against every SB3 run says how likely one seed is to miss, and 10 of 10 to hold.
    pairs = [(rt, st) for rt in rows["rl_t"] for st in rows["sb3_t"]]
    held = sum(rt is not None and (st is None or rt <= 0.5 * st) for rt, st in pairs)
    p_miss = 1 - held / len(pairs)
    console.print(f"every rlgen run against every SB3 run: within 0.5x in {held} of {len(pairs)} pairs "
                  f"({p_miss:.1%} miss), so 10 of 10 seeds would hold with chance {(1 - p_miss) ** 10:.2f}")


def _s(x: float | None) -> str:
    return "unsolved" if x is None else f"{x:.2f}"


def _n(x: float | None) -> str:
    return "unsolved" if x is None else f"{x:,.0f}"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or b is None else f"{a / b:.2f}x"


if __name__ == "__main__":
    benchkit.main(main)
