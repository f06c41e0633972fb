"""A frozen backbone kept out of the Polyak updates of SB3's off-policy target networks, so that its
copy there stays bit-identical to the loaded weights (used by
rlgen.agents.rl.sb3_bridge.transfer_and_regularize, which re-exports these names)."""

from __future__ import annotations

import functools
from typing import Iterator

import torch


def keep_frozen_out_of_targets(policy: torch.nn.Module) -> None:
    """A frozen backbone's copy in a target network stays bit-identical too.

    Off-policy SB3 algorithms move each target network `X_target` of their policy toward `X` with
    `polyak_update(X.parameters(), X_target.parameters(), tau)` (SAC's and TQC's critic, TD3's and
    DDPG's actor and critic, DQN's q_net, QR-DQN's quantile_net): t <- (1 - tau) t + tau p moves t
    by rounding (~1e-7 after a few updates) even where p never changes, so the target's frozen
    copy would drift away from the loaded weights. Both networks of each pair list their
    parameters without the frozen ones, by the same names so the pairs still line up, and the
    update passes them by; everything else (state dicts, optimizers, `policy.parameters()`) still
    sees every tensor.
    """
    for name, target in policy.named_children():
        online = getattr(policy, name.removesuffix("_target"), None)
        if not name.endswith("_target") or not isinstance(online, torch.nn.Module):
            continue
        frozen = frozenset(n for n, p in online.named_parameters() if not p.requires_grad)
        if frozen:
            for net in (online, target):
                net.frozen_names = frozen
                net.parameters = functools.partial(_parameters_but_frozen, net)  # picklable, unlike a method


def _parameters_but_frozen(self: torch.nn.Module, recurse: bool = True) -> Iterator[torch.nn.Parameter]:
    return (p for n, p in self.named_parameters(recurse=recurse) if n not in self.frozen_names)
