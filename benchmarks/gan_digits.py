"""sklearn digits: the Fréchet classifier distance of generated digits against the same distance
between two halves of the real data, per seed.

The distance is taken in the 64 features of rlgen's small digits classifier (trained locally
once and cached). Real half vs real half (the split drawn with the run's seed) is the floor a
perfect generator could reach with samples of that size; the GANs are scored on 1,000 samples
against all 1,797 real digits. Each run's last checkpoint and its best one (`checkpoints/best/`,
kept by the config's `train.early_stop.metric`) are loaded back with `rlgen.load_run` and
evaluated; a seed passes when the best checkpoint's distance is at most `--ratio` (2) times its
real-half figure. Seeds 0, 1, 2 report; the configs were tuned on seeds 10, 11, 12.

    python benchmarks/gan_digits.py                                   # both configs, seeds 0 1 2
    python benchmarks/gan_digits.py --configs gan_digits_dcgan --grid docs/gan_digits_dcgan.png
    python benchmarks/gan_digits.py --seeds 10,11,12 --steps 3000     # tuning seeds, short
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import benchkit
import numpy as np
import torch

from rlgen import api
from rlgen.agents.gan.classifier import load_classifier
from rlgen.agents.gan.metrics import frechet_from_features
from rlgen.agents.gan.pictures import image_grid
from rlgen.envs.datasets import digits
from rlgen.errors import RlgenError

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def real_halves(seeds: list[int]) -> list[float]:
    """The Fréchet distance between two random halves of the 1,797 digits, one split per seed."""
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


def train(config: str, seed: int, steps: int | None, out: Path) -> Path:
    """Train one seed; its run directory."""
    overrides = [f"seed={seed}", f"logging.dir={out}", "logging.wandb.mode=disabled", "logging.console=false",
                 "train.progress=false", "device=auto"]
    if steps is not None:
        overrides += [f"train.total_steps={steps}", f"train.eval_every={steps}"]
    return benchkit.finished(api.train(CONFIGS / f"{config}.yaml", overrides)).run_dir


def scored(path: Path, checkpoint: str | None = None) -> tuple[dict, int, api.Run]:
    """A checkpoint (checkpoints/best, or a run directory and which of its checkpoints) loaded back
    and evaluated: its metrics, its step, and the open run."""
    run = api.load_run(path, checkpoint=checkpoint)
    metrics = run.evaluate()
    return metrics, run.experiment.global_step, run


def grid(run: api.Run, path: Path) -> Path:
    """64 samples of the loaded generator (the evaluation's fixed noise) as a PNG grid, and 64 real
    digits beside it (PATH_real.png) to judge them by; the real grid's path."""
    exp = run.experiment
    fake, _ = exp.generate(64, seed=exp.cfg.seed + 777)
    path.parent.mkdir(parents=True, exist_ok=True)
    image_grid(fake, path)
    real = path.with_name(f"{path.stem}_real{path.suffix}")
    image_grid(digits().x[np.random.default_rng(0).permutation(len(digits().x))[:64]], real)
    return real


def scorable(config: str) -> Any:
    """The bundled config `config`, when it is a GAN on the digits data: only those log the Fréchet
    distance this benchmark scores (another one trained, then failed on a KeyError)."""
    cfg = api.load_config(CONFIGS / f"{config}.yaml")
    source = getattr(getattr(cfg, "data", None), "source", None)
    if cfg.kind != "gan" or source != "digits":
        raise RlgenError(f"--configs {config} (kind {cfg.kind}" + (f", data.source {source}" if source else "")
                         + ") logs no eval/frechet; give a GAN on the digits data (kind gan, data.source digits), "
                         "e.g. gan_digits_dcgan")
    return cfg


def main() -> int:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", nargs="+", type=benchkit.seeds, action=benchkit.Distinct, default=[0, 1, 2],
                   help="reporting seeds: 0 1 2 (tuning: 10 11 12)")
    p.add_argument("--steps", type=benchkit.count, default=None, help="default: each config's train.total_steps")
    p.add_argument("--configs", nargs="+", action=benchkit.Distinct, default=["gan_digits_dcgan", "gan_digits_conditional"])
    p.add_argument("--ratio", type=benchkit.positive, default=2.0,
                   help="pass: best Fréchet <= ratio x real-half Fréchet")
    p.add_argument("--grid", type=benchkit.output_file, default=None,
                   help="write the first config's best checkpoint's samples (first seed) to this PNG, "
                        "64 real digits to PNG_real.png")
    p.add_argument("--out", type=benchkit.output_folder, default=None, help="keep the runs here (default: a temporary folder)")
    args = p.parse_args()
    seeds = args.seeds  # `--seeds 0 1 2` or `--seeds 0,1,2`
    cfgs = {c: scorable(c) for c in args.configs}  # every name checked before a run
    halves = dict(zip(seeds, real_halves(seeds)))
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        for config in args.configs:
            cfg = cfgs[config]
            metric = cfg.train.early_stop.metric
            steps = cfg.train.total_steps if args.steps is None else args.steps
            print(f"{config}: {steps} steps, best checkpoint by {metric} "
                  f"({cfg.train.early_stop.mode}); pass: best Fréchet <= {args.ratio:g} x real half")
            print(f"{'seed':>4} {'final':>7} {'best':>7} {'at step':>7} {'real half':>9} {'ratio':>6} "
                  f"{'cls acc':>7} {'result':>6}")
            passed = 0
            for seed in seeds:
                run_dir = train(config, seed, args.steps, out)
                final, _, last = scored(run_dir, "latest")
                best, best_step, best_run = scored(run_dir / "checkpoints" / "best")
                ratio = best["eval/frechet"] / halves[seed]
                ok = ratio <= args.ratio
                passed += ok
                acc = best.get("eval/class_accuracy")
                print(f"{seed:>4} {final['eval/frechet']:>7.2f} {best['eval/frechet']:>7.2f} {best_step:>7} "
                      f"{halves[seed]:>9.2f} {ratio:>6.2f} {'-' if acc is None else f'{acc:.1%}':>7} "
                      f"{'pass' if ok else 'FAIL':>6}", flush=True)
                if args.grid is not None and config == args.configs[0] and seed == seeds[0]:
                    real = grid(best_run, args.grid)
                    print(f"     samples of seed {seed}'s best checkpoint (step {best_step}): {args.grid} "
                          f"(real digits: {real})")
                last.close()
                best_run.close()
            failed += passed < len(seeds)
            print(f"{config}: {passed}/{len(seeds)} seeds within {args.ratio:g}x of the real-half distance\n")
    return 1 if failed else 0


if __name__ == "__main__":
    benchkit.main(main)
