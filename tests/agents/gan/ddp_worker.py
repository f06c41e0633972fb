"""One torchrun process of the DDP tests: train a small GAN, write a hash of this replica's weights.

    python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_worker.py OUT_DIR
    ... ddp_worker.py OUT_DIR --signal-at 40 --signal-rank 3     # that rank gets SIGTERM after its eval at step 40
    ... ddp_worker.py OUT_DIR --resume RUN_DIR                   # continue an interrupted run

Writes OUT_DIR/rank<R>.txt: the weights' hash, the world size, a batch from a fresh stream of this
rank's seed (each rank draws its own data), and the batch this rank's own stream draws next (after
a resume too: every rank must get its own stream back, not rank 0's).
"""

import argparse
import hashlib
import os
import signal
from pathlib import Path

import numpy as np
import torch

from rlgen.agents.gan.config import GANConfig
from rlgen.agents.gan.experiment import GANExperiment
from rlgen.config import load_config
from rlgen.runner import Runner


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--signal-at", type=int)
    p.add_argument("--signal-rank", type=int, default=0)
    p.add_argument("--resume", type=Path)
    args = p.parse_args()
    out, rank = args.out, int(os.environ["RANK"])
    torch.set_num_threads(1)
    mlp = {"type": "mlp", "hidden": [16, 16]}
    raw = {
        "name": "gan_ddp", "kind": "gan", "seed": 0, "device": "cpu",
        "data": {"source": "ring8"},
        # batch norm in G: its running statistics must be kept in step too
        "generator": {"backbone": {**mlp, "norm": "batch"}, "noise_dim": 4, "ema": 0.9},
        "discriminator": {"backbone": mlp},
        "objective": {"batch_size": 32, "gradient_penalty": 1.0},
        "eval": {"samples": 100, "pictures": False},
        "perf": {"steps_per_unit": 10},
        "train": {"total_steps": args.steps, "eval_every": 20 if args.steps > 30 else 30, "progress": False},
        "logging": {"dir": str(out / "runs"), "console": False, "wandb": {"mode": "disabled"}},
    }
    cfg = load_config(raw, [], kinds={"gan": GANConfig})
    exp = GANExperiment(cfg)

    def on_eval(step: int, metrics: dict) -> bool:
        if step == args.signal_at and rank == args.signal_rank:  # a signal that reaches one process of one node
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    Runner(cfg, exp, resume_dir=args.resume, on_eval=on_eval).run()
    digest = hashlib.sha256()
    for module in (exp.G, exp.D, exp.ema.module):
        for name, t in module.state_dict().items():
            digest.update(t.detach().cpu().numpy().tobytes())
            if os.environ.get("GAN_DDP_DEBUG"):
                print(rank, type(module).__name__, name, float(t.float().sum()), flush=True)
    first_batch = exp.source.sample(4, np.random.default_rng([0, exp.ctx.rank]))[0]
    next_batch = exp.source.sample(4, exp.rng)[0]
    (out / f"rank{rank}.txt").write_text(
        f"{digest.hexdigest()} {exp.ctx.world_size} {first_batch.sum():.6f} {next_batch.sum():.6f}\n")


if __name__ == "__main__":
    main()
