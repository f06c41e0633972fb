"""What the runner agrees on between the processes of a `torchrun` job, on one node or many.

Every rank runs the same loop on its own data; a few decisions must be the same on all of them or
the job hangs in a collective that some ranks never reach:

- when to stop: a signal (Ctrl-C, a scheduler's SIGTERM) reaches each process at its own moment,
  often on another machine; the ranks agree after every unit and all stop at the same one (and
  once all have set up, so that a signal then aborts every rank);
- what an evaluation decided: rank 0 keeps the best and writes the summary, so its decisions (stop
  early, keep a new best) are every rank's, taken in the same collective after every unit;
- what a checkpoint holds: the weights are the same on every rank, but a kind's per-rank state
  (each replica's own data and noise streams) is not; rank 0 gathers it so that a resumed job gives
  every rank its own stream back instead of all of them rank 0's.

A kind that trains data-parallel says so with `data_parallel = True` (any other is refused under
torchrun: its replicas would train N identical copies), and opts into the per-rank state with two
methods, `rank_state() -> dict` and `load_rank_state(state)` (the GAN kind does both). Outside
torchrun (world size 1) nothing here runs but the check that no launcher asked for several processes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from rlgen.errors import RlgenError
from rlgen.logging import console


def _device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if dist.get_backend() == "nccl" else torch.device("cpu")


_ENDS = (None, "stopped_early", "pruned")  # what an evaluation may end a run with


def agree_after_unit(signum: int | None, ended: str | None, new_best: bool) -> tuple[int | None, str | None, bool]:
    """(signal, ended, new_best) on every rank, in one all-reduce after each unit: the signal any
    rank received (the largest number if several), and rank 0's `ended` ("stopped_early",
    "pruned" or None) and `new_best`. Every rank follows rank 0's evaluation: it is the one that
    keeps the best and writes the summary, and a rank that decided otherwise would wait in the
    checkpoint's gather, a collective the others never reach."""
    first = dist.get_rank() == 0
    flags = torch.tensor([signum or 0, _ENDS.index(ended) if first else 0, int(new_best and first)],
                         dtype=torch.int64, device=_device())
    dist.all_reduce(flags, op=dist.ReduceOp.MAX)  # the other ranks add 0s to rank 0's decisions
    sig, end, best = (int(v) for v in flags.tolist())
    return sig or None, _ENDS[end], bool(best)


def agree_on_signal(signum: int | None) -> int | None:
    """The signal any rank received (the largest number if several), on every rank, in one all-reduce."""
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


def restore_rank_state(exp: Any, checkpoint: dict[str, Any], rank: int, world_size: int) -> None:
    """Give this rank its own state back from a checkpoint written by a job of the same size, or
    `None` (the kind makes this rank a fresh one) when the sizes differ, with a warning. One process
    resuming one process's checkpoint has its state in the experiment's own state_dict: nothing to do."""
    load = getattr(exp, "load_rank_state", None)
    saved_world, states = saved_world_size(checkpoint), checkpoint.get("ranks")
    if not callable(load) or saved_world == world_size == 1:
        return
    same = saved_world == world_size and isinstance(states, list) and len(states) == world_size
    if not same and rank == 0:
        written = "holds no per-rank state" if saved_world == world_size else \
            f"was written by {_processes(saved_world)}, this job has {world_size}"
        console.print(f"[yellow]warning:[/] the checkpoint {written}: each process starts a fresh data stream "
                      "(the weights and optimizers resume)")
    load(states[rank] if same else None)


def saved_world_size(checkpoint: dict[str, Any]) -> int:
    """How many processes wrote `checkpoint` (one before rlgen recorded it, unless it holds several
    ranks' states)."""
    world, ranks = checkpoint.get("world_size"), checkpoint.get("ranks")
    if isinstance(world, int) and not isinstance(world, bool) and world >= 1:
        return world
    return len(ranks) if isinstance(ranks, list) and ranks else 1


def _processes(n: int) -> str:
    return "1 process" if n == 1 else f"{n} processes"


# --- joining the job (the runner, at a run's start) ---


def init_distributed(device: torch.device) -> tuple[int, int]:
    """(rank, world_size): joins the process group when started by torchrun (also with one
    process, so `torchrun --nproc_per_node 1` runs the collective code paths on one GPU)."""
    if not dist.is_initialized():
        if requested_world_size() <= 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
            return 0, 1
        if device.type == "cuda" and device.index is not None:
            torch.cuda.set_device(device)  # NCCL's object collectives use the current device
        dist.init_process_group(backend=dist_backend(device))
    return dist.get_rank(), dist.get_world_size()


# what torch's env:// rendezvous reads; torchrun sets them all
_LAUNCH_VARS = ("RANK", "MASTER_ADDR", "MASTER_PORT")


def requested_world_size() -> int:
    """The world size a launcher asks for: the process group's when one is open, else $WORLD_SIZE
    (1 when unset). A WORLD_SIZE that is no positive integer, or a job that torch's env://
    rendezvous could not join (RANK, MASTER_ADDR or MASTER_PORT missing or wrong), is an
    `RlgenError` in one line, before the run writes anything."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    raw = os.environ.get("WORLD_SIZE", "").strip()
    if not raw and "TORCHELASTIC_RUN_ID" not in os.environ:
        return 1
    if not raw:  # TORCHELASTIC_RUN_ID alone: torchrun's own variable, without its others
        raise RlgenError("TORCHELASTIC_RUN_ID is set but WORLD_SIZE is not: start with torchrun, or unset "
                         "TORCHELASTIC_RUN_ID")
    world = _whole(raw)
    if world is None or world < 1:
        raise RlgenError(f"WORLD_SIZE={raw!r} is not a number of processes: start with torchrun, or unset WORLD_SIZE")
    if world == 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
        return 1
    missing = [k for k in _LAUNCH_VARS if not os.environ.get(k, "").strip()]
    if missing:  # WORLD_SIZE=1 goes on only because TORCHELASTIC_RUN_ID is set: that is what to unset then
        unset = "WORLD_SIZE" if world > 1 else "TORCHELASTIC_RUN_ID"
        raise RlgenError(f"WORLD_SIZE={world} is set but {' and '.join(missing)} "
                         f"{'is' if len(missing) == 1 else 'are'} not: start with torchrun, or unset {unset}")
    rank, port = _whole(os.environ["RANK"]), _whole(os.environ["MASTER_PORT"])
    if rank is None or not 0 <= rank < world:
        raise RlgenError(f"RANK={os.environ['RANK']!r} is no rank of WORLD_SIZE={world} (0 to {world - 1}): start with "
                         "torchrun, or unset WORLD_SIZE")
    if port is None or not 0 < port < 65536:
        raise RlgenError(f"MASTER_PORT={os.environ['MASTER_PORT']!r} is not a port number: start with torchrun, or "
                         "unset WORLD_SIZE")
    return world


def check_data_parallel(exp: Any, kind: str) -> None:
    """Under torchrun with several processes, only a kind that averages its gradients over them
    (`data_parallel = True`, as the GAN kind's) may train: any other would run N identical replicas.
    Call before the run writes anything."""
    world = requested_world_size()
    if world > 1 and not getattr(exp, "data_parallel", False):
        raise RlgenError(f"kind {kind!r} does not train data-parallel, so {world} torchrun processes would train "
                         f"{world} identical copies: run it as one process, without torchrun (only a kind with "
                         "data_parallel = True, such as gan, trains under torchrun)")


def refuse_several_processes(command: str, runs: str, instead: str) -> None:
    """For a command that starts its runs itself (a sweep's trials, a list of seeds), under a
    launcher that asks for several processes: every process would take a trial or seed of its own,
    and their runs would then join one process group, averaging gradients across different runs.
    Refused in one line, before anything is written."""
    world = requested_world_size()
    if world > 1:
        raise RlgenError(f"{command} starts its runs itself ({runs}), not under torchrun with {world} processes: "
                         f"start it without torchrun; {instead}")


def launcher(world_size: int) -> list[str | int]:
    """What starts a job of `world_size` processes again (to resume it): `rlgen` for one process,
    else torchrun, over nodes of torchrun's LOCAL_WORLD_SIZE processes (one node when that is unset
    or does not divide the job)."""
    if world_size <= 1:
        return ["rlgen"]
    local = _whole(os.environ.get("LOCAL_WORLD_SIZE", "")) or world_size
    local = local if 0 < local <= world_size and world_size % local == 0 else world_size
    nodes: list[str | int] = ["--nnodes", world_size // local] if local != world_size else []
    # --no-python starts the `rlgen` script, as one process is started: `-m rlgen` would put the
    # working directory first on sys.path, where a folder named rlgen (a checkout) stands in for rlgen
    return ["torchrun", *nodes, "--nproc_per_node", local, "--no-python", "rlgen"]


def _whole(text: str) -> int | None:
    try:
        return int(text.strip())
    except ValueError:
        return None


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


def agree_on_start(path: Path, refused: RlgenError | None) -> tuple[Path, RlgenError | None]:
    """Rank 0's run directory for every rank, and the first refusal of any rank (rank 0's
    `--run-dir` that holds a run, or a run in use, which only rank 0 checks) for every rank: each
    then stops on the same one line. Before, the other ranks went on into the experiment's first
    collective, where rank 0's exit left them a gloo traceback."""
    every: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(every, (str(path), None if refused is None else str(refused)))
    said = next((message for _, message in every if message is not None), None)
    return Path(every[0][0]), refused if refused is not None or said is None else RlgenError(said)
