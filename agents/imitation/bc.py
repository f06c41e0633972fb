"""Behaviour cloning of any SB3 policy rlgen builds, as small functions and one trainer.

`action_log_prob(policy, obs, actions)` is the policy's log-likelihood of given (env-scale)
actions, whatever its family: an actor-critic's distribution (PPO, A2C, TRPO; discrete or
Gaussian), SAC's and TQC's squashed Gaussian, or a softmax over DQN's Q-values. `bc_loss` turns it
into the BC objective (NLL or MSE, an entropy bonus, L1/L2), and `BCTrainer` runs epochs or single
steps of it on a fixed dataset with its own optimizer and RNG, whose state it saves as tensors and
plain values:

    trainer = BCTrainer(model.policy, obs, actions, cfg.bc, cfg.optim, seed=0)
    metrics = trainer.epoch()          # {"loss/bc": ..., "train/bc_accuracy": ...}
"""

from __future__ import annotations

from typing import Any, Iterable

import gymnasium as gym
import numpy as np
import torch
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.policies import ActorCriticPolicy, BasePolicy
from torch import Tensor, nn

from rlgen.agents.imitation.config import BCObjective
from rlgen.agents.rl.algos import one_row_norm
from rlgen.config import OptimConfig
from rlgen.errors import RlgenError

# The value side of an actor-critic policy: BC leaves it alone (no gradient, no L1/L2 decay).
_VALUE_PARTS = ("value_net", "mlp_extractor.value_net", "vf_features_extractor")


def _family(policy: BasePolicy) -> str:
    # MaskablePPO's policy is no ActorCriticPolicy but has its get_distribution: without masks it is
    # the distribution over every action, and the expert's actions were legal where it took them
    if isinstance(policy, (ActorCriticPolicy, MaskableActorCriticPolicy)):
        return "actor_critic"
    actor = getattr(policy, "actor", None)
    if actor is not None and hasattr(actor, "get_action_dist_params"):
        return "squashed"  # SAC, TQC
    if actor is not None:
        return "deterministic"  # TD3, DDPG
    if hasattr(policy, "q_net") or hasattr(policy, "quantile_net"):
        return "q_values"  # DQN, QR-DQN
    raise RlgenError(f"agent.algo: rlgen knows no log-likelihood of the policy {type(policy).__name__}, which "
                     "behaviour cloning and AIRL need; use ppo, a2c, trpo, sac, tqc, td3, ddpg, dqn or qrdqn")


def bc_problems(algo_policy: type, loss: str, where: str, action_space: gym.Space | None = None) -> list[str]:
    """Config problems: the loss must suit the policy family and the env's actions (checked before
    anything is built; `action_space` None when unknown)."""
    name = algo_policy.__name__
    if loss == "nll" and name in ("TD3Policy",):
        return [f"{where}.loss: a deterministic actor (TD3, DDPG) has no likelihood; use loss: mse"]
    if loss == "mse" and (name in ("DQNPolicy", "QRDQNPolicy") or
                          (action_space is not None and not isinstance(action_space, gym.spaces.Box))):
        actions = "discrete actions" if action_space is None else f"actions of {action_space}"
        return [f"{where}.loss: mse fits continuous (Box) actions, and this policy has {actions}; use loss: nll"]
    return []


def trained_parameters(policy: BasePolicy) -> list[nn.Parameter]:
    """The parameters BC trains: the actor's (for an actor-critic, everything but the value side)."""
    family = _family(policy)
    if family in ("squashed", "deterministic"):
        return list(policy.actor.parameters())
    if family == "q_values":
        net = policy.q_net if hasattr(policy, "q_net") else policy.quantile_net
        return list(net.parameters())
    return [p for n, p in policy.named_parameters() if not n.startswith(_VALUE_PARTS)]


def _scaled(policy: BasePolicy, actions: Tensor) -> Tensor:
    """Box actions in [low, high] -> [-1, 1], kept a hair inside so that atanh stays finite."""
    low = torch.as_tensor(policy.action_space.low, dtype=actions.dtype, device=actions.device)
    high = torch.as_tensor(policy.action_space.high, dtype=actions.dtype, device=actions.device)
    return (2.0 * (actions - low) / (high - low) - 1.0).clamp(-1 + 1e-6, 1 - 1e-6)


def _q_values(policy: BasePolicy, obs: Tensor) -> Tensor:
    if hasattr(policy, "q_net"):
        return policy.q_net(obs)  # (B, n)
    return policy.quantile_net(obs).mean(dim=1)  # (B, n_quantiles, n) -> (B, n)


def action_log_prob(policy: BasePolicy, obs: Tensor, actions: Tensor) -> tuple[Tensor, Tensor | None]:
    """(B, *obs), (B, *act) env-scale actions -> log pi(a|s) (B,) and the entropy (B,) when known."""
    family = _family(policy)
    if isinstance(policy.action_space, gym.spaces.Discrete):
        actions = actions.long().reshape(-1)
    if family == "actor_critic":
        dist = policy.get_distribution(obs)
        return dist.log_prob(actions), dist.entropy()
    if family == "squashed":
        mean, log_std, kwargs = policy.actor.get_action_dist_params(obs)
        dist = policy.actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        return dist.log_prob(_scaled(policy, actions)), None
    if family == "q_values":
        logits = torch.log_softmax(_q_values(policy, obs), dim=-1)  # a softmax policy over Q (DQfD-style BC)
        return logits.gather(1, actions.long().reshape(-1, 1)).squeeze(1), -(logits.exp() * logits).sum(-1)
    raise RlgenError(f"{type(policy).__name__} is deterministic: it has no log-likelihood; use bc.loss: mse")


def deterministic_action(policy: BasePolicy, obs: Tensor) -> Tensor:
    """The policy's deterministic action (env scale for actor-critics, [-1, 1] for SAC/TD3 actors)."""
    family = _family(policy)
    if family == "actor_critic":
        return policy.get_distribution(obs).mode()
    if family in ("squashed", "deterministic"):
        return policy.actor(obs, deterministic=True) if family == "squashed" else policy.actor(obs)
    raise RlgenError("bc.loss: mse needs continuous actions; use nll for discrete ones")


def bc_loss(policy: BasePolicy, obs: Tensor, actions: Tensor, cfg: BCObjective,
            params: Iterable[Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
    """The BC objective on one batch and its parts (as tensors: the caller reads them once)."""
    parts: dict[str, Tensor] = {}
    if cfg.loss == "mse":
        target = actions if _family(policy) == "actor_critic" else _scaled(policy, actions)
        fit = (deterministic_action(policy, obs) - target).pow(2).sum(-1).mean()
        entropy = None
    else:
        log_prob, entropy = action_log_prob(policy, obs, actions)
        fit = -log_prob.mean()
    parts["loss/bc_fit"] = fit.detach()
    loss = fit
    if entropy is not None and cfg.ent_weight:
        parts["train/bc_entropy"] = entropy.mean().detach()
        loss = loss - cfg.ent_weight * entropy.mean()
    if cfg.l1 or cfg.l2:
        params = list(params)
        if cfg.l1:
            loss = loss + cfg.l1 * sum(p.abs().sum() for p in params)
        if cfg.l2:
            loss = loss + cfg.l2 * 0.5 * sum(p.pow(2).sum() for p in params)
    if isinstance(policy.action_space, gym.spaces.Discrete):
        with torch.no_grad():
            chosen = _discrete_choice(policy, obs)
        parts["train/bc_accuracy"] = (chosen == actions.long().reshape(-1)).float().mean()
    return loss, parts


def _discrete_choice(policy: BasePolicy, obs: Tensor) -> Tensor:
    if _family(policy) == "q_values":
        return _q_values(policy, obs).argmax(-1)
    return policy.get_distribution(obs).mode().long().reshape(-1)


class BCTrainer:
    """BC on fixed (observation, action) rows: epochs (shuffled, full batches) or single steps.

    `obs` are what the policy sees (windows included), `actions` the expert's, env scale. The
    optimizer covers `trained_parameters(policy)`; the batch order comes from its own numpy RNG.
    """

    def __init__(self, policy: BasePolicy, obs: np.ndarray, actions: np.ndarray, cfg: BCObjective,
                 optim: OptimConfig, seed: int):
        self.policy, self.cfg = policy, cfg
        if cfg.loss == "mse" and not isinstance(policy.action_space, gym.spaces.Box):  # bc_problems says so first
            raise RlgenError(f"bc.loss: mse fits continuous (Box) actions, not {policy.action_space}; use loss: nll")
        self.obs = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=policy.device)
        self.actions = torch.as_tensor(np.asarray(actions), dtype=torch.float32, device=policy.device)
        if len(self.obs) == 0:
            raise RlgenError("behaviour cloning needs at least one demonstration row")
        if one_row_norm(policy) and min(cfg.batch_size, len(self.obs)) < 2:
            where, why = ("bc.batch_size", "it is 1 (raise it") if cfg.batch_size < 2 else \
                ("demos", "the demos give 1 row to train on (record more")
            raise RlgenError(f"{where}: batch norm in the policy (agent.policy.backbone.norm: batch) needs batches of 2 "
                             f"or more; {why}, or use norm: layer)")
        self.params = trained_parameters(policy)
        self.optimizer = optim.build(self.params)
        self.rng = np.random.default_rng(seed)

    def step(self, rows: np.ndarray, weight: float = 1.0) -> dict[str, Tensor]:
        """One gradient step on `rows` of the dataset, the loss scaled by `weight`."""
        self.policy.set_training_mode(True)
        loss, parts = bc_loss(self.policy, self.obs[rows], self.actions[rows], self.cfg, self.params)
        self.optimizer.zero_grad(set_to_none=True)
        (weight * loss).backward()
        self.optimizer.step()
        parts["loss/bc"] = loss.detach()
        return parts

    def epoch(self, max_steps: int | None = None) -> tuple[dict[str, float], int]:
        """One pass over the rows in a fresh random order (at most `max_steps` batches): the mean
        of each metric, and the number of gradient steps taken."""
        order = self.rng.permutation(len(self.obs))
        batches = [order[i : i + self.cfg.batch_size] for i in range(0, len(order), self.cfg.batch_size)]
        if self.cfg.batch_size > 1 and len(batches) > 1 and len(batches[-1]) == 1:
            # one row left over joins the batch before it (merged, not dropped: every row still trains
            # once an epoch): a batch of one is a whole gradient step on one row, and batch norm refuses it
            batches[-2:] = [np.concatenate(batches[-2:])]
        return self._mean([self.step(b) for b in batches[:max_steps]]), len(batches[:max_steps])

    def steps(self, n: int, weight: float) -> dict[str, float]:
        """`n` steps on random batches, each loss scaled by `weight` (the BC term of imitation)."""
        size = min(self.cfg.batch_size, len(self.obs))
        return self._mean([self.step(self.rng.choice(len(self.obs), size, replace=False), weight)
                           for _ in range(n)])

    @torch.no_grad()
    def evaluate(self, obs: np.ndarray, actions: np.ndarray) -> dict[str, float]:
        """The loss (and, for discrete actions, the accuracy) on held-out rows, in eval mode."""
        self.policy.set_training_mode(False)
        obs_t = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.policy.device)
        act_t = torch.as_tensor(np.asarray(actions), dtype=torch.float32, device=self.policy.device)
        _, parts = bc_loss(self.policy, obs_t, act_t, self.cfg, ())
        return {k: float(v) for k, v in parts.items()}

    @staticmethod
    def _mean(rows: list[dict[str, Tensor]]) -> dict[str, float]:
        if not rows:
            return {}
        return {k: float(torch.stack([r[k] for r in rows]).mean()) for k in rows[0]}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict(), "rng": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        self.rng.bit_generator.state = state["rng"]
