"""Adversarial imitation side by side: the `imitation` library's GAIL and AIRL against rlgen's.

On CartPole-v1 and Pendulum-v1, with the same demos (recorded by `rlgen record` from the bundled
experts ppo_cartpole, trained on until a 50-episode evaluation returns 500, and sac_pendulum, 10
episodes each), the same env-step budget and the same
seeds, each run stopping once a 10-episode deterministic evaluation reaches 0.95 of the expert:

  (a) imitation 1.0.1's GAIL and AIRL with its documented settings (CartPole: the GAIL and AIRL
      tutorials' PPO and trainer settings; Pendulum: its train_adversarial `pendulum` config, PPO
      with the rl ingredient's defaults), in a venv of their own (imitation pins gymnasium ~=0.29
      and SB3 ~=2.2.1), the demos converted to its `Trajectory` format;
  (b) rlgen GAIL, the same algorithm as (a): plain BCE, no gradient penalty, R1 or spectral norm,
      reward -log(1 - D), no absorbing states; otherwise (c)'s learner and discriminator;
  (c) rlgen's bundled configs, gail_cartpole and gail_pendulum as they ship;
  (d) BC: bc_cartpole, and on Pendulum the same held-out early stopping with gail_pendulum's SAC policy.

Printed for each: the final expert ratio per seed ((R - random) / (expert - random), D4RL's
normalized score), env steps and wall time to 0.95 (training and evaluation time, as the runner
counts it), and the discriminator's accuracy averaged over training (the mean of its accuracies
on expert and learner batches). Targets: (c) reaches 0.95 on both envs with 4 demos on every seed
in at most half the env steps and wall time of imitation's best; (c) beats (b) on Pendulum.

    python benchmarks/imitation.py                                  # 4 demos, seeds 0 1 2 (~15-30 min on 2 cores)
    python benchmarks/imitation.py --demos 1 4 10                   # the whole matrix, about 3x as long
    python benchmarks/imitation.py --envs Pendulum-v1 --methods b c --full-budget   # no stop at 0.95: stability

The imitation venv is built once, in .venv-imitation (`--venv`), by `pip install imitation==1.0.1
torch==2.13.0` (pass `--pip-args "--extra-index-url https://download.pytorch.org/whl/cpu"` where
the plain install would pull CUDA wheels).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import benchkit
from omegaconf import OmegaConf
from rich.console import Console
from rich.table import Table

import rlgen
from rlgen.envs.demos import read_demos, write_demos
from rlgen.errors import RlgenError

ROOT = Path(__file__).resolve().parent.parent
QUIET = ["logging.wandb.mode=disabled", "logging.console=false", "train.progress=false"]
TARGET = 0.95
RECORDED = 10  # expert episodes recorded per env; --demos takes the first N of them

# (b): the algorithm of (a) inside rlgen, on (c)'s learner and discriminator
PLAIN = ["discriminator.loss=non_saturating", "discriminator.gradient_penalty=0", "discriminator.r1=0",
         "discriminator.spectral_norm=false", "imitation.reward=positive", "imitation.terminal=none"]

ENVS: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        # 15 of imitation's 16,384-step rounds: enough for its GAIL to reach 0.95 (147k-229k steps measured before)
        "expert": "ppo_cartpole", "config": "gail_cartpole", "budget": 245_760,
        # the config stops at a 10-episode mean of 475, which an expert that still fails some starts
        # can reach (seed 0: 500 on its 10, 479 on the 10 recorded): train on until 50 of 50 return 500
        "expert_overrides": ["train.eval_episodes=50", "train.early_stop.target=500"],
        # imitation's docs: GAIL and AIRL tutorials (8 envs, PPO with SB3's n_steps 2048: 16,384 steps a round)
        "imitation": {
            "gail": {"n_envs": 8, "ppo": {"batch_size": 64, "ent_coef": 0.0, "learning_rate": 4e-4, "gamma": 0.95,
                                          "n_epochs": 5},
                     "trainer": {"demo_batch_size": 1024, "gen_replay_buffer_capacity": 512,
                                 "n_disc_updates_per_round": 8}},
            "airl": {"n_envs": 8, "ppo": {"batch_size": 64, "ent_coef": 0.0, "learning_rate": 5e-4, "gamma": 0.95,
                                          "clip_range": 0.1, "vf_coef": 0.1, "n_epochs": 5},
                     "trainer": {"demo_batch_size": 2048, "gen_replay_buffer_capacity": 512,
                                 "n_disc_updates_per_round": 16}},
        },
    },
    "Pendulum-v1": {
        "expert": "sac_pendulum", "config": "gail_pendulum", "budget": 20_000,
        # imitation's train_adversarial `pendulum`: the rl ingredient's PPO (2,048 steps a round over 8
        # envs, lr 3e-4, minibatch 64, 10 epochs) and the script's defaults (demo batch 1,024, 4 disc updates)
        "imitation": {algo: {"n_envs": 8, "ppo": {"n_steps": 256, "batch_size": 64, "learning_rate": 3e-4,
                                                  "n_epochs": 10, "ent_coef": 0.0},
                             "trainer": {"demo_batch_size": 1024, "gen_replay_buffer_capacity": 2048,
                                         "n_disc_updates_per_round": 4}} for algo in ("gail", "airl")},
    },
}

# Run in the imitation venv: one GAIL or AIRL run, one JSON line per round (its training unit).
CHILD = r'''
import json, sys, time
import numpy as np, torch
from imitation.algorithms.adversarial.airl import AIRL
from imitation.algorithms.adversarial.gail import GAIL
from imitation.data.types import Trajectory
from imitation.data.wrappers import RolloutInfoWrapper
from imitation.rewards.reward_nets import BasicRewardNet, BasicShapedRewardNet
from imitation.util import networks
from imitation.util.util import make_vec_env
from stable_baselines3 import PPO
from stable_baselines3.common.evaluation import evaluate_policy

a = json.loads(sys.argv[1])
torch.set_num_threads(1)
d = np.load(a["demos"])
trajs, start = [], 0
for n in d["lengths"]:
    end = start + int(n)
    obs = np.concatenate([d["observations"][start:end], d["next_observations"][end - 1:end]])
    trajs.append(Trajectory(obs=obs, acts=d["actions"][start:end], infos=None, terminal=bool(d["terminations"][end - 1])))
    start = end
venv = make_vec_env(a["env"], n_envs=a["n_envs"], rng=np.random.default_rng(a["seed"]),
                    post_wrappers=[lambda env, _: RolloutInfoWrapper(env)])
eval_env = make_vec_env(a["env"], n_envs=10, rng=np.random.default_rng(a["seed"] + 10_000))
learner = PPO("MlpPolicy", venv, seed=a["seed"], **a["ppo"])
net = (BasicShapedRewardNet if a["algo"] == "airl" else BasicRewardNet)(
    venv.observation_space, venv.action_space, normalize_input_layer=networks.RunningNorm)
trainer = (AIRL if a["algo"] == "airl" else GAIL)(demonstrations=trajs, venv=venv, gen_algo=learner, reward_net=net,
                                                  allow_variable_horizon=True, **a["trainer"])
wall, accuracies = 0.0, []
while learner.num_timesteps < a["budget"]:
    t0 = time.perf_counter()
    trainer.train_gen(trainer.gen_train_timesteps)  # what trainer.train() does each round
    for _ in range(trainer.n_disc_updates_per_round):
        with networks.training(trainer.reward_train):
            stats = trainer.train_disc()
        accuracies.append(0.5 * (stats["disc_acc_expert"] + stats["disc_acc_gen"]))
    returns, _ = evaluate_policy(learner, eval_env, n_eval_episodes=10, deterministic=True, return_episode_rewards=True)
    wall += time.perf_counter() - t0
    ratio = (float(np.mean(returns)) - a["random"]) / (a["expert"] - a["random"])
    print(json.dumps({"step": int(learner.num_timesteps), "wall": wall, "ratio": ratio,
                      "disc_acc": float(np.mean(accuracies))}), flush=True)
    if ratio >= a["target"] and not a["full"]:
        break
'''


BUILT = ".rlgen-built"  # written into the venv last: a build cut short or failed has none


def imitation_python(venv: Path, pip_args: list[str], console: Console) -> Path:
    """The imitation venv's python, built on first use. A failed build is removed, so the next run
    builds afresh; before, its half-made venv passed for a built one (only bin/python was looked for)."""
    python = venv / "bin" / "python"
    if (venv / BUILT).exists():
        return python
    if venv.exists() and any(venv.iterdir()):
        if not _imports_imitation(python):  # a folder this script did not finish, or not a venv at all
            raise RlgenError(f"--venv {venv}: a folder without a working imitation venv; remove it, or give "
                             "another --venv")
        (venv / BUILT).touch()  # built before the marker was written
        return python
    console.print(f"building the imitation venv in {venv} (once) ...")
    t0 = time.perf_counter()
    try:
        for cmd in ([sys.executable, "-m", "venv", str(venv)],
                    [str(python), "-m", "pip", "install", "-q", "imitation==1.0.1", "torch==2.13.0", *pip_args]):
            benchkit.check_process(subprocess.run(cmd).returncode, "(its output is above)",
                                   f"building the imitation venv in {venv} ({' '.join(cmd[:4])} ...)")
    except BaseException:  # a failure, or Ctrl-C: nothing half-built stays
        shutil.rmtree(venv, ignore_errors=True)
        raise
    (venv / BUILT).touch()
    console.print(f"  built in {time.perf_counter() - t0:.0f} s")
    return python


def _imports_imitation(python: Path) -> bool:
    return python.exists() and subprocess.run([str(python), "-c", "import imitation"], capture_output=True).returncode == 0


def make_demos(env_id: str, work: Path, console: Console) -> tuple[Path, dict[str, float]]:
    """Train the bundled expert (seed 0) and record 10 episodes of it."""
    spec = ENVS[env_id]
    run = benchkit.finished(rlgen.train(spec["expert"], [*spec.get("expert_overrides", []), f"logging.dir={work}",
                                                         *QUIET]))
    path = rlgen.record(run.run_dir, RECORDED, work / f"demos-{spec['expert']}")
    meta = read_demos(path).metadata
    console.print(f"{env_id}: expert {spec['expert']} return {meta['expert_return']:.1f} "
                  f"(random {meta['random_return']:.1f}), trained {run.summary['wall_time_s']:.0f} s")
    return path, meta


def rlgen_run(config: Any, overrides: list[str], seed: int, work: Path, budget: int | None = None,
              full: bool = False) -> dict[str, Any]:
    """One rlgen run; `budget` None (BC): the config's own gradient steps, no env steps at all.
    `full`: no early stop, the whole budget (steps to 0.95 are then the first evaluation there)."""
    extra = [f"train.total_steps={budget}"] if budget is not None else []
    if full and budget is not None:
        extra.append("train.early_stop.target=null")
    run = benchkit.finished(rlgen.train(config, [f"seed={seed}", *extra, f"logging.dir={work}", *QUIET, *overrides]))
    summary = run.summary
    rows = [json.loads(line) for line in (run.run_dir / "metrics.jsonl").read_text().splitlines()]
    accuracies = [0.5 * (r["gan/accuracy_expert"] + r["gan/accuracy_learner"]) for r in rows if "gan/accuracy_expert" in r]
    evals = [r for r in rows if "eval/expert_ratio" in r]
    ratio = evals[-1]["eval/expert_ratio"]
    hit = next((r for r in evals if r["eval/expert_ratio"] >= TARGET), None)
    steps = hit and (0 if budget is None else hit["global_step"])  # BC steps no env: 0 env steps when it gets there
    return {"ratio": ratio, "steps": steps, "wall": hit and hit["eval/wall_time_s"],
            "acc": statistics.mean(accuracies) if accuracies else None, "total_wall": summary["wall_time_s"],
            "last3": statistics.mean(r["eval/expert_ratio"] for r in evals[-3:])}


def imitation_run(python: Path, algo: str, env_id: str, demos: Path, n: int, meta: dict[str, float], seed: int,
                  work: Path, budget: int, full: bool = False) -> dict[str, Any]:
    npz = work / f"demos-{env_id}-{n}.npz"
    if not npz.exists():
        write_demos(read_demos(demos).first(n), npz)
    spec = ENVS[env_id]
    settings = spec["imitation"][algo]
    # imitation refuses a demo batch larger than the demos (4 CartPole episodes are 2,000 transitions,
    # AIRL's tutorial batch is 2,048): the batch is then all of them
    rows = int(read_demos(npz).lengths.sum())
    trainer = {**settings["trainer"], "demo_batch_size": min(settings["trainer"]["demo_batch_size"], rows)}
    args = {"env": env_id, "algo": algo, "demos": str(npz), "seed": seed, "budget": budget, "target": TARGET,
            "expert": meta["expert_return"], "random": meta["random_return"], **settings, "trainer": trainer,
            "full": full}
    script = work / "imitation_child.py"
    script.write_text(CHILD)
    out = subprocess.run([str(python), str(script), json.dumps(args)], capture_output=True, text=True)
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    benchkit.check_process(out.returncode, out.stderr, f"imitation {algo} on {env_id}")
    if not rows:
        raise RlgenError(f"imitation {algo} on {env_id} printed no round; its output ends:\n{out.stderr[-3000:]}")
    hit = next((r for r in rows if r["ratio"] >= TARGET), None)
    return {"ratio": rows[-1]["ratio"], "steps": hit and hit["step"], "wall": hit and hit["wall"],
            "acc": rows[-1]["disc_acc"], "total_wall": rows[-1]["wall"],
            "last3": statistics.mean(r["ratio"] for r in rows[-3:])}


def bc_config(env_id: str) -> Any:
    if env_id == "CartPole-v1":
        return "bc_cartpole"
    raw: Any = OmegaConf.to_container(OmegaConf.load(ROOT / "configs" / f"{ENVS[env_id]['config']}.yaml"))
    for key in ("imitation", "discriminator"):
        raw.pop(key)
    raw.update(name="bc_pendulum", kind="bc", bc={"loss": "nll", "batch_size": 64, "holdout": 0.25})
    raw["train"].update(total_steps=3000, eval_every=100, early_stop={"metric": "eval/bc_val_loss", "mode": "min",
                                                                      "patience": 5})
    return raw


def median(values: list[float], fmt: str) -> str:
    return format(statistics.median(values), fmt) if values else "-"


def table(env_id: str, n: int, results: dict[str, list[dict[str, Any]]], budget: int, full: bool) -> Table:
    runs_to = "the whole budget" if full else f"at most, stopping at {TARGET} of the expert"
    t = Table(title=f"{env_id}, {n} expert episode(s), {budget:,} env steps {runs_to}")
    for col in ("method", "final expert ratio per seed", *(["mean of the last 3 evals"] if full else []), "reached",
                "median env steps to 0.95", "median wall s to 0.95", "disc. accuracy (mean over training)"):
        t.add_column(col, justify="left" if col == "method" else "right")
    for method, runs in results.items():
        hit = [r for r in runs if r["steps"] is not None]
        accs = [r["acc"] for r in runs if r["acc"] is not None]
        last = [" ".join(f"{r['last3']:.2f}" for r in runs)] if full else []
        t.add_row(method, " ".join(f"{r['ratio']:.2f}" for r in runs), *last, f"{len(hit)}/{len(runs)}",
                  median([r["steps"] for r in hit], ",.0f"), median([r["wall"] for r in hit], ".1f"),
                  " ".join(f"{a:.2f}" for a in accs) or "-")
    return t


METHODS = {"a": ("imitation GAIL", "imitation AIRL"), "b": ("rlgen GAIL, plain BCE",),
           "c": ("rlgen best (bundled config)",), "d": ("BC",)}


def demos_count(text: str) -> int:
    """--demos N: 1 to the number of episodes recorded."""
    n = benchkit.count(text)
    if n > RECORDED:
        raise argparse.ArgumentTypeError(f"{n} expert episodes: {RECORDED} are recorded, give 1 to {RECORDED}")
    return n


def main() -> None:
    parser = benchkit.Parser(description=__doc__.split("\n")[0])
    parser.add_argument("--envs", nargs="+", action=benchkit.Distinct, default=list(ENVS), choices=list(ENVS))
    parser.add_argument("--demos", type=demos_count, nargs="+", action=benchkit.Distinct, default=[4],
                        help=f"expert episodes (of the {RECORDED} recorded)")
    parser.add_argument("--seeds", type=benchkit.seed, nargs="+", action=benchkit.Distinct, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", action=benchkit.Distinct, default=list(METHODS), choices=list(METHODS))
    parser.add_argument("--venv", type=benchkit.output_folder, default=ROOT / ".venv-imitation", help="the imitation library's venv")
    parser.add_argument("--pip-args", default="", help="extra pip arguments for building that venv")
    parser.add_argument("--budget-scale", type=benchkit.positive, default=1.0,
                        help="scale every env-step budget (quick checks)")
    parser.add_argument("--full-budget", action="store_true",
                        help="no stop at 0.95: every run uses its whole budget (is the imitation stable?)")
    args = parser.parse_args()
    console = Console(width=160)
    python = imitation_python(args.venv, args.pip_args.split(), console) if "a" in args.methods else None
    tables = []
    with TemporaryDirectory() as d:
        work = Path(d)
        for env_id in args.envs:
            spec = ENVS[env_id]
            budget = max(1, int(spec["budget"] * args.budget_scale))
            demos, meta = make_demos(env_id, work, console)
            for n in args.demos:
                demo = [f"demos.path={demos}", f"demos.episodes={n}"]
                results: dict[str, list[dict[str, Any]]] = {m: [] for k in args.methods for m in METHODS[k]}
                for seed in args.seeds:  # seeds outermost: machine noise hits every method alike
                    for method in results:
                        if method.startswith("imitation"):
                            r = imitation_run(python, method.split()[1].lower(), env_id, demos, n, meta, seed, work,
                                              budget, args.full_budget)
                        elif method == "BC":
                            r = rlgen_run(bc_config(env_id), demo, seed, work)
                        else:
                            extra = PLAIN if method.startswith("rlgen GAIL") else []
                            r = rlgen_run(spec["config"], [*demo, *extra], seed, work, budget, args.full_budget)
                        results[method].append(r)
                        console.print(f"{env_id} demos={n} seed={seed} {method}: ratio {r['ratio']:.3f}, steps to "
                                      f"{TARGET} {r['steps']}, wall to it {r['wall']}, whole run {r['total_wall']:.1f} s")
                tables.append(table(env_id, n, results, budget, args.full_budget))
                console.print(tables[-1])
    for t in tables:
        console.print(t)


if __name__ == "__main__":
    benchkit.main(main)
