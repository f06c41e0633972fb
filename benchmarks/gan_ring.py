"""Ring of 8 Gaussians: rlgen's GAN kind against a plain torch loop of the same networks and loss.

For each seed, `configs/gan_ring8.yaml` is trained by the rlgen runner, then the same networks,
loss, regularizer, optimizers, schedule and EMA are trained by a plain ~40-line torch loop, in the
same process, one after the other. Reported per seed: modes covered (of 8) and the share of
high-quality samples (within 3 std of a mode) on 2,500 samples, and training steps per second
(rlgen: training units only, from metrics.jsonl; plain: the loop only; both exclude evaluation).

    python benchmarks/gan_ring.py                     # 3 seeds, the config's 20,000 steps
    python benchmarks/gan_ring.py --seeds 0 --steps 1000
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from pathlib import Path

import benchkit
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rlgen.agents.gan.metrics import mode_quality
from rlgen.api import load_config, train

CONFIG = Path(__file__).resolve().parent.parent / "configs" / "gan_ring8.yaml"


def rlgen_run(seed: int, steps: int, out: Path) -> dict[str, float]:
    summary = benchkit.finished(train(CONFIG, [
        f"seed={seed}", f"train.total_steps={steps}", f"logging.dir={out}", "device=cpu", "logging.wandb.mode=disabled",
        "logging.console=false", "train.progress=false", f"train.eval_every={steps}", "train.threads=1"])).summary
    rows = [json.loads(line) for line in open(Path(summary["run_dir"]) / "metrics.jsonl")]
    seconds, previous = 0.0, 0
    for r in (r for r in rows if "time/fps" in r):  # one row per training unit
        seconds += (r["global_step"] - previous) / r["time/fps"]
        previous = r["global_step"]
    final = summary["final"]
    return {"modes": final["eval/modes_covered"], "hq": final["eval/high_quality"], "sps": steps / seconds}


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


def plain_run(seed: int, steps: int) -> dict[str, float]:
    """The same GAN as the config, written as a plain torch loop."""
    cfg = load_config(CONFIG)
    g_cfg, d_cfg, obj = cfg.generator, cfg.discriminator, cfg.objective
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    z_dim, batch = g_cfg.noise_dim, obj.batch_size
    G = mlp([z_dim, *g_cfg.backbone.hidden, 2])
    D = mlp([2, *d_cfg.backbone.hidden, 1])
    ema = copy.deepcopy(G).requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=g_cfg.optim.lr, betas=tuple(g_cfg.optim.betas))
    opt_d = torch.optim.Adam(D.parameters(), lr=d_cfg.optim.lr, betas=tuple(d_cfg.optim.betas))
    angles = torch.arange(8) * (2 * np.pi / 8)
    modes = 2.0 * torch.stack([angles.cos(), angles.sin()], 1)
    start = time.perf_counter()
    for step in range(steps):
        for opt, base in ((opt_g, g_cfg.optim.lr), (opt_d, d_cfg.optim.lr)):
            if g_cfg.optim.schedule == "linear":  # linear decay, as the config
                opt.param_groups[0]["lr"] = base * (1 - step / steps)
        real = (modes[torch.randint(0, 8, (batch,))] + 0.02 * torch.randn(batch, 2)).requires_grad_(obj.r1 > 0)
        fake = G(torch.randn(batch, z_dim)).detach()
        d_real = D(real).squeeze(1)
        loss_d = F.softplus(-d_real).mean() + F.softplus(D(fake).squeeze(1)).mean()
        if obj.r1:
            (grad,) = torch.autograd.grad(d_real.sum(), real, create_graph=True)
            loss_d = loss_d + 0.5 * obj.r1 * grad.pow(2).sum(1).mean()
        opt_d.zero_grad()
        loss_d.backward()
        opt_d.step()
        logits = D(G(torch.randn(batch, z_dim))).squeeze(1)
        if obj.top_k:  # top-k training, as the config
            logits = logits.topk(max(1, round(batch * (1 - step / steps * (1 - obj.top_k))))).values
        loss_g = F.softplus(-logits).mean()
        opt_g.zero_grad()
        loss_g.backward()
        opt_g.step()
        if g_cfg.ema:
            with torch.no_grad():
                for e, p in zip(ema.parameters(), G.parameters()):
                    e.lerp_(p, 1 - g_cfg.ema)
    sps = steps / (time.perf_counter() - start)
    with torch.no_grad():
        x = (ema if g_cfg.ema else G)(torch.randn(2500, z_dim)).numpy()
    modes_covered, hq = mode_quality(x, modes.numpy(), 0.02, cfg.eval.mode_share)
    return {"modes": modes_covered, "hq": hq, "sps": sps}


def speed(rounds: int, steps: int) -> None:
    """rlgen and plain runs alternated, so a change in the machine's load hits both alike."""
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(rounds):
            pairs.append((rlgen_run(r, steps, Path(tmp))["sps"], plain_run(r, steps)["sps"]))
            print(f"round {r}: rlgen {pairs[-1][0]:.1f} it/s, plain {pairs[-1][1]:.1f} it/s, "
                  f"ratio {pairs[-1][0] / pairs[-1][1]:.3f}", flush=True)
    print(f"median ratio rlgen/plain over {rounds} alternated rounds of {steps} steps: "
          f"{np.median([a / b for a, b in pairs]):.3f}")


def main() -> None:
    p = benchkit.Parser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=benchkit.seed, nargs="+", action=benchkit.Distinct, default=None, help="default: 0 1 2")
    p.add_argument("--steps", type=benchkit.count, default=None, help="default: the config's train.total_steps")
    p.add_argument("--plain-steps", type=benchkit.count, default=None,
                   help="steps of the plain loop (default: --steps); fewer measure its speed, not its quality")
    p.add_argument("--speed-rounds", type=benchkit.count, default=None,
                   help="only time: alternate rlgen and plain runs of --steps steps (default 1000) this many times, "
                        "round r on seed r")
    args = p.parse_args()
    if args.speed_rounds is not None:
        ignored = [flag for flag, value in (("--seeds", args.seeds), ("--plain-steps", args.plain_steps))
                   if value is not None]
        if ignored:  # they were silently ignored
            p.error(f"--speed-rounds times both loops on --steps steps, round r on seed r: drop "
                    f"{' and '.join(ignored)}, or --speed-rounds")
        return speed(args.speed_rounds, 1000 if args.steps is None else args.steps)
    args.seeds = [0, 1, 2] if args.seeds is None else args.seeds
    steps = load_config(CONFIG).train.total_steps if args.steps is None else args.steps
    plain_steps = steps if args.plain_steps is None else args.plain_steps
    print(f"ring of 8 Gaussians, {CONFIG.name}, {steps} steps (plain loop: {plain_steps}), "
          "1 torch thread, CPU")
    print(f"{'seed':>4} | {'rlgen modes':>11} {'rlgen HQ':>9} {'rlgen it/s':>10} | "
          f"{'plain modes':>11} {'plain HQ':>9} {'plain it/s':>10} | {'speed ratio':>11}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            r = rlgen_run(seed, steps, Path(tmp))
            q = plain_run(seed, plain_steps)
            results.append((r, q))
            print(f"{seed:>4} | {r['modes']:>11.0f} {r['hq']:>9.1%} {r['sps']:>10.1f} | "
                  f"{q['modes']:>11.0f} {q['hq']:>9.1%} {q['sps']:>10.1f} | {r['sps'] / q['sps']:>11.3f}", flush=True)
    ratio = np.median([r["sps"] / q["sps"] for r, q in results])
    print(f"rlgen: 8/8 modes on {sum(r['modes'] == 8 for r, _ in results)}/{len(results)} seeds, "
          f"HQ min {min(r['hq'] for r, _ in results):.1%}; median speed ratio rlgen/plain {ratio:.3f}")


if __name__ == "__main__":
    benchkit.main(main)
