"""The config of `kind: rl`: a gymnasium env, an SB3 algorithm, a policy built on an rlgen backbone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator

from rlgen.config import Activation, BackboneConfig, EnvConfig, ExperimentConfig, OptimConfig, Section, finite_numbers

Algo = Literal["ppo", "a2c", "dqn", "sac", "td3", "ddpg", "recurrent_ppo", "maskable_ppo", "qrdqn", "tqc", "trpo"]


# SB3 arguments where inf means "no limit" (a gradient-norm clip, the value-function clip range).
# Every other number an algorithm takes must be finite: an inf clip_range, ent_coef, vf_coef, gamma,
# gae_lambda or tau trains a unit and then diverges. target_kl is not here: TRPO's is the trust
# region's size, not an early stop (null turns PPO's off).
INF_MEANS_OFF = ("max_grad_norm", "clip_range_vf")

# An algorithm's own arguments: checked against its signature by the kind, finite numbers here
Hyperparams = Annotated[dict[str, Any], finite_numbers(INF_MEANS_OFF)]


class PolicyConfig(Section):
    """The policy/value networks: an rlgen backbone as SB3 features extractor, then SB3's heads."""

    backbone: BackboneConfig | None = Field(None, description="None = SB3's default extractor")
    share_backbone: bool = Field(True, description="one backbone for actor and critic, or one each")
    net_arch: list[int] | dict[str, list[int]] | None = Field(None, description="SB3 heads after the backbone")
    activation: Activation | None = Field(None, description="activation of the SB3 heads")
    kwargs: dict[str, Any] = Field({}, description="any other SB3 policy_kwargs (e.g. ortho_init, log_std_init)")

    @field_validator("backbone")
    @classmethod
    def _one_vector_per_observation(cls, backbone: BackboneConfig | None) -> BackboneConfig | None:
        # every network built on it (actor, critic, Q-net, their targets) is an SB3 features
        # extractor: one features_dim vector per observation, not (T, H) per window
        if getattr(backbone, "pool", None) == "sequence":
            raise ValueError("pool: sequence gives one vector per step of the window, and a policy needs one per "
                             "observation; use pool: last or mean")
        return backbone

    @property
    def prefers_accelerator(self) -> bool:
        """device: auto puts the agent on a GPU when its backbone says so (CNN, Transformer, a
        plugin's that declares it); MLPs and SB3's default extractor stay on the CPU."""
        return self.backbone is not None and self.backbone.prefers_accelerator


class AgentConfig(Section):
    algo: Algo
    policy: PolicyConfig = PolicyConfig()
    hyperparams: Hyperparams = Field(
        {}, description="the algorithm's own arguments, checked against its signature; 'lin_X' = linear from X to 0; "
        "finite numbers (max_grad_norm and clip_range_vf may be inf: no clipping)"
    )
    save_replay_buffer: bool = Field(True, description="off-policy: keep the buffer in checkpoints for exact resume")


class RLConfig(ExperimentConfig):
    kind: Literal["rl"]
    env: EnvConfig
    eval_env: dict[str, Any] = Field({}, description="EnvConfig fields that differ for evaluation")
    agent: AgentConfig
    optim: OptimConfig = OptimConfig()

    def tags(self) -> list[str]:
        backbone = self.agent.policy.backbone.type if self.agent.policy.backbone else "sb3-default"
        return [self.kind, self.agent.algo, self.env.id, backbone]


# the keys of an lstm backbone that sb3-contrib's own LSTM takes under recurrent_ppo
# (sb3_bridge._recurrent_lstm_kwargs: lstm_hidden_size, n_lstm_layers)
RECURRENT_LSTM_KEYS = ("type", "hidden_size", "num_layers")


def unused_by_recurrent_lstm(backbone: BackboneConfig) -> list[str]:
    """The keys of an lstm backbone under recurrent_ppo that sb3-contrib's own LSTM ignores (it
    takes its size and depth only) set away from their defaults, each as the config spells it
    (`activation: relu`; a mapping by its key alone)."""
    unused = backbone.model_dump(exclude_defaults=True).items()
    return [k if isinstance(v, dict) else f"{k}: {v}" for k, v in unused if k not in RECURRENT_LSTM_KEYS]
