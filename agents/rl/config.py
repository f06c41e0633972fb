"""The config of `kind: rl`: a gymnasium env, an SB3 algorithm, a policy built on an rlgen backbone."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

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
