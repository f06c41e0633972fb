"""Left-padded sequences, as RL history windows are padded before an episode's first step."""

import torch


def left_pad(x: torch.Tensor, steps: int, fill: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, L, F) -> (B, steps, F) padded on the left with `fill`, and its (B, steps) mask."""
    batch, length, features = x.shape
    pad = torch.full((batch, steps - length, features), fill)
    mask = torch.arange(steps).expand(batch, steps) >= steps - length
    return torch.cat([pad, x], 1), mask
