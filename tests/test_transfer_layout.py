"""Transfer between backbones that read the same frames in another axis order: an mlp trained on
MinAtar's `observations` (boolean (H, W, C) frames, which that source turns channels first) and an
mlp RL policy on MinAtar (which flattens them channel-last as they come). The copy computes what
its source computed on the same observation, both ways; frames of another size are refused."""

import gymnasium as gym
import numpy as np
import pytest
import torch

import rlgen
from rlgen.envs import ensure_registered
from rlgen.envs.datasets import as_policy_reads
from rlgen.experiment import RunContext
from rlgen.logging import Logger
from rlgen.transfer import BackboneMismatch, in_target_frame, trunk

pytest.importorskip("minatar")

QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
ENV = "MinAtar/Breakout-v1"
MLP_AE = ["data={source: observations, kwargs: {env_id: MinAtar/Breakout-v1, n_frames: 200}, validation: 0.1}",
          "decoder.backbone={type: mlp, hidden: [16]}", "fit.batch_size=16", "fit.steps_per_unit=5",
          "train.total_steps=5", "train.eval_every=5", "eval.pictures=false"]
MLP_PPO = ["env.n_envs=2", "agent.hyperparams.n_steps=64", "agent.hyperparams.batch_size=64", "train.eval_episodes=1"]


def _frames(n=8):
    """Observations of a random walk: (N, 10, 10, 4) bool, as the env gives them."""
    env = gym.make(ensure_registered(ENV))
    env.action_space.seed(5)
    obs, _ = env.reset(seed=5)
    frames = []
    while len(frames) < n:
        frames.append(obs)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, _ = env.reset()
    space = env.observation_space
    env.close()
    return np.stack(frames), space


def _as_the_source_reads(frames, space):
    """What the `observations` source holds for those frames: (N, C, H, W) floats."""
    return torch.as_tensor(as_policy_reads(frames, space).transpose(0, 3, 1, 2))


def _setup(config, overrides, tmp_path):
    cfg = rlgen.load_config(config, [*QUIET, *overrides])
    exp = rlgen.make_experiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), 0))
    return exp


def test_an_mlp_pretrained_on_observations_computes_the_same_features_in_an_mlp_policy(tmp_path):
    encoder_run = rlgen.train("autoencoder_minatar_breakout", [
        *QUIET, f"logging.dir={tmp_path / 'ae'}", *MLP_AE, "encoder.backbone={type: mlp, hidden: [32]}"]).run_dir
    with rlgen.load_run(encoder_run) as run:
        encoder = trunk(run.modules()["encoder"])
        frames, space = _frames()
        want = encoder(_as_the_source_reads(frames, space))
    init = f"init: {{run: '{encoder_run}', role: encoder, freeze: true}}"
    exp = _setup("ppo_minatar_breakout", [*MLP_PPO, f"agent.policy.backbone={{type: mlp, hidden: [32], {init}}}"],
                 tmp_path / "ppo")
    try:
        extractor = exp.model.policy.features_extractor
        got = extractor(torch.as_tensor(frames).float())  # SB3 hands boolean frames over as 0. / 1. (B, H, W, C)
    finally:
        exp.close()
    assert extractor.net.in_shape == (400,)  # the policy still reads its frames as it always did
    assert want.abs().sum() > 0 and torch.allclose(got, want, atol=1e-6)


def test_an_mlp_policy_torso_computes_the_same_features_in_an_encoder_of_observations(tmp_path):
    policy_run = rlgen.train("ppo_minatar_breakout", [
        *QUIET, f"logging.dir={tmp_path / 'ppo'}", *MLP_PPO, "agent.policy.backbone={type: mlp, hidden: [32]}",
        "train.total_steps=128", "train.eval_every=128"]).run_dir
    with rlgen.load_run(policy_run) as run:
        frames, space = _frames()
        want = run.modules()["policy"].features_extractor(torch.as_tensor(frames).float())
    init = f"init: {{run: '{policy_run}', role: policy, freeze: true}}"
    exp = _setup("autoencoder_minatar_breakout", [*MLP_AE, f"encoder.backbone={{type: mlp, hidden: [32], {init}}}"],
                 tmp_path / "ae")
    got = trunk(exp.model.encoder)(_as_the_source_reads(frames, space))
    assert want.abs().sum() > 0 and torch.allclose(got, want, atol=1e-6)


def test_frames_of_another_size_are_refused_in_one_line():
    state = {"layers.1.weight": torch.zeros(8, 400), "layers.1.bias": torch.zeros(8)}
    with pytest.raises(BackboneMismatch, match=r"^x\.init: src reads \(4, 10, 10\) frames channels first, x reads "
                                               r"\(20, 5, 4\) frames channel-last: .*\n?$"):
        in_target_frame(state, ("CHW", (4, 10, 10)), ("HWC", (20, 5, 4)), "src", "x")
    same = in_target_frame(state, ("CHW", (4, 10, 10)), ("CHW", (4, 10, 10)), "src", "x")
    assert same is state
