"""Shared test setup: W&B never touches the network, small torch thread pools, quiet runs."""

import os
from pathlib import Path
from typing import Callable

import pytest
import torch

os.environ.setdefault("WANDB_SILENT", "true")
os.environ["WANDB_MODE"] = os.environ.get("RLGEN_TEST_WANDB_MODE", "disabled")
torch.set_num_threads(1)


@pytest.fixture
def quiet() -> list[str]:
    """Overrides that keep a test run small and silent."""
    return ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]


@pytest.fixture(scope="session")
def expert_demos(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """`make(expert, episodes=2, steps=1)`: demos (a Minari dataset) recorded from a run of the bundled
    config `expert` trained for `steps` env steps (1 = one training unit), made once per session."""
    import rlgen
    from tests.test_configs import smoke_overrides

    made: dict[tuple[str, int, int], Path] = {}

    def make(expert: str, episodes: int = 2, steps: int = 1) -> Path:
        if (expert, episodes, steps) not in made:
            root = tmp_path_factory.mktemp(f"demos-{expert}")
            run = rlgen.train(expert, [f"logging.dir={root}", "logging.wandb.mode=disabled", "train.progress=false",
                                       "logging.console=false", f"train.total_steps={steps}", "train.eval_episodes=2",
                                       "train.eval_every=1",  # off-policy units are min(eval_every, 1000) steps
                                       *smoke_overrides(rlgen.api.config_path(expert))])
            made[expert, episodes, steps] = rlgen.record(run.run_dir, episodes, root / "demos")
        return made[expert, episodes, steps]

    return make
