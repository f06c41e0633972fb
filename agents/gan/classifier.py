"""A small digits classifier, trained locally once and cached, whose features serve the Fréchet
distance of generated digits (as Inception's do for FID) and whose predictions score
class-conditional samples.

The cache key is a hash of the settings below, so changing them trains a new one. The cache
directory is `cache_dir`, else $RLGEN_CACHE, else ~/.cache/rlgen.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from rlgen.errors import RlgenError

SETTINGS = {"hidden": [128, 64], "epochs": 300, "lr": 3e-3, "weight_decay": 1e-4, "seed": 0, "version": 1}


class DigitsClassifier(nn.Module):
    """(B, 1, 8, 8) in [-1, 1] -> logits (B, 10); `features` gives the (B, 64) layer before them."""

    def __init__(self, hidden: list[int]):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(64, hidden[0]), nn.ReLU(),
                                  nn.Linear(hidden[0], hidden[1]), nn.ReLU())
        self.out = nn.Linear(hidden[1], 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(self.body(x))


def cache_path(cache_dir: str | Path | None = None) -> Path:
    root = Path(cache_dir or os.environ.get("RLGEN_CACHE") or Path.home() / ".cache" / "rlgen")
    key = hashlib.sha256(json.dumps(SETTINGS, sort_keys=True).encode()).hexdigest()[:12]
    return root / f"digits_classifier_{key}.pt"


def cache_problem(cache_dir: str | Path | None) -> str | None:
    """`eval.classifier_cache` with a file at it or above it, where no folder can be made: said when
    the config loads, before a run directory is, rather than as an OSError once the run has begun."""
    from rlgen.cli_output import file_in_the_way

    if cache_dir is None or (blocking := file_in_the_way(cache_path(cache_dir).parent)) is None:
        return None
    return (f"eval.classifier_cache: {blocking} is a file, so the digits classifier's cache folder {cache_dir} "
            "cannot be made there or under it; give a folder path (or leave it unset for ~/.cache/rlgen)")


def _where(cache_dir: str | Path | None) -> str:
    """The setting that chose the cache folder, as cache_path reads them."""
    if cache_dir:
        return "eval.classifier_cache"
    return "$RLGEN_CACHE" if os.environ.get("RLGEN_CACHE") else "the default cache ~/.cache/rlgen"


def train_classifier(x: np.ndarray, y: np.ndarray) -> tuple[DigitsClassifier, float]:
    """Train on 80% of (x, y), full batch, on the CPU; return the net and its held-out accuracy."""
    g = torch.Generator().manual_seed(SETTINGS["seed"])
    torch.manual_seed(SETTINGS["seed"])
    net = DigitsClassifier(SETTINGS["hidden"])
    xt, yt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y)
    order = torch.randperm(len(xt), generator=g)
    cut = int(0.8 * len(xt))
    train, test = order[:cut], order[cut:]
    opt = torch.optim.AdamW(net.parameters(), lr=SETTINGS["lr"], weight_decay=SETTINGS["weight_decay"])
    for _ in range(SETTINGS["epochs"]):
        # a little pixel noise, so generated digits (never exactly on the data) get stable features
        noisy = xt[train] + 0.1 * torch.randn(len(train), *xt.shape[1:], generator=g)
        loss = nn.functional.cross_entropy(net(noisy), yt[train])
        opt.zero_grad()
        loss.backward()
        opt.step()
    net.eval()
    with torch.no_grad():
        acc = float((net(xt[test]).argmax(1) == yt[test]).float().mean())
    return net, acc


def load_classifier(x: np.ndarray, y: np.ndarray, cache_dir: str | Path | None = None) -> DigitsClassifier:
    """The cached classifier, trained on (x, y) the first time (a few seconds)."""
    path = cache_path(cache_dir)
    net = DigitsClassifier(SETTINGS["hidden"])
    if path.is_file():
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
            return net.eval().requires_grad_(False)
        except Exception:  # noqa: BLE001 - a corrupt or stale cache is retrained
            pass
    # Trained here, the first time on a machine, it leaves the global torch RNG as the cached path
    # leaves it (having drawn the net above): a GAN run builds this in its setup, after its players,
    # and its training (dropout, the gradient penalty's mixing draws) must not depend on whether a
    # cache existed. Before, training reseeded torch, and a machine's first run trained other weights.
    # torch.manual_seed in there seeds every CUDA device too: those generators are forked as well
    with torch.random.fork_rng(devices=range(torch.cuda.device_count())):
        net, _ = train_classifier(x, y)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(net.state_dict(), tmp)
        tmp.replace(path)  # atomic: parallel runs never read half a file
    except OSError as e:  # a folder not writable (or a file in its way): the setting by name, not a traceback
        from rlgen.cli_output import os_error_text

        raise RlgenError(f"{_where(cache_dir)}: the digits classifier cannot be cached in {path.parent}: "
                         f"{os_error_text(e)} (set eval.classifier_cache to a writable folder)") from None
    return net.eval().requires_grad_(False)
