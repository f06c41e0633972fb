"""The configs of `kind: bc` and `kind: imitation`.

Both are `kind: rl` plus demonstrations: the same env, eval_env, agent (an SB3 algorithm with an
rlgen backbone) and optim sections, so a run of either is a normal RL run to `rlgen eval`,
`rlgen.load_run(...).agent()` and transfer. `kind: bc` adds the behaviour-cloning objective;
`kind: imitation` adds a discriminator (any backbone, any GAN loss and regularizer) whose output
becomes the learner's reward, and an optional BC warm start and BC term.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from rlgen.agents.gan.config import DiscriminatorConfig as GANDiscriminatorConfig
from rlgen.agents.gan.config import LossName
from rlgen.agents.rl.config import RLConfig
from rlgen.config import BackboneConfig, LocalPath, OptimConfig, Section
from rlgen.registry import DEMOS


class DemosConfig(Section):
    """Where the demonstrations are and how many episodes to use."""

    path: LocalPath = Field(description="a Minari dataset directory (from `rlgen record`), a local Minari dataset id, "
                      "or a .npz of arrays")
    format: str = Field("auto", description="auto, or a demo format (`rlgen list`: minari, npz)")
    episodes: int | None = Field(None, gt=0, description="use the first N episodes; None = all")
    expert_return: float | None = Field(None, description="the expert's mean return; default: the demos' metadata")
    random_return: float | None = Field(None, description="a random policy's mean return (the 0 of "
                                        "eval/expert_ratio); default: the demos' metadata")

    @field_validator("format")
    @classmethod
    def _known(cls, name: str) -> str:
        if name != "auto" and (problem := DEMOS.problem(name)) is not None:
            raise ValueError(problem)
        return name


class BCObjective(Section):
    """Behaviour cloning: maximise the policy's likelihood of the expert's actions."""

    loss: Literal["nll", "mse"] = Field("nll", description="nll: -log pi(a|s) (cross-entropy for discrete "
                                        "actions); mse: (deterministic action - a)^2, continuous actions only")
    batch_size: int = Field(64, gt=0)
    ent_weight: float = Field(1e-3, ge=0, description="entropy bonus weight (the imitation library's default)")
    l1: float = Field(0.0, ge=0, description="weight of the L1 norm of the trained parameters")
    l2: float = Field(0.0, ge=0, description="weight of half the squared L2 norm of the trained parameters")


class BCKindObjective(BCObjective):
    holdout: float = Field(0.2, ge=0, lt=1, description="share of the episodes held out for eval/bc_val_loss "
                           "(of the transitions, with a single episode)")


class BCTerm(BCObjective):
    """BC inside `kind: imitation`: a warm start before the first unit, and a term after each unit."""

    warm_start_epochs: int = Field(0, ge=0, description="epochs of BC on the demos before adversarial training")
    weight: float = Field(0.0, ge=0, description="weight of the BC steps taken after each unit; 0 = none")
    steps: int = Field(10, gt=0, description="BC gradient steps after each unit (when weight > 0)")
    anneal: bool = Field(True, description="the BC weight falls linearly to 0 over the run")
    init_from: LocalPath | None = Field(None, description="a kind: bc, rl or imitation run (its directory, runs/<name> for "
                                  "the newest, or a checkpoints/step_N; a finished run's best checkpoint) whose policy "
                                  "the learner starts from; its agent section must match")


class BCConfig(RLConfig):
    """`kind: bc`: train.total_steps counts gradient steps; one unit is one epoch of the training split."""

    kind: Literal["bc"]  # type: ignore[assignment]
    demos: DemosConfig
    bc: BCKindObjective = BCKindObjective()


class ImitationDiscriminatorConfig(GANDiscriminatorConfig):
    """The discriminator: an rlgen backbone and a linear head on (s, a), (s, s'), s or (s, a, s')."""

    input: Literal["sa", "ss", "s", "sas"] = Field("sa", description="what it judges; ss and s learn from "
                                                   "observations alone (no expert actions needed)")
    potential: BackboneConfig | None = Field(None, description="AIRL's shaping potential h(s); default: the "
                                             "backbone's config")
    normalize_input: bool = Field(True, description="standardise observations by the running mean and std of "
                                  "all it has judged, expert and learner (the imitation library's RunningNorm)")
    loss: LossName = Field("non_saturating", description="a GAN loss (its discriminator side), as in kind: gan")
    gradient_penalty: float = Field(0.0, ge=0, description="WGAN-GP weight, between expert and learner samples")
    r1: float = Field(0.0, ge=0, description="R1 weight on the expert samples")
    optim: OptimConfig = Field(default_factory=lambda: OptimConfig(type="adam", lr=3e-4))


class AdversarialConfig(Section):
    """GAIL or AIRL: the reward the learner sees, and the discriminator's schedule."""

    algo: Literal["gail", "airl"] = "gail"
    reward: Literal["logit", "positive", "negative", "shaped"] = Field(
        "logit", description="of D's logit l: logit = l, positive = -log(1 - D), negative = log D; "
        "shaped (AIRL only) = f(s, a, s') without -log pi")
    terminal: Literal["absorbing", "none"] = Field(
        "absorbing", description="absorbing: a terminated episode goes on in a learned absorbing state "
        "(Kostrikov et al. 2019), so ending an episode is judged like any step; none: it ends the rewards")
    disc_steps: int = Field(8, gt=0, description="discriminator steps after each training unit")
    batch_size: int = Field(512, gt=0, description="expert and learner samples per discriminator step")
    learner_buffer: int | None = Field(None, gt=0, description="latest learner transitions the discriminator "
                                       "samples from; default: one training unit's")


class ImitationConfig(RLConfig):
    """`kind: imitation`: an SB3 learner rewarded by a discriminator of its transitions from the expert's."""

    kind: Literal["imitation"]  # type: ignore[assignment]
    demos: DemosConfig
    imitation: AdversarialConfig = AdversarialConfig()
    discriminator: ImitationDiscriminatorConfig
    bc: BCTerm = BCTerm()

    def tags(self) -> list[str]:
        return [*super().tags(), self.imitation.algo, self.discriminator.loss, f"D-{self.discriminator.backbone.type}"]
