"""A masked SB3 actor-critic policy as a move function `(observation, action_mask) -> action`.

One torch forward per move on a single observation: the actor path only (features, actor latent,
action logits), illegal moves masked out. Frozen copies are rebuilt from a policy's constructor
arguments, so a snapshot costs its weights and nothing else (no optimizer state).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy

from rlgen.envs.games import planes_to_image


class PolicyPlayer:
    def __init__(self, policy: ActorCriticPolicy, rng: np.random.Generator | None = None, deterministic: bool = False,
                 image: bool = False):
        self.policy, self.rng, self.deterministic = policy, rng or np.random.default_rng(), deterministic
        self.image = image  # the policy was trained on `planes_to_image` observations (TurnBasedEnv(image=True))
        self.device = policy.device  # read once: SB3 finds it by walking the parameters

    def logits(self, observation: np.ndarray) -> np.ndarray:
        """(*obs_shape) -> (n_actions,) unmasked action logits."""
        p = self.policy
        # a C-ordered copy: torch refuses a view with a negative stride, which is what a game that turns
        # the board to the mover's side with np.flip observes (chess_v6). Not np.ascontiguousarray: it
        # makes a Discrete observation's 0-d number 1-d
        observation = planes_to_image(observation) if self.image else np.array(observation, order="C")
        with torch.inference_mode():
            x = torch.as_tensor(observation, device=self.device).unsqueeze(0)  # (1, *obs_shape)
            features = p.extract_features(x, p.pi_features_extractor)
            return p.action_net(p.mlp_extractor.forward_actor(features))[0].cpu().numpy()

    def __call__(self, observation: np.ndarray, mask: np.ndarray) -> int:
        logits = np.where(mask, self.logits(observation), -np.inf)
        if self.deterministic:
            return int(np.argmax(logits))
        # Gumbel-max: argmax(logits + Gumbel noise) samples softmax(logits), at a tenth of the cost
        # of rng.choice(p=...) (snapshots move inside every training step against them)
        return int(np.argmax(logits + self.rng.gumbel(size=logits.shape)))


def frozen_policy(like: ActorCriticPolicy, params: dict[str, Any]) -> ActorCriticPolicy:
    """A new CPU policy with `like`'s architecture and the weights `params` (a policy state_dict).

    Building it leaves the global torch RNG as it was: the league builds snapshot players lazily,
    at the first game against each, and a resumed run builds them at other moments than the
    uninterrupted one; the initial weights drawn here are overwritten anyway."""
    with torch.random.fork_rng(devices=[]):
        policy = type(like)(**like._get_constructor_parameters())
    policy.load_state_dict(params)
    policy.set_training_mode(False)
    return policy


def cpu_params(policy: ActorCriticPolicy) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a policy's weights: what a snapshot stores."""
    return {k: v.detach().cpu().clone() for k, v in policy.state_dict().items()}
