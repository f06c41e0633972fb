"""What a new run cannot train on as its observations come (normalized images, float frames stored
channels last under a cnn), refused for new runs only: a run an earlier rlgen trained so opens and
resumes as it was; kind: bc and kind: imitation, whose policies read the same frames, refuse what
kind: rl refuses."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np
import pytest
import yaml

import rlgen
from rlgen.agents.rl.setup_checks import new_run_env_problem
from rlgen.agents.rl.vec import float_frames_problem
from rlgen.cli import main
from tests.agents.imitation.test_bc import bc_config, identity_demos  # noqa: F401 (a fixture)
from tests.agents.imitation.test_imitation import gail_config


def _env(shape):
    return SimpleNamespace(observation_space=gym.spaces.Box(0.0, 1.0, shape, np.float32))


@pytest.mark.parametrize("shape, refused", [((84, 84, 1), True), ((10, 10, 3), True), ((84, 84, 4), True),
                                            ((16, 4, 4), False), ((17, 3, 3), False), ((4, 84, 84), False)])
def test_float_frames_are_channels_last_by_sb3s_reading_of_an_image(shape, refused):
    """A board's one-hot planes, (16, 4, 4) channels first, are no frames stored channels last."""
    assert (float_frames_problem(_env(shape), "cnn") is not None) == refused


def test_a_run_trained_so_before_opens_and_resumes():
    cfg = rlgen.load_config("ppo_cartpole", ["agent.policy.backbone={type: cnn, channels: [4], kernels: [3], "
                                             "strides: [1], hidden: 8}"])
    frames = _env((10, 10, 1))
    assert "float frames channels last" in new_run_env_problem(cfg, frames, SimpleNamespace(training=True, resumed=False))
    assert new_run_env_problem(cfg, frames, SimpleNamespace(training=True, resumed=True)) is None
    assert new_run_env_problem(cfg, frames, SimpleNamespace(training=False, resumed=False)) is None


def test_kind_bc_refuses_what_kind_rl_refuses(tmp_path, identity_demos, monkeypatch, capsys):  # noqa: F811
    import rlgen.agents.imitation.bc_experiment as bc

    monkeypatch.setattr(bc, "new_run_env_problem", lambda cfg, env, ctx: "observation space X: refused as rl does")
    raw = bc_config(tmp_path, "rlgen/Identity-v0", identity_demos["rlgen/Identity-v0"])
    path = tmp_path / "bc.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["train", str(path)]) == 2
    assert capsys.readouterr().err.strip() == "error: observation space X: refused as rl does"
    assert not (tmp_path / raw["name"]).exists()  # a new run refused at setup leaves no directory


def test_kind_imitation_refuses_what_kind_rl_refuses(tmp_path, identity_demos, monkeypatch, capsys):  # noqa: F811
    import rlgen.agents.imitation.experiment as imitation

    seen = []

    def refuse(cfg, env, ctx):
        seen.append(env.observation_space)  # the learner's env, before any reward or normalization wraps it
        return "observation space X: refused as rl does"

    monkeypatch.setattr(imitation, "new_run_env_problem", refuse)
    raw = gail_config(tmp_path, identity_demos["rlgen/Identity-v0"])
    path = tmp_path / "gail.yaml"
    path.write_text(yaml.safe_dump(raw))
    assert main(["train", str(path)]) == 2
    assert capsys.readouterr().err.strip() == "error: observation space X: refused as rl does"
    assert len(seen) == 1
    assert not (tmp_path / raw["name"]).exists()
