"""What rlgen adds to a torch optimizer, for every kind: L1 regularization and per-group learning
rates that survive a kind (or SB3) setting one learning rate for all groups.

    opt = prepare(torch.optim.Adam(param_groups(net.parameters(), lr=1e-3), lr=1e-3), l1=1e-4)

Both act in a step pre-hook (`Optimizer.register_step_pre_hook`), so they work whoever calls
`step()`: an rlgen kind, or SB3, which builds and steps its optimizers itself.

- **L1**: `l1 * sign(w)` is added to the gradient of every parameter the optimizer holds, just
  before the step: the subgradient of `l1 * sum |w|` (Tibshirani 1996). Like torch's own
  `weight_decay` in Adam (L2 added to the gradient, not decoupled as in AdamW), it is then scaled
  by the optimizer's update rule. Under SB3 the hook runs inside SB3's `optimizer.step()`, after
  its gradient clipping (`max_grad_norm`): the L1 term is not clipped.
- **Per-group learning rates**: a group with `lr_ratio` r runs at r times the learning rate the
  kind sets. Kinds (and SB3's schedules) set every group's `lr` to the same value; before each
  step the hook sets each ratio group's lr to r times the main group's (the first one, which
  `param_groups` always makes, empty or not), so schedules keep working whatever values they
  reach. Transferred backbones use it for `init.lr` (rlgen/transfer.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

# set on a parameter by transfer (`init.lr`): the learning rate it wants, absolute
LR_ATTR = "_rlgen_lr"


def param_groups(params: Iterable[torch.nn.Parameter], lr: float) -> list[dict[str, Any]]:
    """The trainable `params` in groups for an optimizer at base learning rate `lr`: one main group
    (the reference the ratios scale, empty when every parameter has its own lr), then one per
    distinct learning rate asked for with `LR_ATTR` (its `lr_ratio` = that lr / `lr`). Frozen
    parameters (requires_grad False) are left out: no optimizer state, no weight decay."""
    main: list[torch.nn.Parameter] = []
    own: dict[float, list[torch.nn.Parameter]] = {}
    seen: set[int] = set()
    for p in params:
        if id(p) in seen or not p.requires_grad:
            continue
        seen.add(id(p))
        wanted = getattr(p, LR_ATTR, None)
        (own.setdefault(float(wanted), []) if wanted is not None else main).append(p)
    if not own:
        return [{"params": main}] if main else []
    return [{"params": main}, *({"params": ps, "lr": want, "lr_ratio": want / lr} for want, ps in own.items())]


def trained_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate to log: that of the first group holding parameters. The main group comes
    first, empty when every parameter has its own lr (a generator whose whole body is a backbone
    transferred with `init.lr`), so its lr is then no weight's. Read after a step, when the step
    pre-hook has set each ratio group's lr."""
    return next((g["lr"] for g in optimizer.param_groups if g["params"]), optimizer.param_groups[0]["lr"])


def prepare(optimizer: torch.optim.Optimizer, l1: float = 0.0) -> torch.optim.Optimizer:
    """Register the step pre-hook that applies `l1` and the groups' `lr_ratio`; returns `optimizer`."""
    ratios = any("lr_ratio" in g for g in optimizer.param_groups)
    if l1 or ratios:
        optimizer.register_step_pre_hook(_StepHook(float(l1)))
    return optimizer


class _StepHook:
    """Runs before every `optimizer.step()` (a class, not a closure, so optimizers stay picklable)."""

    def __init__(self, l1: float):
        self.l1 = l1

    def __call__(self, optimizer: torch.optim.Optimizer, args: Any, kwargs: Any) -> None:
        # the lr the kind (a schedule, SB3's update_learning_rate) set, on the main group; a value
        # it sets on every group is never mistaken for one already scaled
        main = next((g["lr"] for g in optimizer.param_groups if "lr_ratio" not in g), None)
        for group in optimizer.param_groups:
            ratio = group.get("lr_ratio")
            if ratio is not None and main is not None:
                group["lr"] = main * ratio
            if self.l1:
                add_l1_grad(group["params"], self.l1)


@torch.no_grad()
def add_l1_grad(params: Iterable[torch.Tensor], l1: float) -> None:
    """grad += l1 * sign(w) for every parameter that has a gradient."""
    with_grad = [p for p in params if p.grad is not None]
    if with_grad:
        torch._foreach_add_([p.grad for p in with_grad], [torch.sign(p) for p in with_grad], alpha=l1)


def rebuild(optimizer: torch.optim.Optimizer, l1: float = 0.0) -> torch.optim.Optimizer:
    """A new optimizer of the same class and defaults over the same parameters, regrouped by
    `param_groups` (frozen ones dropped, transferred ones at their own lr) and `prepare`d: how rlgen
    reaches the optimizers SB3 builds itself. The old one must not have stepped yet."""
    params = [p for g in optimizer.param_groups for p in g["params"]]
    defaults = dict(optimizer.defaults)
    groups = param_groups(params, defaults["lr"])
    return prepare(type(optimizer)(groups, **defaults), l1)
