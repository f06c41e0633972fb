"""What the runner agrees on between the processes of a `torchrun` job, on one node or many.

Every rank runs the same loop on its own data; a few decisions must be the same on all of them or
the job hangs in a collective that some ranks never reach:

- when to stop: a signal (Ctrl-C, a scheduler's SIGTERM) reaches each process at its own moment,
  often on another machine; the ranks agree after every unit and all stop at the same one;
- what a checkpoint holds: the weights are the same on every rank, but a kind's per-rank state
  (each replica's own data and noise streams) is not; rank 0 gathers it so that a resumed job gives
  every rank its own stream back instead of all of them rank 0's.

A kind opts into the second with two methods, `rank_state() -> dict` and `load_rank_state(state)`
(the GAN kind does). Outside torchrun (world size 1) nothing here runs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from rlgen.logging import console


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


def agree_on_signal(signum: int | None) -> int | None:
    """The signal any rank received (the largest number if several), on every rank; None if none."""
    flag = torch.tensor([signum or 0], dtype=torch.int64, device=_device())
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return int(flag.item()) or None


def gather_rank_states(exp: Any) -> list[Any] | None:
    """Every rank's `exp.rank_state()`, on rank 0 (None elsewhere, and for kinds without one).
    A collective: every rank calls it at the same checkpoint."""
    if not callable(getattr(exp, "rank_state", None)):
        return None
    states: list[Any] | None = [None] * dist.get_world_size() if dist.get_rank() == 0 else None
    dist.gather_object(exp.rank_state(), states, dst=0)
    return states


def restore_rank_state(exp: Any, states: list[Any] | None, rank: int, world_size: int) -> None:
    """Give this rank its own state back from a checkpoint written by a job of the same size, or
    `None` (the kind makes this rank a fresh one) when the sizes differ or the checkpoint has none."""
    load = getattr(exp, "load_rank_state", None)
    if not callable(load):
        return
    if states is not None and len(states) != world_size and rank == 0:
        console.print(f"[yellow]warning:[/] the checkpoint was written by {len(states)} processes, this job has "
                      f"{world_size}: every rank starts a fresh data stream (the weights and optimizers resume)")
    load(states[rank] if states is not None and len(states) == world_size else None)


# --- joining the job (the runner, at a run's start) ---


def init_distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world_size): joins the process group when started by torchrun (also with one
    process, so `torchrun --nproc_per_node 1` runs the collective code paths on one GPU)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
        return 0, 1
    if not dist.is_initialized():
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # NCCL's object collectives use the current device
        dist.init_process_group(backend=dist_backend(device))
    return dist.get_rank(), dist.get_world_size()


def dist_backend(device: torch.device) -> str:
    """NCCL between GPUs, gloo for CPU tensors: chosen by the run's device, not by whether the
    machine has a GPU (device=cpu on a GPU machine would hand NCCL CPU tensors)."""
    return "nccl" if device.type == "cuda" else "gloo"


def is_initialized() -> bool:
    return dist.is_available() and dist.is_initialized()


def info() -> dict[str, Any] | None:
    if not is_initialized():
        return None
    return {"backend": str(dist.get_backend()), "world_size": dist.get_world_size()}


def broadcast_path(path: Path) -> Path:
    box = [str(path)]
    dist.broadcast_object_list(box, src=0)
    return Path(box[0])
