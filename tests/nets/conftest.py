import pytest
import torch


@pytest.fixture(autouse=True)
def seed() -> None:
    """Every nets test starts from the same random state, so results do not depend on order."""
    torch.manual_seed(0)
