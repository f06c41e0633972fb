"""gan/lr_g and gan/lr_d log the learning rate the player's weights train at."""

import pytest
import torch

import rlgen
from rlgen.experiment import RunContext
from rlgen.logging import Logger

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
MLP = "{type: mlp, hidden: [16]}"


@pytest.fixture(scope="module")
def ring_generator(tmp_path_factory):
    """A few steps of a GAN on the ring: a source run whose generator is all backbone (an mlp decoder)."""
    root = tmp_path_factory.mktemp("ring")
    run = rlgen.train("gan_ring8", [*QUIET, f"logging.dir={root}", f"generator.backbone={MLP}", "train.total_steps=10",
                                    "train.eval_every=10", "perf.steps_per_unit=10", "eval.samples=100"])
    return run.run_dir


def test_a_generator_transferred_with_its_own_lr_logs_that_lr(ring_generator, tmp_path):
    """Its every weight is in the init.lr group; the main group, first and empty, holds the
    configured lr, which was logged as gan/lr_g. The schedule scales both."""
    init = f"{{type: mlp, hidden: [16], init: {{run: '{ring_generator}', role: generator, freeze: false, lr: 1.0e-5}}}}"
    cfg = rlgen.load_config("gan_ring8", [*QUIET, f"logging.dir={tmp_path}", f"generator.backbone={init}",
                                          "generator.optim.lr=2e-4", "discriminator.optim.lr=3e-4",
                                          "train.total_steps=4", "perf.steps_per_unit=2"])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path / "run", torch.device("cpu"), Logger([]), 0))
    assert exp.opt_g.param_groups[0]["params"] == []  # what made the first group's lr no weight's
    row = exp.train_unit()
    left = 1 - 1 / 4  # gan_ring8's linear schedule at the unit's last generator step, 1 of 4
    assert row["gan/lr_g"] == pytest.approx(1e-5 * left) and row["gan/lr_d"] == pytest.approx(3e-4 * left)
