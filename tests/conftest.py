"""Shared test setup: W&B never touches the network, small torch thread pools, quiet runs."""

import os

import pytest
import torch

os.environ.setdefault("WANDB_SILENT", "true")
os.environ["WANDB_MODE"] = os.environ.get("RLGEN_TEST_WANDB_MODE", "disabled")
torch.set_num_threads(1)


@pytest.fixture
def quiet() -> list[str]:
    """Overrides that keep a test run small and silent."""
    return ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
