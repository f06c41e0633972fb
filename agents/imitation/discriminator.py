"""The discriminator of adversarial imitation, the reward it gives the learner, and its training step.

A batch of transitions (s, a, s') becomes one feature tensor, its parts side by side on the last
axis: [s | flag | a | s' | flag'] (the flags only with absorbing states; windows (B, T, F) get the
action and flags on every step, as `kind: gan` conditions sequences). GAIL's discriminator is a
backbone and a linear head on the parts its `input` names; AIRL's is
f(s, a, s') = g(s[, a]) + gamma h(s') - h(s) (Fu et al. 2018), and its logit is f - log pi(a|s).
The same GAN losses and penalties as `kind: gan` train it (expert = real, learner = fake).

The learner's reward is a function of the logit l (`reward_from_logits`): `logit` l,
`positive` -log(1 - D) = softplus(l), `negative` log D = -softplus(-l), or AIRL's `shaped` f.
With `terminal: absorbing` (Kostrikov et al. 2019, DAC) a terminated episode continues in an
absorbing state the discriminator also judges; its infinite tail of rewards
r_abs + gamma r_abs + ... is folded into the terminal step as gamma / (1 - gamma) * r_abs, which
is exactly what bootstrapping through the absorbing state would give.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3.common.preprocessing import preprocess_obs
from torch import Tensor, nn

from rlgen.agents.gan.losses import LOSSES
from rlgen.agents.gan.regularizers import add_spectral_norm, differentiable_twice, gradient_penalty, r1_from_logits
from rlgen.agents.imitation.config import ImitationDiscriminatorConfig
from rlgen.errors import RlgenError
from rlgen.nets import LinearHead, build_backbone
from rlgen.transfer import apply_init


def reward_from_logits(logits: Tensor, form: str, shaped: Tensor | None = None) -> Tensor:
    """The learner's reward from the discriminator's logits l = log D - log(1 - D) (B,)."""
    if form == "logit":
        return logits
    if form == "positive":
        return F.softplus(logits)  # -log(1 - D) > 0: every step earns something, so surviving pays
    if form == "negative":
        return -F.softplus(-logits)  # log D < 0: every step costs, so ending early pays
    if form == "shaped":
        if shaped is None:
            raise RlgenError("reward: shaped is AIRL's f(s, a, s'); use it with imitation.algo: airl")
        return shaped
    raise RlgenError(f"unknown reward form {form!r}; use logit, positive, negative or shaped")


def decision_threshold(loss: str, expert_logits: Tensor, learner_logits: Tensor) -> Tensor:
    """Where the discriminator's output says "expert": 0 for logit losses, 1/2 for least squares
    (targets 1 and 0), and the middle of the two batches for the Wasserstein critic (no scale)."""
    if loss == "least_squares":
        return torch.tensor(0.5)
    if loss == "wasserstein":
        return 0.5 * (expert_logits.mean() + learner_logits.mean())
    return torch.tensor(0.0)


def encode_actions(actions: Tensor, space: gym.Space, scaled: bool = False) -> Tensor:
    """(B, ...) actions -> (B, A) float: discrete one-hot, bounded boxes to [-1, 1] (SB3's scaling,
    so env actions and an off-policy buffer's `scaled` actions read the same)."""
    if isinstance(space, gym.spaces.Box):
        a = actions.float().reshape(len(actions), -1)
        if scaled or not space.is_bounded():
            return a
        low = torch.as_tensor(space.low.reshape(-1), dtype=a.dtype, device=a.device)
        high = torch.as_tensor(space.high.reshape(-1), dtype=a.dtype, device=a.device)
        return (2.0 * (a - low) / (high - low) - 1.0).clamp(-1.0, 1.0)
    if isinstance(space, gym.spaces.Discrete):
        return F.one_hot(actions.long().reshape(-1) - int(space.start), int(space.n)).float()
    return preprocess_obs(actions, space).float().reshape(len(actions), -1)  # MultiDiscrete, MultiBinary


def example(space: gym.Space) -> np.ndarray:
    """One element of `space`, drawn from a seeded copy: the space's own generator (saved with
    the model and its envs) stays as it was, so two runs of one seed save the same state."""
    copy = deepcopy(space)
    copy.seed(0)
    return np.asarray(copy.sample())


def encoded_obs_shape(space: gym.Space) -> tuple[int, ...]:
    """The shape of one observation after `preprocess_obs` (discrete spaces one-hot)."""
    sample = torch.as_tensor(example(space))[None]
    return tuple(preprocess_obs(sample, space).shape[1:])


class Discriminator(nn.Module):
    """features (B, *lead, D) [, next_weight (B,)] -> GAIL's logit or AIRL's f(s, a, s') (B,)."""

    def __init__(self, cfg: ImitationDiscriminatorConfig, algo: str, obs_space: gym.Space, act_space: gym.Space,
                 absorbing: bool, gamma: float):
        super().__init__()
        self.obs_space, self.act_space, self.absorbing, self.gamma = obs_space, act_space, absorbing, gamma
        shape = encoded_obs_shape(obs_space)
        if len(shape) > 2:
            raise RlgenError(f"the discriminator reads flat observations or (T, F) windows, not {shape}; "
                             "flatten image observations or use env.history windows")
        self.lead, obs_dim = shape[:-1], shape[-1]
        act_dim = int(encode_actions(torch.as_tensor(example(act_space))[None], act_space).shape[1])
        flag = int(absorbing)
        s = list(range(obs_dim + flag))
        a = list(range(len(s), len(s) + act_dim))
        n = list(range(len(s) + act_dim, 2 * len(s) + act_dim))
        self.parts = {"s": s, "a": a, "next": n}
        # running statistics of every observation it has trained on, expert's and learner's alike
        # (the imitation library's RunningNorm): the expert's alone are narrow (CartPole's expert
        # holds the pole within 0.01 rad), which would put every learner state tens of stds away
        self.normalize = cfg.normalize_input
        self.register_buffer("obs_mean", torch.zeros(obs_dim))
        self.register_buffer("obs_var", torch.ones(obs_dim))
        self.register_buffer("obs_count", torch.zeros((), dtype=torch.float64))
        self.airl = algo == "airl"
        reward_in = {"s": s, "sa": s + a, "ss": s + n, "sas": s + a + n}[cfg.input]
        self.register_buffer("reward_in", torch.as_tensor(reward_in), persistent=False)
        self.body = build_backbone(cfg.backbone.spec(), (*self.lead, len(reward_in)), where="discriminator.backbone")
        apply_init(self.body, cfg.backbone.init, "discriminator.backbone")  # before spectral norm renames weights
        self.head = LinearHead(self.body.out_dim, ())
        if self.airl:  # the shaping potential h(s), applied to s and s'
            h_at = "discriminator.potential" if cfg.potential is not None else "discriminator.backbone"
            self.potential = build_backbone((cfg.potential or cfg.backbone).spec(), (*self.lead, len(s)), where=h_at)
            if cfg.potential is not None:  # the body's init is the body's: it reads (s, a, s'), h reads s
                apply_init(self.potential, cfg.potential.init, "discriminator.potential")
            self.potential_head = LinearHead(self.potential.out_dim, ())
        if cfg.spectral_norm:
            add_spectral_norm(self)  # a frozen (transferred) backbone stays as its source run had it

    @property
    def backbone(self) -> nn.Module:
        """The body (transfer's trunk of the `discriminator` role), without the input statistics and head."""
        return self.body

    def features(self, obs: Tensor, actions: Tensor, next_obs: Tensor, absorbing: Tensor, next_absorbing: Tensor,
                 scaled_actions: bool = False) -> Tensor:
        """Raw batches (as the learner sees them; actions env-scale unless `scaled_actions`) and
        (B,) absorbing flags of s and s' -> (B, *lead, D)."""
        parts = [self._obs(obs, absorbing), self._broadcast(encode_actions(actions, self.act_space, scaled_actions)
                                                            * ~absorbing[:, None])]
        parts.append(self._obs(next_obs, next_absorbing))
        return torch.cat(parts, dim=-1)

    def forward(self, x: Tensor, next_weight: Tensor | None = None) -> Tensor:
        """GAIL: the logit; AIRL: g + w h(s') - h(s), w = gamma (or gamma (1 - done) without
        absorbing states: `next_weight` (B,))."""
        score = self.head(self.body(x.index_select(-1, self.reward_in)))
        if not self.airl:
            return score
        w = self.gamma if next_weight is None else next_weight
        s, n = self.parts["s"], self.parts["next"]
        h_s = self.potential_head(self.potential(x[..., s[0] : s[-1] + 1]))
        h_next = self.potential_head(self.potential(x[..., n[0] : n[-1] + 1]))
        return score + w * h_next - h_s

    def _obs(self, obs: Tensor, absorbing: Tensor) -> Tensor:
        x = self._encoded(obs)
        x = (x - self.obs_mean) / (self.obs_var + 1e-8).sqrt() * ~self._broadcast(absorbing[:, None])  # absorbing: 0
        if self.absorbing:
            x = torch.cat([x, self._broadcast(absorbing[:, None].float())], dim=-1)
        return x

    @torch.no_grad()
    def update_statistics(self, *observations: Tensor) -> None:
        """Fold batches of (non-absorbing) observations into the running mean and variance."""
        if not self.normalize:
            return
        x = torch.cat([self._encoded(o).reshape(-1, self.obs_mean.shape[0]) for o in observations]).double()
        n, mean, var = x.shape[0], x.mean(0), x.var(0, unbiased=False)
        total = self.obs_count + n
        delta = mean - self.obs_mean.double()
        new_mean = self.obs_mean.double() + delta * n / total
        m2 = self.obs_var.double() * self.obs_count + var * n + delta.pow(2) * self.obs_count * n / total
        self.obs_mean.copy_(new_mean)
        self.obs_var.copy_(m2 / total)
        self.obs_count.copy_(total)

    def _encoded(self, obs: Tensor) -> Tensor:
        if isinstance(self.obs_space, gym.spaces.Discrete):
            obs = obs.reshape(-1)  # (B,) or a replay buffer's (B, 1)
        return preprocess_obs(obs, self.obs_space).float()  # discrete one-hot

    def _broadcast(self, v: Tensor) -> Tensor:
        """(B, k) -> (B, *lead, k): the same values on every step of a window."""
        return v.reshape(len(v), *([1] * len(self.lead)), v.shape[-1]).expand(len(v), *self.lead, v.shape[-1])


def discriminator_loss(disc: Discriminator, cfg: ImitationDiscriminatorConfig, expert: Tensor, learner: Tensor,
                       expert_log_pi: Tensor, learner_log_pi: Tensor,
                       weights: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, dict[str, Tensor]]:
    """One discriminator objective: the GAN loss (expert = real, learner = fake) on logits
    f - log pi (zero log pi for GAIL), plus the gradient penalty between the two and R1 on the expert."""
    expert = expert.detach().requires_grad_(cfg.r1 > 0)  # R1 differentiates D(expert) w.r.t. its input
    w_e, w_l = weights if weights is not None else (None, None)
    with differentiable_twice(cfg.r1 > 0 or cfg.gradient_penalty > 0):
        e_logits = disc(expert, w_e) - expert_log_pi
        l_logits = disc(learner.detach(), w_l) - learner_log_pi
        loss = LOSSES[cfg.loss].d(e_logits, l_logits)
        if cfg.gradient_penalty:
            loss = loss + gradient_penalty(disc, expert, learner, cfg.gradient_penalty)
        if cfg.r1:
            loss = loss + r1_from_logits(e_logits, expert, cfg.r1)
    with torch.no_grad():
        cut = decision_threshold(cfg.loss, e_logits, l_logits)
        stats = {"gan/loss_d": loss.detach(), "gan/accuracy_expert": (e_logits > cut).float().mean(),
                 "gan/accuracy_learner": (l_logits <= cut).float().mean()}
    return loss, stats


class RewardFunction:
    """The learner's reward for batches of transitions, from the current discriminator.

    `log_prob(obs, actions) -> (B,)` is the learner's log pi (AIRL's logit subtracts it).
    """

    def __init__(self, disc: Discriminator, form: str, gamma: float,
                 log_prob: Callable[[Tensor, Tensor], Tensor] | None):
        self.disc, self.form, self.gamma, self.log_prob = disc, form, gamma, log_prob

    @torch.no_grad()
    def __call__(self, obs: Any, actions: Any, next_obs: Any, terminated: Any, scaled_actions: bool = False) -> Tensor:
        """Batches (numpy or tensors; `terminated` (B,) true where the step ended the episode in a
        terminal state, not a time limit) -> rewards (B,) on the discriminator's device."""
        device = self.disc.obs_mean.device
        obs, actions, next_obs = (torch.as_tensor(np.asarray(v) if not torch.is_tensor(v) else v, device=device)
                                  for v in (obs, actions, next_obs))
        term = torch.as_tensor(np.asarray(terminated) if not torch.is_tensor(terminated) else terminated,
                               device=device).reshape(-1).bool()
        none = torch.zeros_like(term)
        absorbing = self.disc.absorbing
        x = self.disc.features(obs, actions, next_obs, none, term & absorbing, scaled_actions)
        f = self.disc(x, None if absorbing else self.gamma * (~term).float())
        log_pi = self._log_pi(obs, actions, scaled_actions) if self.disc.airl else torch.zeros_like(f)
        reward = reward_from_logits(f - log_pi, self.form, f)
        if absorbing:  # the absorbing state's rewards forever after, discounted (module docstring)
            reward = reward + term.float() * self.gamma / (1.0 - self.gamma) * self.absorbing_reward()
        return reward

    @torch.no_grad()
    def absorbing_reward(self) -> Tensor:
        """The reward of one step in the absorbing state (the learner does not act there: log pi = 0)."""
        one = torch.ones(1, dtype=torch.bool, device=self.disc.obs_mean.device)
        obs = torch.zeros((1, *self.disc.obs_space.shape), device=one.device)
        act = torch.as_tensor(example(self.disc.act_space)[None] * 0, device=one.device)
        f = self.disc(self.disc.features(obs, act, obs, one, one))
        return reward_from_logits(f, self.form, f)[0]

    def _log_pi(self, obs: Tensor, actions: Tensor, scaled: bool) -> Tensor:
        if scaled and isinstance(self.disc.act_space, gym.spaces.Box):
            low, high = (torch.as_tensor(b, dtype=torch.float32, device=obs.device)
                         for b in (self.disc.act_space.low, self.disc.act_space.high))
            actions = low + (actions.float() + 1.0) * 0.5 * (high - low)  # back to env scale
        return self.log_prob(obs, actions)
