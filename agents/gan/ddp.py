"""Data-parallel helpers for GAN players under torchrun (NCCL between GPUs, gloo on CPUs).

Each process draws its own batch; after every backward the players' gradients are averaged with
one flat all-reduce, so every replica takes the same optimizer step and stays identical — what
DistributedDataParallel does, but written out because DDP's wrapper does not support the double
backward of the gradient penalty and R1, and because the discriminator is called several times
(real, fake, penalty) per step.
"""

from __future__ import annotations

from itertools import chain

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors


def active() -> bool:
    """In a process group (torchrun), even of one process: `torchrun --nproc_per_node 1` then
    runs the same collectives as a multi-GPU run, which is how one GPU proves the NCCL path."""
    return dist.is_available() and dist.is_initialized()


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy rank `src`'s parameters and buffers into every replica."""
    with torch.no_grad():
        for t in chain(module.parameters(), module.buffers()):
            dist.broadcast(t.data, src)


def average_gradients(module: nn.Module) -> None:
    """Replace every gradient of `module` by its mean over the processes (one all-reduce)."""
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = _flatten_dense_tensors(grads)
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    for g, avg in zip(grads, _unflatten_dense_tensors(flat, grads)):
        g.copy_(avg)


def sync_buffers(module: nn.Module, src: int = 0) -> None:
    """Batch-norm statistics differ between replicas (each saw its own data): take rank src's,
    as DDP's broadcast_buffers does."""
    with torch.no_grad():
        for b in module.buffers():
            dist.broadcast(b.data, src)
