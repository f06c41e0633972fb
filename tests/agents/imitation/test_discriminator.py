"""The discriminator and its reward: hand values, absorbing states, and two Gaussian clouds it must tell apart."""

import math

import gymnasium as gym
import numpy as np
import pytest
import torch

from rlgen.agents.gan.losses import LOSSES
from rlgen.agents.imitation.config import ImitationDiscriminatorConfig
from rlgen.agents.imitation.discriminator import (Discriminator, RewardFunction, decision_threshold,
                                                  discriminator_loss, encode_actions, reward_from_logits)
from rlgen.agents.imitation.vec import TransitionStore
from rlgen.errors import RlgenError

LOGITS = torch.tensor([-2.0, 0.0, 3.0])


@pytest.mark.parametrize("form, expected", [
    ("logit", [-2.0, 0.0, 3.0]),
    ("positive", [math.log(1 + math.exp(-2.0)), math.log(2.0), math.log(1 + math.exp(3.0))]),  # -log(1 - D)
    ("negative", [-math.log(1 + math.exp(2.0)), -math.log(2.0), -math.log(1 + math.exp(-3.0))]),  # log D
])
def test_reward_forms_equal_their_hand_values(form, expected):
    d = torch.sigmoid(LOGITS)
    assert torch.allclose(reward_from_logits(LOGITS, form), torch.tensor(expected), atol=1e-6)
    if form == "positive":
        assert torch.allclose(reward_from_logits(LOGITS, form), -torch.log(1 - d), atol=1e-6)
        assert (reward_from_logits(LOGITS, form) > 0).all()  # rewards surviving, whatever D says
    if form == "negative":
        assert torch.allclose(reward_from_logits(LOGITS, form), torch.log(d), atol=1e-6)
        assert (reward_from_logits(LOGITS, form) < 0).all()


def test_shaped_reward_is_airls_f_and_needs_it():
    f = torch.tensor([0.5, -1.0])
    assert torch.equal(reward_from_logits(LOGITS[:2], "shaped", f), f)
    with pytest.raises(RlgenError, match="AIRL"):
        reward_from_logits(LOGITS, "shaped")


def test_decision_thresholds():
    e, l = torch.tensor([4.0, 6.0]), torch.tensor([0.0, 2.0])
    assert float(decision_threshold("non_saturating", e, l)) == 0.0
    assert float(decision_threshold("least_squares", e, l)) == 0.5  # targets 1 (expert) and 0 (learner)
    assert float(decision_threshold("wasserstein", e, l)) == 3.0  # the middle of the two means


def test_actions_are_encoded_one_hot_or_scaled_to_the_unit_box():
    assert torch.equal(encode_actions(torch.tensor([2, 0]), gym.spaces.Discrete(3)),
                       torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    box = gym.spaces.Box(-2.0, 2.0, (1,))
    assert torch.allclose(encode_actions(torch.tensor([[-2.0], [1.0], [3.0]]), box), torch.tensor([[-1.0], [0.5], [1.0]]))
    assert torch.allclose(encode_actions(torch.tensor([[0.25]]), box, scaled=True), torch.tensor([[0.25]]))


def _disc(algo="gail", absorbing=False, **cfg):
    config = ImitationDiscriminatorConfig.model_validate({"backbone": {"type": "mlp", "hidden": [32, 32]}, **cfg})
    return Discriminator(config, algo, gym.spaces.Box(-10, 10, (2,)), gym.spaces.Box(-1, 1, (1,)), absorbing, 0.9)


def test_absorbing_tail_is_folded_into_the_terminal_reward():
    torch.manual_seed(0)
    disc = _disc(absorbing=True)
    reward = RewardFunction(disc, "logit", 0.9, None)
    obs, act = np.array([[0.3, -0.2]] * 2, np.float32), np.array([[0.5]] * 2, np.float32)
    r = reward(obs, act, obs, np.array([False, True]))
    # the same step; the terminated one also earns r_abs forever after: gamma / (1 - gamma) * r_abs
    assert float(r[1] - r[0]) == pytest.approx(9.0 * float(reward.absorbing_reward()), rel=1e-5)
    plain = RewardFunction(_disc(absorbing=False), "logit", 0.9, None)
    r = plain(obs, act, obs, np.array([False, True]))
    assert float(r[0]) == pytest.approx(float(r[1]))  # terminal: none, GAIL on (s, a): no difference


def test_absorbing_rows_have_zero_observation_and_action_and_a_flag():
    disc = _disc(absorbing=True)
    store = TransitionStore.of(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), np.ones((4, 2), np.float32),
                               np.array([True, True, False, False]))
    batch = store.sample(4000, np.random.default_rng(0), absorbing=True)
    assert 0.25 < batch["absorbing"].mean() < 0.42  # 2 extra rows among 6
    assert (batch["obs"][batch["absorbing"]] == 0).all() and batch["next_absorbing"][batch["absorbing"]].all()
    t = {k: torch.as_tensor(v) for k, v in batch.items()}
    x = disc.features(t["obs"], t["actions"], t["next_obs"], t["absorbing"], t["next_absorbing"])
    assert x.shape == (4000, 3 + 1 + 3)  # [s | flag | a | s' | flag']
    rows = x[t["absorbing"]]
    assert (rows[:, [0, 1, 3, 4, 5]] == 0).all() and (rows[:, [2, 6]] == 1).all()
    terminal = t["next_absorbing"] & ~t["absorbing"]
    assert terminal.any() and (x[terminal][:, 6] == 1).all() and (x[terminal][:, 2] == 0).all()


def _clouds(n, rng):
    """Expert (s, a) around (+1, +1, +0.5), learner around (-1, -1, -0.5), spread 0.5."""
    expert = rng.normal([1.0, 1.0], 0.5, (n, 2)).astype(np.float32), rng.normal(0.5, 0.2, (n, 1)).clip(-1, 1)
    learner = rng.normal([-1.0, -1.0], 0.5, (n, 2)).astype(np.float32), rng.normal(-0.5, 0.2, (n, 1)).clip(-1, 1)
    return expert, learner


def _store(obs, act):
    return TransitionStore.of(obs, act.astype(np.float32), obs, np.zeros(len(obs), bool))


@pytest.mark.parametrize("loss, extra", [("non_saturating", {}), ("minimax", {"r1": 1.0}),
                                         ("hinge", {"spectral_norm": True}),
                                         ("wasserstein", {"gradient_penalty": 10.0}), ("least_squares", {})])
def test_discriminator_separates_two_gaussian_clouds_and_its_reward_ranks_them(loss, extra):
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    disc = _disc(loss=loss, **extra)
    cfg = ImitationDiscriminatorConfig.model_validate({"backbone": {"type": "mlp"}, "loss": loss, **extra})
    opt = torch.optim.Adam(disc.parameters(), lr=1e-3)
    (e_obs, e_act), (l_obs, l_act) = _clouds(2000, rng)
    expert, learner = _store(e_obs, e_act), _store(l_obs, l_act)
    zero = torch.zeros(256)
    for _ in range(300):
        e, l = (s.sample(256, rng, absorbing=False) for s in (expert, learner))
        disc.update_statistics(torch.as_tensor(e["obs"]), torch.as_tensor(l["obs"]))
        x_e, x_l = ([disc.features(*(torch.as_tensor(b[k]) for k in ("obs", "actions", "next_obs", "absorbing",
                                                                       "next_absorbing")))] for b in (e, l))
        loss_value, stats = discriminator_loss(disc, cfg, x_e[0], x_l[0], zero, zero)
        opt.zero_grad()
        loss_value.backward()
        opt.step()
    (e_obs, e_act), (l_obs, l_act) = _clouds(1000, np.random.default_rng(1))  # fresh samples
    disc.eval()
    for form in ("logit", "positive", "negative"):
        reward = RewardFunction(disc, form, 0.9, None)
        no = np.zeros(1000, bool)
        r_e, r_l = reward(e_obs, e_act, e_obs, no), reward(l_obs, l_act, l_obs, no)
        assert float(r_e.mean()) > float(r_l.mean())
        assert float((r_e[:, None] > r_l[None, :]).float().mean()) > 0.95  # ranks almost every pair right
    with torch.no_grad():
        f_e = disc(disc.features(*map(torch.as_tensor, (e_obs, e_act, e_obs, no, no))))
        f_l = disc(disc.features(*map(torch.as_tensor, (l_obs, l_act, l_obs, no, no))))
    cut = decision_threshold(loss, f_e, f_l)
    accuracy = 0.5 * (float((f_e > cut).float().mean()) + float((f_l <= cut).float().mean()))
    assert accuracy > 0.95, accuracy
    assert stats["gan/accuracy_expert"] > 0.9 and stats["gan/accuracy_learner"] > 0.9


def test_the_discriminator_uses_the_gan_kinds_losses_not_copies():
    import rlgen.agents.imitation.discriminator as module

    assert module.LOSSES is LOSSES


def test_airl_potential_shapes_the_reward_and_learns_from_log_pi():
    torch.manual_seed(0)
    disc = _disc("airl", absorbing=False, input="s")
    obs = torch.randn(8, 2)
    x = disc.features(obs, torch.zeros(8, 1), obs, torch.zeros(8, dtype=torch.bool), torch.zeros(8, dtype=torch.bool))
    g = disc.head(disc.body(x.index_select(-1, disc.reward_in)))
    h = disc.potential_head(disc.potential(x[..., :2]))
    # s' = s: f = g + gamma h(s) - h(s); with a zero next weight (a terminal s'), f = g - h(s)
    assert torch.allclose(disc(x), g - 0.1 * h, atol=1e-5)
    assert torch.allclose(disc(x, torch.zeros(8)), g - h, atol=1e-5)
    reward = RewardFunction(disc, "logit", 0.9, lambda o, a: torch.full((len(o),), -2.0))
    shaped = RewardFunction(disc, "shaped", 0.9, lambda o, a: torch.full((len(o),), -2.0))
    args = (obs.numpy(), np.zeros((8, 1), np.float32), obs.numpy(), np.zeros(8, bool))
    assert torch.allclose(reward(*args), shaped(*args) + 2.0, atol=1e-5)  # logit = f - log pi
