"""The config of `kind: selfplay`: a two-player PettingZoo game, a MaskablePPO learner on an rlgen
backbone, the league it trains against, and how it is rated."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, Field, ValidationError, field_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from rlgen.agents.rl.config import Hyperparams, PolicyConfig
from rlgen.config import MAX_COUNT, ExperimentConfig, InitConfig, OptimConfig, Section
from rlgen.registry import GAMES


def _known_game(name: str) -> str:
    if (problem := GAMES.problem(name)) is not None:
        raise ValueError(problem)
    return name


def _frames_per_episode(kwargs: dict[str, Any]) -> dict[str, Any]:
    """PettingZoo's `max_cycles` (the MPE, butterfly and SISL games: steps until every agent is
    truncated) must be a whole number >= 1, whichever game takes it: at 0 or below each episode
    ends after its first step, and a fraction is a typo. Reported at its own key."""
    n = kwargs.get("max_cycles", 1)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        error = PydanticCustomError("frames_per_episode", "must be a whole number of steps per episode, at "
                                    "least 1, e.g. 25")
        raise ValidationError.from_exception_data(
            "game kwargs", [InitErrorDetails(type=error, loc=("max_cycles",), input=n)])
    return kwargs


# A PettingZoo game's own keyword arguments, as written; the ones PettingZoo shares across games are checked
GameKwargs = Annotated[dict[str, Any], AfterValidator(_frames_per_episode)]


class GameConfig(Section):
    """A PettingZoo AEC game with an action mask, seen from one seat at a time."""

    name: str = Field(description="a registered game (`rlgen list`), any pettingzoo.classic game, a dotted "
                      "module path, or an import path mypkg.games:env")
    kwargs: GameKwargs = Field({}, description="passed to the game, e.g. {board_size: 9} for go_v5")
    n_envs: int = Field(8, gt=0, le=MAX_COUNT, description="games played side by side in each rollout")

    _known = field_validator("name")(lambda cls, name: _known_game(name))


class LearnerConfig(Section):
    algo: Literal["maskable_ppo"] = "maskable_ppo"
    policy: PolicyConfig = PolicyConfig()
    hyperparams: Hyperparams = Field({}, description="MaskablePPO's own arguments, checked against its signature")


class LeagueConfig(Section):
    snapshot_every: int = Field(20_000, gt=0, description="env steps between frozen snapshots of the learner")
    max_snapshots: int = Field(20, gt=0, description="the pool keeps the newest this many")
    sampling: Literal["latest", "uniform", "pfsp"] = "pfsp"
    pfsp_power: float = Field(2.0, ge=0, description="pfsp weight (1 - score)^power")
    reference_prob: float = Field(0.0, ge=0, le=1, description="share of training games against the references")
    references: list[str] = Field([], description="fixed opponents mixed into training (random, lookahead, minimax)")
    reference_weights: list[Annotated[float, Field(gt=0)]] = Field(
        [], description="relative shares of the references in those games, one per reference; [] = equal")


class RatingsConfig(Section):
    references: list[str] = Field(["random"], description="fixed opponents in every evaluation and in the Elo pool")
    games_per_pair: int | None = Field(None, gt=0, description="round-robin games per pair; default train.eval_episodes")
    max_snapshots: int = Field(8, gt=0, description="the newest snapshots that play the round robin")
    anchor: str = Field("random", description="the player rated 1000 (a reference)")
    targets: dict[str, float] = Field({}, description="win-rate target per reference (e.g. {random: 0.99}): each "
                                      "eval logs eval/target_margin, the worst win rate minus its target")

    @field_validator("targets")
    @classmethod
    def _targets_are_rates(cls, v: dict[str, float]) -> dict[str, float]:
        for name, t in v.items():
            if not 0 <= t <= 1:
                raise ValueError(f"the target for {name!r} is {t}; a win rate is between 0 and 1")
        return v


class SelfPlayConfig(ExperimentConfig):
    kind: Literal["selfplay"]
    game: GameConfig
    agent: LearnerConfig = LearnerConfig()
    league: LeagueConfig = LeagueConfig()
    ratings: RatingsConfig = RatingsConfig()
    optim: OptimConfig = OptimConfig()

    def tags(self) -> list[str]:
        backbone = self.agent.policy.backbone.type if self.agent.policy.backbone else "sb3-default"
        return [self.kind, self.agent.algo, self.game.name, backbone, f"league-{self.league.sampling}"]


# --- kind: teams ----------------------------------------------------------------------------------


class TeamGameConfig(Section):
    """A two-sided parallel PettingZoo game; agents named <side>_<i> form the sides."""

    name: str = Field(description="a registered game (simple_tag_v3, simple_adversary_v3), a dotted module path "
                      "with parallel_env(), or an import path mypkg.games:parallel_env")
    kwargs: GameKwargs = Field({}, description="passed to the game, e.g. {max_cycles: 25} (steps per episode, >= 1)")

    _known = field_validator("name")(lambda cls, name: _known_game(name))
    copies: int = Field(4, gt=0, description="games side by side; each agent of the trained side is one vec entry")


class SideConfig(Section):
    """What one side's policy takes instead of the shared `agent.policy`."""

    init: InitConfig | None = Field(
        None, description="load (and maybe freeze) a trained backbone of another run into this side's "
        "agent.policy.backbone only: the sides observe different sizes, so a backbone fits one of them")


class TeamLearnerConfig(Section):
    algo: Literal["ppo"] = "ppo"
    policy: PolicyConfig = PolicyConfig()
    hyperparams: Hyperparams = Field({}, description="PPO's own arguments, checked against its signature")
    sides: dict[str, SideConfig] = Field(
        {}, description="per side, e.g. {adversary: {init: {run: RUN_DIR, role: policy_adversary}}}; a side not "
        "named takes agent.policy as it is")

    def policy_of(self, side: str) -> PolicyConfig:
        """`policy` as `side`'s learner builds it: its backbone starts from the side's own `init`
        when it has one (`TeamsExperiment.check` refuses one beside `policy.backbone.init`)."""
        own = self.sides.get(side)
        if own is None or own.init is None or self.policy.backbone is None:
            return self.policy
        backbone = self.policy.backbone.model_copy(update={"init": own.init})
        return self.policy.model_copy(update={"backbone": backbone})


class PhaseConfig(Section):
    """Alternating phases, as a GAN alternates G and D updates: one side learns, the other is frozen."""

    units_per_phase: int = Field(4, gt=0, description="learn() chunks of one side before the other side's turn")


class TeamLeagueConfig(Section):
    """Fixed players mixed into training, as selfplay's league mixes its references: each side meets,
    for a share of its training episodes, one of the other side's references instead of its frozen copy."""

    references: list[str] = Field([], description="fixed players, each standing in for the side it plays: random "
                                  "(either side), or the game's scripted ones (simple_tag: chaser, evader)")
    reference_prob: float | dict[str, float] = Field(
        0.0, description="share of a side's training episodes against one of the other side's references (drawn "
        "per episode, equal shares); one share for both sides, or one per training side, e.g. {agent: 0.5, "
        "adversary: 0.25} (a side not named: 0)")

    @field_validator("reference_prob", mode="before")
    @classmethod
    def _shares(cls, v: Any) -> Any:
        """One line per mistake (pydantic would report each branch of the union)."""
        if isinstance(v, bool) or not isinstance(v, (int, float, dict)):
            raise ValueError(f"expected a share (0.5) or a share per side ({{agent: 0.5, adversary: 0.25}}), got {v!r}")
        for side, p in v.items() if isinstance(v, dict) else [(None, v)]:
            where = f" for {side!r}" if side is not None else ""
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ValueError(f"the share{where} is {p!r}; a share of episodes is a number between 0 and 1")
        return v

    def share(self, side: str) -> float:
        """The share of `side`'s training episodes against the other side's references."""
        p = self.reference_prob
        return float(p.get(side, 0.0) if isinstance(p, dict) else p)


class TeamRatingsConfig(Section):
    """Fixed baselines each side meets in every evaluation, and the Elo pool of both sides' snapshots."""

    baselines: list[str] = Field(["random"], description="fixed players, each on the sides it plays: random (any "
                                 "side), or the game's scripted ones (simple_tag: chaser, evader)")
    episodes: int | None = Field(None, gt=0, description="episodes of each side against each baseline; "
                                 "default train.eval_episodes")
    snapshot_every: int = Field(20_000, gt=0, description="env steps between the snapshots kept for the ratings "
                                "(taken when a side's phase ends)")
    max_snapshots: int = Field(10, gt=0, description="the newest snapshots of each side in the Elo pool")
    games_per_pair: int = Field(10, ge=0, description="round-robin episodes per (predator, prey) pair of "
                                "players; 0: no Elo in the evaluation")
    anchor: str | None = Field(None, description="the player rated 1000, <side>:<baseline> (default: the first "
                               "side's first baseline, e.g. adversary:random)")


class TeamsConfig(ExperimentConfig):
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/score_min", "max")  # with any baseline
    kind: Literal["teams"]
    game: TeamGameConfig
    agent: TeamLearnerConfig = TeamLearnerConfig()
    schedule: PhaseConfig = PhaseConfig()
    league: TeamLeagueConfig = TeamLeagueConfig()
    ratings: TeamRatingsConfig = TeamRatingsConfig()
    optim: OptimConfig = OptimConfig()

    def tags(self) -> list[str]:
        backbone = self.agent.policy.backbone.type if self.agent.policy.backbone else "sb3-default"
        return [self.kind, self.agent.algo, self.game.name, backbone]
