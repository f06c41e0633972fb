"""The process a run trains in: its device, torch's thread count and the global RNGs (seeded at
the start, saved in every checkpoint, restored at a resume, and kept around another run's setup),
and torch's default dtype and autograd mode (torch's own within a run, the caller's after); one run
trains in a process at a time (`training_alone`).
"""

from __future__ import annotations

import os
import random
import threading
from contextlib import contextmanager
from typing import Any, Iterator

import numpy as np
import torch

from rlgen.errors import RlgenError


def choose_device(name: str, wants_accelerator: bool) -> torch.device:
    """`auto` picks CUDA only for networks that profit from it; an explicit cuda without one fails.
    Under torchrun each process takes the GPU of its LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if wants_accelerator and torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RlgenError(f"device {name!r} asked for, but torch sees no CUDA GPU: use device=cpu or device=auto")
    if name.startswith("mps") and not torch.backends.mps.is_available():  # else a traceback from the first .to()
        raise RlgenError(f"device {name!r} asked for, but torch sees no MPS device (Apple silicon): use device=cpu or "
                         "device=auto")
    if name == "cuda" and "LOCAL_RANK" in os.environ:
        name = f"cuda:{os.environ['LOCAL_RANK']}"
    return torch.device(name)


def default_threads(device: torch.device, exp: Any) -> int:
    # On the CPU one thread is the safe default for every kind: small nets are bound by per-call
    # overhead, and on a shared machine a second thread only adds contention (measured on a
    # 2-core machine under load: 2 threads 2.4x slower; a 2-thread Transformer PPO ~15x). Raise it
    # with train.threads for large convolutions on an idle machine.
    if device.type == "cpu":
        return 1
    return max(1, min(4, os.cpu_count() or 1))


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


@contextmanager
def process_state_kept() -> Iterator[None]:
    """The global RNGs and torch's thread count as they were before, after it: for opening another
    run (its setup seeds the RNGs and sets the threads) or checking one, inside a run of one's own.
    Within it, torch's defaults (`torch_defaults`), whatever the caller set."""
    rng, threads = rng_state(), torch.get_num_threads()
    try:
        with torch_defaults():
            yield
    finally:
        set_rng_state(rng)
        torch.set_num_threads(threads)


# Held by the thread a run trains in. Runs in one process share its global RNGs, torch's thread count
# and default dtype: two at once in two threads would draw from each other's seeded RNGs. Reentrant:
# an on_eval hook may train a run of its own, in the same thread, while the outer run waits.
_TRAINING = threading.RLock()


@contextmanager
def training_alone() -> Iterator[None]:
    """The process's one training run within it (`_TRAINING`), or refused before any file is made."""
    if not _TRAINING.acquire(blocking=False):
        raise RlgenError("another run is training in this process, in another thread: runs in one process share "
                         "its global RNGs and torch's threads, so train one at a time (wait for that run to "
                         "return, or train this one in another process)")
    try:
        yield
    finally:
        _TRAINING.release()


@contextmanager
def torch_defaults() -> Iterator[None]:
    """torch's default dtype (float32) and autograd on within it, the caller's modes after: a run
    trains and is evaluated as it would in a fresh process, not in float64 after the caller's
    torch.set_default_dtype(torch.float64), nor without gradients under their torch.no_grad() or
    torch.inference_mode(). Autograd's modes are per thread; the default dtype is the process's."""
    dtype = torch.get_default_dtype()
    torch.set_default_dtype(torch.float32)
    try:
        with torch.inference_mode(False), torch.enable_grad():
            yield
    finally:
        torch.set_default_dtype(dtype)


def rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        # on a GPU, SB3 samples actions and dropout draws masks from the CUDA generators
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any] | None) -> None:
    if state:
        random.setstate(state["python"])
        np.random.set_state(state["numpy"])
        torch.set_rng_state(state["torch"])
        cuda = state.get("cuda")
        if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)  # a resume on another machine's GPUs keeps its own
