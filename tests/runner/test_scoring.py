"""`DivergenceWatch`'s verdicts on one unit's metrics: what is non-finite, whose fault it is, and
what the message offers to change (only what the run's config has)."""

import math

import numpy as np
import pytest
import torch
import rlgen
from rlgen.api import kind_of
from rlgen.errors import RlgenError
from rlgen.scoring import DivergenceWatch


def _watch(run_dir, config: str | None = None, source: str = "the env"):
    """The watch of a run of bundled `config` (its kind's experiment, built but not set up), or of no kind."""
    experiment = None
    if config is not None:
        cfg = rlgen.load_config(config)
        experiment = kind_of(cfg)(cfg)
    return DivergenceWatch(run_dir, experiment, source)


@pytest.mark.parametrize("nan", [float("nan"), np.float32("nan"), np.float64("inf"), torch.tensor(float("nan")),
                                 np.array(float("-inf"))], ids=["float", "np.float32", "np.float64-inf", "0-d tensor",
                                                               "0-d array"])
def test_a_plugin_kinds_non_finite_loss_stops_the_run_whatever_its_number_type(tmp_path, nan):
    watch = _watch(tmp_path)
    with pytest.raises(RlgenError, match=r"non-finite loss/total at step 10: training diverged"):
        watch.check({"loss/total": nan, "train/lr": np.float32(0.1)}, 10)
    watch.check({"loss/total": np.float32(0.5), "loss/other": torch.tensor(1.0), "eval/table": [1.0, math.nan]}, 10)


CLIP = "lower optim.lr, clip gradients (agent.hyperparams.max_grad_norm) or add normalization"
PLAIN = "lower optim.lr or add normalization"


@pytest.mark.parametrize("config, advice", [
    ("ppo_cartpole", CLIP), ("selfplay_tictactoe", CLIP), ("teams_simple_tag", CLIP), ("dqn_cartpole", CLIP),
    ("sac_pendulum", PLAIN),
    ("bc_cartpole", PLAIN),  # BC's own gradient steps: SB3's max_grad_norm never clips them
    ("supervised_digits", PLAIN), (None, PLAIN),
    ("gan_ring8", "lower generator.optim.lr and discriminator.optim.lr, or add normalization"),  # it has no optim.lr
])
def test_the_divergence_advice_names_what_the_kind_has(tmp_path, config, advice):
    """It offered "gradient clipping" to GANs and SAC, which have no setting for it, and `optim.lr`
    to a GAN, whose config has none."""
    watch = _watch(tmp_path, config)
    with pytest.raises(RlgenError) as e:
        watch.check({"loss/total": float("nan")}, 10)
    said = str(e.value)
    assert said.startswith(f"non-finite loss/total at step 10: training diverged. No checkpoint was written before it: "
                           f"{advice}") and said.endswith(", and start again"), said
    assert "gradient clipping" not in said


@pytest.mark.parametrize("source", ["env 'hb/Bad-v0'", "game 'tictactoe'", "the env"])
def test_a_non_finite_episode_return_is_the_envs_rewards_not_divergence(tmp_path, source):
    """Returns alone non-finite (SAC before learning_starts logs returns only): the env's rewards."""
    watch = _watch(tmp_path, "ppo_cartpole", source)
    with pytest.raises(RlgenError) as e:
        watch.check({"rollout/ep_return_mean": float("inf")}, 128)
    assert str(e.value) == (f"non-finite rollout/ep_return_mean at step 128: {source} returned non-finite rewards "
                            "(NaN or inf). No checkpoint was written before it: make its step() return finite "
                            "rewards, and start again")


def test_non_finite_returns_and_losses_together_name_both_causes(tmp_path):
    """An env's NaN rewards reach the losses in the same unit (PPO), and diverged weights choose NaN
    actions that make the env's rewards NaN (SAC on Pendulum): one unit's metrics cannot tell which
    came first, so the line names both and both fixes."""
    watch = _watch(tmp_path, "ppo_cartpole", "env 'Pendulum-v1'")
    with pytest.raises(RlgenError) as e:
        watch.check({"rollout/ep_return_mean": float("nan"), "loss/value": float("nan"), "loss/total": 1.0}, 128)
    assert str(e.value) == ("non-finite rollout/ep_return_mean, loss/value at step 128: env 'Pendulum-v1' returned "
                            "non-finite rewards (NaN or inf), or training diverged and the policy's actions made them "
                            "so. No checkpoint was written before it: make the env's step() return finite rewards; if "
                            "it does, lower optim.lr, clip gradients (agent.hyperparams.max_grad_norm) or add "
                            "normalization, and start again")
