"""Pictures of images with any channel count (MinAtar frames have 4 to 10)."""

import numpy as np
import pytest

import rlgen
from rlgen.agents.gan.pictures import image_grid, one_picture_per_image


def test_frames_with_one_channel_per_object_become_one_grey_picture():
    frames = -np.ones((2, 4, 3, 3), dtype=np.float32)  # all cells off
    frames[0, 1, 0, 0] = 1.0  # object kind 1 at (0, 0)
    frames[1, 3, 2, 2] = 1.0  # object kind 3 at (2, 2)
    grey = one_picture_per_image(frames)
    assert grey.shape == (2, 1, 3, 3)
    assert grey[0, 0, 0, 0] == pytest.approx(2 * 2 / 4 - 1) and grey[1, 0, 2, 2] == pytest.approx(1.0)
    assert (grey[0, 0].ravel()[1:] == -1).all()  # empty cells stay black
    rgb = np.zeros((1, 3, 2, 2), dtype=np.float32)
    assert one_picture_per_image(rgb) is rgb


@pytest.mark.parametrize("channels", [1, 3, 4, 6, 10])
def test_image_grid_saves_any_channel_count(channels, tmp_path):
    images = np.random.default_rng(0).uniform(-1, 1, (5, channels, 10, 10)).astype(np.float32)
    assert image_grid(images, tmp_path / "grid.png").stat().st_size > 0


def test_a_gan_learns_from_space_invaders_frames(tmp_path):
    pytest.importorskip("minatar")
    run = rlgen.train("gan_minatar_breakout", ["logging.wandb.mode=disabled", "train.progress=false",
                                               "logging.console=false", f"logging.dir={tmp_path}",
                                               "data.kwargs={env_id: MinAtar/SpaceInvaders-v1, n_frames: 64}",
                                               "eval.samples=64", "objective.batch_size=16", "train.total_steps=2",
                                               "train.eval_every=2", "perf.steps_per_unit=2"])
    assert run.summary["status"] == "completed"
    assert (run.run_dir / "media" / "samples_step_00000002.png").is_file()
