"""A source's sample shape against its modality: an image is (C, H, W), a sequence (steps, features),
points any shape. Another rank is one line naming the source and the shape to give, before any
step and with no run directory, whichever players the config picks."""

import numpy as np
import pytest

from rlgen.agents.gan.config import GANConfig
from rlgen.agents.gan.experiment import GANExperiment
from rlgen.agents.gan.pictures import scatter
from rlgen.cli import main
from rlgen.config import load_config


class Shaped:
    """Uniform noise of any `shape`, declared as any `modality` (known once it is built)."""

    n_classes = 0

    def __init__(self, shape=(8,), modality="points"):
        self.shape, self.modality = tuple(shape), modality

    def sample(self, batch, rng):
        return rng.uniform(-1, 1, size=(batch, *self.shape)).astype(np.float32), None


class DeclaredSeries:
    """A class that declares its modality and a 1-D sample shape: judged when the config loads."""

    modality, shape, n_classes = "sequence", (16,), 0

    def sample(self, batch, rng):
        return rng.normal(size=(batch, 16)).astype(np.float32), None


SOURCE = "tests.agents.gan.test_sample_shapes:Shaped"


def train(tmp_path, modality, shape, g, d, steps=20):
    return main(["train", "gan_ring8", f"data.source={SOURCE}", f"data.kwargs={{shape: {shape}, modality: {modality}}}",
                 f"generator.backbone={{type: {g}}}", f"discriminator.backbone={{type: {d}}}",
                 "objective.batch_size=8", "eval.samples=50", "perf.steps_per_unit=10",
                 f"train.total_steps={steps}", f"train.eval_every={steps}", f"train.checkpoint_every={steps}",
                 f"logging.dir={tmp_path}", "logging.wandb.mode=disabled", "logging.console=false",
                 "train.progress=false"])


@pytest.mark.parametrize("modality, shape, g, d, says", [
    # a recurrent generator unpacked (steps, features) from (16,): a ValueError traceback in setup
    ("sequence", [16], "lstm", "lstm", "a sequence sample is (steps, features): give shape (16, 1) "
     "(one feature per step), sample() returning (batch, 16, 1)"),
    # mlp players trained, then the first evaluation's picture raised an IndexError: training lost
    ("sequence", [16], "mlp", "mlp", "give shape (16, 1)"),
    ("sequence", [16], "mlp", "transformer", "give shape (16, 1)"),
    ("sequence", [4, 4, 2], "gru", "lstm", "give shape (4, 8) (each step's features flattened)"),
    # mlp players on a 2-D or 4-D "image" trained, then the image grid raised
    ("image", [16, 16], "mlp", "mlp", "an image sample is (channels, height, width): give shape (1, 16, 16) "
     "(one channel), sample() returning (batch, 1, 16, 16)"),
    ("image", [1, 2, 8, 8], "mlp", "mlp", "give shape (2, 8, 8) (the leading axes folded into channels)"),
    # a 1-D "image" trained to the end and drew a meaningless grid
    ("image", [8], "mlp", "mlp", "a vector of 8 numbers is modality 'points'"),
    ("points", [4, 0], "mlp", "mlp", "a sample's shape is a tuple of one or more positive ints"),
])
def test_a_sample_shape_its_modality_does_not_take_is_one_line_and_no_run(tmp_path, capsys, modality, shape, g, d,
                                                                           says):
    assert train(tmp_path, modality, shape, g, d) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert f"data.source: '{SOURCE}' gives {modality} samples of shape" in err and says in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_a_class_that_declares_its_shape_is_refused_when_the_config_loads():
    raw = {"name": "x", "kind": "gan", "data": {"source": "tests.agents.gan.test_sample_shapes:DeclaredSeries"},
           "generator": {"backbone": {"type": "lstm"}}, "discriminator": {"backbone": {"type": "lstm"}},
           "train": {"total_steps": 1}}
    cfg = load_config(raw, [], kinds={"gan": GANConfig})
    assert GANExperiment.check(cfg) == [
        "data.source: 'tests.agents.gan.test_sample_shapes:DeclaredSeries' gives sequence samples of shape (16,), "
        "but a sequence sample is (steps, features): give shape (16, 1) (one feature per step), sample() "
        "returning (batch, 16, 1)"]


@pytest.mark.parametrize("modality, shape, g, d", [
    ("sequence", [16, 1], "lstm", "transformer"),  # the fix the refusal names trains and draws its curves
    ("points", [1, 5], "mlp", "mlp"),  # points of any shape: the picture reads them flattened
])
def test_shapes_the_modalities_take_train_and_draw(tmp_path, modality, shape, g, d):
    assert train(tmp_path, modality, shape, g, d) == 0
    (run_dir,) = (tmp_path / "gan_ring8").iterdir()
    assert list((run_dir / "media").glob("samples_step_*.png"))
    assert list((run_dir / "checkpoints").iterdir())


def test_the_scatter_reads_points_of_more_than_one_axis_flattened(tmp_path):
    rng = np.random.default_rng(0)
    for shape in [(1, 5), (4, 4), (1,)]:
        fake, real = rng.normal(size=(50, *shape)), rng.normal(size=(60, *shape))
        path = scatter(fake, real, tmp_path / f"{len(shape)}_{shape[0]}.png", "t")
        assert path.stat().st_size > 0
