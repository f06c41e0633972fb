"""sklearn digits: the Fréchet classifier distance of generated digits against the same distance
between two halves of the real data.

The distance is taken in the 64 features of rlgen's small digits classifier (trained locally
once and cached). Real half vs real half is the floor a perfect generator could reach with
samples of that size; the GANs are scored on 1,000 samples against all 1,797 real digits.

    python benchmarks/gan_digits.py                           # DCGAN and conditional, seed 0
    python benchmarks/gan_digits.py --seeds 0 1 --steps 1000
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch

from rlgen import api
from rlgen.agents.gan.classifier import load_classifier
from rlgen.agents.gan.metrics import frechet_from_features
from rlgen.envs.datasets import digits

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def real_halves(seeds: list[int]) -> list[float]:
    src = digits()
    net = load_classifier(src.x, src.y)
    with torch.no_grad():
        feats = net.features(torch.as_tensor(src.x)).numpy()
    out = []
    for seed in seeds:
        order = np.random.default_rng(seed).permutation(len(feats))
        half = len(feats) // 2
        out.append(frechet_from_features(feats[order[:half]], feats[order[half:]]))
    return out


def train(config: str, seed: int, steps: int | None, out: Path) -> dict:
    overrides = [f"seed={seed}", f"logging.dir={out}", "logging.wandb.mode=disabled", "logging.console=false",
                 "train.progress=false", "device=auto"]
    if steps:
        overrides += [f"train.total_steps={steps}", f"train.eval_every={steps}"]
    summary = api.train(CONFIGS / f"{config}.yaml", overrides).summary
    return {**summary["final"], "it/s": summary["global_step"] / summary["wall_time_s"], "best": summary["best"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=None, help="default: each config's train.total_steps")
    p.add_argument("--configs", nargs="+", default=["gan_digits_dcgan", "gan_digits_conditional"])
    args = p.parse_args()
    halves = real_halves([0, 1, 2])
    print(f"real half vs real half (3 splits): Fréchet {', '.join(f'{h:.3f}' for h in halves)}")
    print(f"{'config':<24} {'seed':>4} {'steps':>6} {'Fréchet':>8} {'best (step)':>14} {'classes':>7} {'cls acc':>7} {'it/s':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for config in args.configs:
            for seed in args.seeds:
                f = train(config, seed, args.steps, Path(tmp))
                acc = f.get("eval/class_accuracy")
                b = f["best"]  # the early-stop metric's best value: frechet (dcgan) or class accuracy
                best = f"{b['value']:.3g} ({b['global_step']})" if b["value"] is not None else "-"
                print(f"{config:<24} {seed:>4} {f['global_step']:>6} {f['eval/frechet']:>8.3f} "
                      f"{best:>14} {f['eval/classes_covered']:>7.0f} {'-' if acc is None else f'{acc:.1%}':>7} "
                      f"{f['it/s']:>6.1f}", flush=True)


if __name__ == "__main__":
    main()
