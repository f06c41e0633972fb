"""Transfer on MinAtar: does a backbone pretrained on random-policy frames help PPO?

Side by side in one process, seeds interleaved so machine noise hits every arm alike, all through
rlgen's runner with the same env-step budget, PPO settings and evaluation for every arm
(configs/ppo_minatar_breakout.yaml: the MinAtar paper's network, one 3x3 conv of 16 channels and
128 units; 8 envs, n_steps 128; 10 deterministic episodes every `--eval-every` steps):

1. per game, pretraining once (its cost is printed, so the totals are honest):
   - an autoencoder on 20,000 random-policy frames (configs/autoencoder_minatar_breakout.yaml)
   - a GAN on the same frames (configs/gan_minatar_breakout.yaml); its discriminator's trunk
2. PPO arms, each seed:
   - scratch:      the CNN from random weights
   - ae_frozen:    the autoencoder's encoder, frozen (only the policy and value heads learn)
   - ae_finetuned: the same encoder, trained on at its own learning rate (init.lr)
   - gan_frozen:   the GAN discriminator's trunk, frozen
   Printed: the final return (mean over seeds of the last evaluation), the steps and wall time to
   first reach a return threshold, and the pretraining cost.
3. steps/s of PPO with a CNN, 8 envs, n_steps 128, batch 256, 4 epochs, 1 torch thread:
   - rlgen:            ppo_minatar_breakout through rlgen's runner, 10x10x4 frames
   - sb3 + rlgen cnn:  the same network in raw SB3 (its learn() loop, no rlgen runner)
   - sb3 CnnPolicy:    SB3's own NatureCNN, which needs at least 36x36 inputs: the frames are
                       scaled up 4x to 40x40 (nearest neighbour) as uint8 images, the smallest
                       SB3-native setup that runs on MinAtar
   The MinAtar paper (Young & Tian 2019) trains DQN for 5M frames; the budget here is a small
   fraction of that, printed beside the results.

    nice -n 10 python benchmarks/transfer.py                 # 2 games x 4 arms x 3 seeds, ~35 min on 2 cores
    python benchmarks/transfer.py --games Breakout --seeds 0 --steps 30000 --ae-steps 200 --gan-steps 200
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import benchkit
import gymnasium as gym
import numpy as np
import torch
from rich.console import Console
from rich.table import Table

from rlgen.api import train

QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]
PAPER_FRAMES = 5_000_000
THRESHOLDS = {"Breakout": 5.0, "SpaceInvaders": 20.0, "Asterix": 3.0, "Freeway": 20.0, "Seaquest": 3.0}
ARMS = {
    "scratch": [],
    "ae_frozen": ["init={run: AE, role: encoder, freeze: true}"],
    "ae_finetuned": ["init={run: AE, role: encoder, freeze: false, lr: 1.0e-4}"],
    "gan_frozen": ["init={run: GAN, role: discriminator, freeze: true}"],
}


def env_id(game: str) -> str:
    return f"MinAtar/{game}-v1"


def pretrain(game: str, args: argparse.Namespace, tmp: Path) -> dict[str, tuple[Path, float]]:
    """The autoencoder and GAN runs of one game: run directory and wall seconds (collecting the
    frames included)."""
    out = {}
    for key, config, steps in (("AE", "autoencoder_minatar_breakout", args.ae_steps),
                               ("GAN", "gan_minatar_breakout", args.gan_steps)):
        t0 = time.perf_counter()
        run = benchkit.finished(train(config, [*QUIET, f"logging.dir={tmp}", f"data.kwargs.env_id={env_id(game)}",
                                               f"train.total_steps={steps}", f"train.eval_every={steps}", "seed=0"]))
        out[key] = (run.run_dir, time.perf_counter() - t0)
    return out


def ppo(game: str, arm: str, seed: int, pre: dict[str, tuple[Path, float]], args: argparse.Namespace,
        tmp: Path) -> dict[str, Any]:
    init = [o.replace("AE", f"'{pre['AE'][0]}'").replace("GAN", f"'{pre['GAN'][0]}'") for o in ARMS[arm]]
    threshold = THRESHOLDS.get(game, 1.0)
    overrides = [*QUIET, f"logging.dir={tmp}", f"env.id={env_id(game)}", f"seed={seed}",
                 f"train.total_steps={args.steps}", f"train.eval_every={args.eval_every}",
                 *(f"agent.policy.backbone.{o}" for o in init)]
    summary = benchkit.finished(train("ppo_minatar_breakout", overrides)).summary
    curve = _evals(Path(summary["run_dir"]))
    reached = next(((step, wall) for step, ret, wall in curve if ret >= threshold), None)
    return {"final": curve[-1][1], "best": max(r for _, r, _ in curve), "reached": reached,
            "wall": summary["wall_time_s"]}


def _evals(run_dir: Path) -> list[tuple[int, float, float]]:
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [(r["global_step"], r["eval/return_mean"], r["eval/wall_time_s"]) for r in rows if "eval/return_mean" in r]


# --- steps/s: rlgen vs SB3 ------------------------------------------------------------------------


class Upscale(gym.ObservationWrapper):
    """(10, 10, C) bool -> (10k, 10k, C) uint8 in {0, 255}: an image SB3's NatureCNN accepts."""

    def __init__(self, env: gym.Env, k: int = 4):
        super().__init__(env)
        h, w, c = env.observation_space.shape
        self.k = k
        self.observation_space = gym.spaces.Box(0, 255, (h * k, w * k, c), dtype=np.uint8)

    def observation(self, obs: np.ndarray) -> np.ndarray:
        return np.kron(obs.astype(np.uint8) * 255, np.ones((self.k, self.k, 1), dtype=np.uint8))


def speed(game: str, steps: int, tmp: Path) -> dict[str, float]:
    """Training steps/s of the three setups (after one rollout of warm-up each)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from rlgen.agents.rl.sb3_bridge import BackboneExtractor
    from rlgen.envs import ensure_registered

    torch.set_num_threads(1)
    hp = {"n_steps": 128, "batch_size": 256, "n_epochs": 4, "gamma": 0.99, "gae_lambda": 0.95, "ent_coef": 0.01,
          "clip_range": 0.2, "max_grad_norm": 0.5, "learning_rate": 5e-4}
    cnn = {"type": "cnn", "channels": [16], "kernels": [3], "strides": [1], "hidden": 128}
    out = {}
    summary = benchkit.finished(train("ppo_minatar_breakout", [
        *QUIET, f"logging.dir={tmp}", f"env.id={env_id(game)}", f"train.total_steps={steps + 1024}",
        f"train.eval_every={10 * steps}"])).summary
    out["rlgen (10x10x4, rlgen cnn)"] = _training_rate(Path(summary["run_dir"]))
    setups = {
        "sb3 + rlgen cnn (10x10x4)": (dict(features_extractor_class=BackboneExtractor,
                                            features_extractor_kwargs={"backbone": cnn}, net_arch=[]), None, "MlpPolicy"),
        "sb3 CnnPolicy (NatureCNN, 40x40x4)": ({}, Upscale, "CnnPolicy"),
    }
    for name, (kwargs, wrapper, policy) in setups.items():
        env = make_vec_env(ensure_registered(env_id(game)), n_envs=8, seed=0, wrapper_class=wrapper)
        out[name] = sb3_rate(PPO(policy, env, policy_kwargs=kwargs, seed=0, device="cpu", verbose=0, **hp), steps)
        env.close()
    return out


def sb3_rate(model: Any, steps: int) -> float:
    """Training steps/s of a raw SB3 model after one rollout and update of warm-up. Counted are the
    steps it ran, not `steps`: SB3 runs whole rollouts, so 100 steps ran 1,024 with 8 envs x 128."""
    benchkit.quiet_sb3(model)
    model.learn(model.n_steps * model.n_envs)
    before = model.num_timesteps
    t0 = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return (model.num_timesteps - before) / (time.perf_counter() - t0)


def _training_rate(run_dir: Path) -> float:
    """Env steps per second of training units (the runner's time/fps rows), the first one (the
    warm-up, as for SB3 above) and evaluation left out."""
    import json

    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    units = [(r["global_step"], r["time/fps"]) for r in rows if "time/fps" in r]
    steps = [b[0] - a[0] for a, b in zip(units, units[1:])]
    seconds = [n / fps for n, (_, fps) in zip(steps, units[1:])]
    return sum(steps) / sum(seconds)


# --- report ---------------------------------------------------------------------------------------


def mean(values: list[float]) -> str:
    return f"{statistics.mean(values):.2f} ± {statistics.pstdev(values):.2f}" if values else "-"


def table(game: str, results: dict[str, list[dict[str, Any]]], pre: dict[str, tuple[Path, float]],
          args: argparse.Namespace) -> Table:
    threshold = THRESHOLDS.get(game, 1.0)
    t = Table(title=f"MinAtar {game}: PPO, {args.steps:,} env steps a run ({args.steps / PAPER_FRAMES:.1%} of the "
                    f"paper's 5M frames), {len(args.seeds)} seeds")
    for col in ("arm", "final return", "best eval", f"reached {threshold:g}", "median steps to it",
                "median wall s to it", "PPO wall s", "pretraining s"):
        t.add_column(col, justify="right" if col != "arm" else "left")
    for arm, runs in results.items():
        hit = [r["reached"] for r in runs if r["reached"] is not None]
        cost = {"ae_frozen": "AE", "ae_finetuned": "AE", "gan_frozen": "GAN"}.get(arm)
        t.add_row(arm, mean([r["final"] for r in runs]), mean([r["best"] for r in runs]), f"{len(hit)}/{len(runs)}",
                  f"{statistics.median(s for s, _ in hit):,.0f}" if hit else "-",
                  f"{statistics.median(w for _, w in hit):.0f}" if hit else "-",
                  f"{statistics.mean(r['wall'] for r in runs):.0f}", f"{pre[cost][1]:.0f}" if cost else "0")
    return t


def main() -> None:
    parser = benchkit.Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--games", nargs="+", action=benchkit.Distinct, default=["Breakout", "SpaceInvaders"], choices=list(THRESHOLDS),
                        help="MinAtar games")
    parser.add_argument("--seeds", type=benchkit.seed, nargs="+", action=benchkit.Distinct, default=[0, 1, 2])
    parser.add_argument("--steps", type=benchkit.count, default=150_000, help="PPO env steps per run")
    parser.add_argument("--eval-every", type=benchkit.count, default=15_000)
    parser.add_argument("--ae-steps", type=benchkit.count, default=1000, help="autoencoder gradient steps (batch 128)")
    parser.add_argument("--gan-steps", type=benchkit.count, default=1000, help="GAN generator steps (batch 128)")
    parser.add_argument("--speed-steps", type=benchkit.count, default=20_480,
                        help="steps timed per setup in the speed part (SB3 runs whole rollouts of 1,024)")
    parser.add_argument("--speed-game", default="Breakout", choices=list(THRESHOLDS), help="the game of the speed part")
    args = parser.parse_args()
    console = Console(width=150)
    t_start = time.perf_counter()
    with TemporaryDirectory(prefix="rlgen-transfer-") as tmp_name:
        tmp = Path(tmp_name)
        for game in args.games:
            pre = pretrain(game, args, tmp)
            console.print(f"{game}: autoencoder {pre['AE'][1]:.0f} s, GAN {pre['GAN'][1]:.0f} s of pretraining "
                          "(frame collection included)")
            results: dict[str, list[dict[str, Any]]] = {arm: [] for arm in ARMS}
            for seed in args.seeds:  # interleaved: machine noise hits every arm alike
                for arm in ARMS:
                    results[arm].append(ppo(game, arm, seed, pre, args, tmp))
                    r = results[arm][-1]
                    console.print(f"  {arm:<13} seed {seed}: final {r['final']:.2f}, best {r['best']:.2f}, "
                                  f"reached {r['reached']}, {r['wall']:.0f} s")
            console.print(table(game, results, pre, args))
        rates = speed(args.speed_game, args.speed_steps, tmp)
    t = Table(title=f"PPO steps/s on MinAtar {args.speed_game} (8 envs, n_steps 128, batch 256, 4 epochs, 1 thread)")
    t.add_column("setup")
    t.add_column("steps/s", justify="right")
    t.add_column("vs sb3 CnnPolicy", justify="right")
    base = rates["sb3 CnnPolicy (NatureCNN, 40x40x4)"]
    for name, rate in rates.items():
        t.add_row(name, f"{rate:,.0f}", f"{rate / base:.2f}x")
    console.print(t)
    console.print(f"whole benchmark: {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    benchkit.main(main)
