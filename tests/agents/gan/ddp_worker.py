"""One torchrun process of the DDP test: train a small GAN, write a hash of this replica's weights.

    python -m torch.distributed.run --standalone --nproc_per_node=2 ddp_worker.py OUT_DIR
"""

import hashlib
import os
import sys
from pathlib import Path

import torch

from rlgen.agents.gan.config import GANConfig
from rlgen.agents.gan.experiment import GANExperiment
from rlgen.config import load_config
from rlgen.runner import Runner


def main(out: Path) -> None:
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
        "train": {"total_steps": 30, "eval_every": 30, "progress": False},
        "logging": {"dir": str(out / "runs"), "console": False, "wandb": {"mode": "disabled"}},
    }
    cfg = load_config(raw, [], kinds={"gan": GANConfig})
    exp = GANExperiment(cfg)
    Runner(cfg, exp).run()
    digest = hashlib.sha256()
    for module in (exp.G, exp.D, exp.ema.module):
        for name, t in module.state_dict().items():
            digest.update(t.detach().cpu().numpy().tobytes())
            if os.environ.get("GAN_DDP_DEBUG"):
                print(os.environ["RANK"], type(module).__name__, name, float(t.float().sum()), flush=True)
    first_batch = exp.source.sample(4, __import__("numpy").random.default_rng([0, exp.ctx.rank]))[0]
    rank = os.environ["RANK"]
    (out / f"rank{rank}.txt").write_text(f"{digest.hexdigest()} {exp.ctx.world_size} {first_batch.sum():.6f}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
