"""`kind: teams` — two sides of a parallel PettingZoo game, one PPO policy per side, trained in
alternating phases against a frozen copy of the other side (the schedule of a GAN's alternating
G/D updates). Within a side the parameters are shared: every agent of the side is one entry of the
side's SuperSuit vector env, all acting through the same policy. With `league.references`, a share
(`league.reference_prob`) of a side's training episodes is played against one of the other side's
fixed players instead (random, or the game's scripted ones). A trained backbone of another run may
start one side only (`agent.sides.<side>.init`): simple_tag's sides observe different sizes.

A training unit is one `learn()` chunk of the side whose phase it is; after
`schedule.units_per_phase` units that side's weights are frozen into its copy and the other side
trains. `global_step` counts agent-steps of both sides.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO

from rlgen.agents.rl.algos import check_hyperparams, divergence_fix
from rlgen.agents.rl.env_failures import env_failures
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.agents.rl.sb3_schedules import Progress
from rlgen.agents.rl.sb3_state import load_model_state, model_state
from rlgen.agents.rl.setup_checks import check_policy_kwargs, check_schedules
from rlgen.agents.selfplay.config import TeamsConfig
from rlgen.agents.selfplay.experiment import repeated_names
from rlgen.agents.selfplay.players import cpu_params, frozen_policy
from rlgen.agents.selfplay.team_ratings import cross_pairs, elo_tables, team_round_robin, versus_baselines
from rlgen.envs import nonzero_start, shown_space
from rlgen.envs.games.teams import (CHECK_STEPS, TeamPolicy, TeamRules, check_team_game, play_teams, side_vec_env,
                                    sides_of, team_game)
from rlgen.errors import RlgenError, first_line
from rlgen.experiment import ExperimentBase
from rlgen.runner import RunContext
from rlgen.transfer import BackboneMismatch


class TeamsExperiment(ExperimentBase):
    """Two sides of a parallel PettingZoo game, one PPO policy per side, in alternating phases."""

    config_model = TeamsConfig

    @property
    def prefers_accelerator(self) -> bool:
        return self.cfg.agent.policy.prefers_accelerator

    def __init__(self, cfg: TeamsConfig):
        self.cfg = cfg
        self.global_step = 0
        self.models: dict[str, Any] = {}
        self.envs: dict[str, Any] = {}

    @classmethod
    def check(cls, cfg: TeamsConfig) -> list[str]:
        game, sides, problem = _checked_game(cfg)
        if problem is not None:
            return [problem]
        problems = check_hyperparams("ppo", cfg.agent.hyperparams) + side_problems(cfg, sides)
        rules = TeamRules.of(cfg.game.name)
        problems += _league_problems(cfg, sides, rules) + repeated_names("league.references", cfg.league.references)
        problems += repeated_names("ratings.baselines", cfg.ratings.baselines)
        try:
            baselines = list(baseline_players(cfg, game, sides, rules))
        except RlgenError as e:
            return problems + [f"ratings.baselines: {e}"]
        return problems + _rating_problems(cfg, sides, baselines, rules)

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        check_schedules(cfg, ctx)  # each side's learner trains as kind: rl's does
        check_policy_kwargs(cfg, ctx, PPO.policy_aliases["MlpPolicy"])  # and is built so
        progress = Progress()  # one run-long schedule for both sides
        self.game = team_game(cfg.game.name, **cfg.game.kwargs)
        self.sides = list(sides_of(self.game()))
        self.rules = TeamRules.of(cfg.game.name)  # the baseline players are built at each evaluation
        self.snapshots: dict[str, dict[str, Any]] = {}  # "<side>:step_<N>" -> its weights (CPU), oldest first
        self.next_snapshot = {side: 0 for side in self.sides}
        self.results: dict[tuple[str, str], tuple[float, int]] = {}  # round robin among frozen players
        self.frozen: dict[str, Any] = {}  # side -> frozen copy of its policy, what the other side meets
        self.learners: dict[str, SB3Learner] = {}
        for i, side in enumerate(self.sides):
            other = self.sides[1 - i]
            references = self._references(other, seed=ctx.seed + 500 + 100 * i)
            # check() refused a share with no reference to meet: OneSide would refuse it too
            self.envs[side] = side_vec_env(self.game, side, self._frozen_team(other), cfg.game.copies,
                                           references, cfg.league.share(side))
            self.envs[side].seed(ctx.seed + i)
            own = cfg.agent.sides.get(side)
            init_at = f"agent.sides.{side}" if own is not None and own.init is not None else "agent.policy.backbone"
            try:
                self.learners[side] = SB3Learner(PPO, "MlpPolicy", self.envs[side], cfg.optim,
                                                 cfg.agent.policy_of(side), cfg.agent.hyperparams, seed=ctx.seed + i,
                                                 device=ctx.device, progress=progress,
                                                 target=f"side {side!r} of game {cfg.game.name!r}", init_at=init_at)
            except BackboneMismatch as e:
                if init_at != "agent.policy.backbone":
                    raise
                # the shared init, loaded into both sides, may fit one of them only
                raise RlgenError(f"{e} (on side {side!r}; the sides observe different sizes, so a backbone fits one "
                                 "of them: move this init to agent.sides.<side>.init of the side it was trained "
                                 "for)") from None
            self.models[side] = self.learners[side].model
        for side in self.sides:
            self._freeze(side)
        self.phase, self.units_in_phase = 0, 0

    def train_unit(self) -> dict[str, float]:
        side = self.sides[self.phase % 2]
        learner = self.learners[side]
        played = lambda: sum(int(m.num_timesteps) for m in self.models.values())  # noqa: E731 - both sides' steps
        with self._game_failures("the training rollout", played):
            side_metrics = learner.learn_unit(learner.rollout_steps, self.global_step, self.cfg.train.total_steps)
        self.global_step = played()
        self.units_in_phase += 1
        if self.units_in_phase >= self.cfg.schedule.units_per_phase:
            self._freeze(side)  # the other side now trains against these weights, fixed
            self.phase, self.units_in_phase = self.phase + 1, 0
        metrics = {f"{k}_{side}": v for k, v in side_metrics.items()}
        metrics["league/phase"] = float(self.phase)
        return metrics

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, Any]:
        """The deterministic sides against each other and each against the other side's baselines;
        then, sampling, the Elo of both sides (now), their snapshots and the baselines."""
        cfg = self.cfg
        n = episodes or cfg.train.eval_episodes
        learned = {side: self.side_player(side) for side in self.sides}
        with self._game_failures("an evaluation"):
            returns = play_teams(self.game, learned, n, seed=cfg.seed + 1000)
        out: dict[str, Any] = {f"eval/return_{s}": v for s, v in returns.items()}
        out.update({f"eval/{k}": v for k, v in self.rules.scores(returns).items()})
        # fresh baselines at every evaluation: their dice restart, so each evaluation meets the same play
        # (each baseline meets one deterministic side only: its score depends on that side's weights alone)
        baselines = baseline_players(cfg, self.game, self.sides, self.rules)
        # a scripted player may draw from torch: training's stream is kept
        with torch.random.fork_rng(devices=[]), self._game_failures("an evaluation"):
            torch.manual_seed(cfg.seed + 3000)
            out.update(versus_baselines(self.game, self.rules, learned, baselines,
                                        episodes or cfg.ratings.episodes or n, seed=cfg.seed + 2000))
        if cfg.ratings.games_per_pair:
            out.update(self.ratings(cfg.ratings.games_per_pair, baselines))
        return out

    def ratings(self, games_per_pair: int, baselines: dict[str, TeamPolicy]) -> dict[str, Any]:
        """Elo of each side now (sampled play), its snapshots and the baselines, from a round robin
        across the sides; results between frozen players are kept, so each call plays only new pairs
        and the pairs of the sides as they are now."""
        players: dict[str, TeamPolicy] = {**baselines, **{s: self.snapshot_player(s) for s in self.snapshots}}
        new = [p for p in cross_pairs(list(players), self.sides) if p not in self.results]
        self.results.update(self._matches(new, players, games_per_pair))
        current = {f"{side}:current": self.side_player(side, deterministic=False)
                   for side in self.sides}
        players.update(current)
        now = [p for p in cross_pairs(list(players), self.sides) if p[0] in current or p[1] in current]
        results = {**self.results, **self._matches(now, players, games_per_pair)}
        played = {name for pair in self.results for name in pair}
        snaps = snapshot_order(n for n in played if n not in baselines)
        names = [*current, *baselines, *snaps]  # snapshots that left the pool keep their results
        elo, ratings, payoff = elo_tables(names, results, rating_anchor(self.cfg, self.sides, baselines))
        out: dict[str, Any] = {}
        for side in self.sides:
            out[f"eval/elo_{side}"] = elo[f"{side}:current"]
            if mine := [s for s in snaps if s.startswith(f"{side}:")]:
                out[f"eval/elo_{side}_latest_snapshot"] = elo[mine[-1]]
        out["eval/ratings"], out["eval/payoff"] = ratings, payoff
        return out

    def _matches(self, pairs: list[tuple[str, str]], players: dict[str, TeamPolicy], games_per_pair: int
                 ) -> dict[tuple[str, str], tuple[float, int]]:
        """`team_round_robin` of the ratings, each pair from dice of its own: the baselines built anew
        and torch (what the sides' and snapshots' sampled actions draw from) seeded anew. A pair's
        result then depends on its two players alone, not on which pairs were cached (`self.results`)
        or played before it, so `rlgen eval` of a checkpoint gives the figures its training logged."""
        seed = self.cfg.seed + 4000  # every pair plays the same episode seeds
        results = {}
        for pair in pairs:
            fresh = {**players, **baseline_players(self.cfg, self.game, self.sides, self.rules)}
            with torch.random.fork_rng(devices=[]), self._game_failures("the ratings"):  # training's stream is kept
                torch.manual_seed(self.cfg.seed + 3000)
                results.update(team_round_robin(self.game, self.rules, fresh, [pair], games_per_pair, seed))
        return results

    def state_dict(self) -> dict[str, Any]:
        return {
            "models": {s: model_state(m) for s, m in self.models.items()},
            "frozen": {s: cpu_params(p) for s, p in self.frozen.items()},
            "phase": (self.phase, self.units_in_phase),
            "snapshots": dict(self.snapshots),
            "next_snapshot": dict(self.next_snapshot),
            "results": dict(self.results),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for side, s in state["models"].items():
            load_model_state(self.models[side], s)
        for side, params in state["frozen"].items():
            self.frozen[side].load_state_dict(params)
        self.phase, self.units_in_phase = state["phase"]
        self.snapshots = dict(state.get("snapshots", {}))  # checkpoints from before the ratings have none
        self.next_snapshot = dict(state.get("next_snapshot", self.next_snapshot))
        self.results = dict(state.get("results", {}))
        self.global_step = sum(int(m.num_timesteps) for m in self.models.values())

    def evaluation_state(self) -> dict[str, Any]:
        """What an evaluation changes: the cached results of the pairs of frozen players (`ratings`);
        its dice are new at every pair (`_matches`)."""
        return {"results": dict(self.results)}

    def load_evaluation_state(self, state: dict[str, Any]) -> None:
        self.results = dict(state["results"])

    def close(self) -> None:
        for env in self.envs.values():
            env.close()

    def divergence_fix(self) -> str | None:
        return divergence_fix("ppo")  # the runner's advice when training diverges

    def modules(self) -> dict[str, Any]:
        return {f"policy_{side}": model.policy for side, model in self.models.items()}

    # --- helpers --------------------------------------------------------------------------------

    def _game_failures(self, phase: str, step: Callable[[], int] | None = None) -> ContextManager[None]:
        """What the game's own code raises in `phase`, as one line naming the game (`env_failures`)."""
        return env_failures(self.cfg.game.name, phase, step or (lambda: self.global_step), game=True)

    def _freeze(self, side: str) -> None:
        policy = self.models[side].policy
        params = cpu_params(policy)
        if side in self.frozen:
            self.frozen[side].load_state_dict(params)
        else:
            self.frozen[side] = frozen_policy(policy, params)
        if self.global_step >= self.next_snapshot[side]:  # the untrained side too (step 0): the ratings' origin
            self.snapshots[f"{side}:step_{self.global_step}"] = params
            for old in self.snapshot_names(side)[:-self.cfg.ratings.max_snapshots]:
                del self.snapshots[old]  # the pool keeps the newest; their results stay in the ratings
            while self.next_snapshot[side] <= self.global_step:
                self.next_snapshot[side] += self.cfg.ratings.snapshot_every

    def snapshot_names(self, side: str | None = None) -> list[str]:
        """Snapshots kept (of `side`, or of both), oldest first."""
        return [n for n in self.snapshots if side is None or n.startswith(f"{side}:")]

    def side_player(self, side: str, deterministic: bool = True) -> TeamPolicy:
        """The trained side as it is now, as a team policy (observations by agent -> actions)."""
        return self._team(self.models[side].policy, deterministic=deterministic)

    def snapshot_player(self, name: str) -> TeamPolicy:
        """Snapshot `name` (`<side>:step_<N>`, sampling its actions) as a team policy."""
        side = name.split(":", 1)[0]
        return self._team(frozen_policy(self.models[side].policy, self.snapshots[name]), deterministic=False)

    def _references(self, side: str, seed: int) -> Callable[[int], list[TeamPolicy]] | None:
        """`league.references` that play `side`, built for each game copy (copy i: its own seeds); None
        when none of them plays it (that side's opponent is always the frozen copy)."""
        names = [n for n in self.cfg.league.references if side in self.rules.sides_of_player(n, self.sides)]
        if not names:
            return None
        return lambda i: [self.rules.player(n, self.game, side, seed=seed + 10 * i + k, sides=self.sides)
                          for k, n in enumerate(names)]

    def _frozen_team(self, side: str) -> TeamPolicy:
        """The side as the other side's opponent: reads the frozen copy at call time."""
        return lambda obs: self._team(self.frozen[side], deterministic=False)(obs)

    @staticmethod
    def _team(policy: Any, deterministic: bool) -> TeamPolicy:
        def act(obs: dict[str, np.ndarray]) -> dict[str, int]:
            if not obs:
                return {}
            names = list(obs)
            actions, _ = policy.predict(np.stack([obs[a] for a in names]), deterministic=deterministic)
            return {a: int(x) for a, x in zip(names, actions)}

        return act


def _checked_game(cfg: TeamsConfig) -> tuple[Callable[[], Any] | None, list[str], str | None]:
    """The config's game (its maker), its two sides, or the one line that says why it cannot be played."""
    try:
        game = team_game(cfg.game.name, **cfg.game.kwargs)
        made = game()
        sides = list(sides_of(made))
        # SB3 takes no Discrete start but 0 (its env_checker warns): PPO samples 0..n-1 whatever the start
        continuous = [f"{a}: {made.action_space(a)}" for a in made.possible_agents
                      if not isinstance(made.action_space(a), gym.spaces.Discrete)
                      or nonzero_start(made.action_space(a)) is not None]
        offset = [f"{a} observes {shown_space(odd)}" for a in made.possible_agents
                  if (odd := nonzero_start(made.observation_space(a))) is not None]
    except RlgenError as e:
        return None, [], f"game: {e}"
    except Exception as e:  # noqa: BLE001 - whatever the game's constructor refuses (a kwarg, a missing package)
        return None, [], (f"game: {cfg.game.name} with kwargs {dict(cfg.game.kwargs)} cannot be made: "
                          f"{type(e).__name__}: {first_line(e)}")
    if continuous:
        by_kwarg = bool(cfg.game.kwargs.get("continuous_actions"))
        return None, [], (f"game.{'kwargs' if by_kwarg else 'name'}: kind: teams plays discrete actions, and "
                          f"{cfg.game.name} gives {continuous[0]}" + (" (set continuous_actions: false)" if by_kwarg
                          else "; every agent needs a Discrete(n) action space numbered from 0"))
    if len(sides) != 2:
        groups = sides_of(made)
        listed = ", ".join(f"{side} ({_counted(len(groups[side]), 'agent')})" for side in sides)
        has = f"{_counted(len(sides), 'side')}, not two: {listed}" if sides else "no agents"
        return None, [], (f"game.name: {cfg.game.name} has {has} (a side is the agents' name prefix); kind: teams "
                          "plays two sides, so pick a game, or game.kwargs, that makes two")
    try:  # a kwarg the constructor keeps but the game cannot play with fails here
        if (problem := check_team_game(made, cfg.game.name)) is not None:
            return None, [], f"game: {problem}"
    except Exception as e:  # noqa: BLE001 - the game's own error, in one line, before any run directory
        return None, [], (f"game: {cfg.game.name} with kwargs {dict(cfg.game.kwargs)} fails in its first "
                          f"{CHECK_STEPS} random steps: {type(e).__name__}: {first_line(e)}")
    finally:
        made.close()
    if offset:  # flat, as check_team_game found them: SB3 would one-hot encode them from 0
        return None, [], (f"game.name: {cfg.game.name}: {offset[0]}, not numbered from 0 as kind: teams's policies "
                          "need; point game.name at a function that returns the game with observations numbered from 0")
    return game, sides, None


def _counted(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _league_problems(cfg: TeamsConfig, sides: list[str], rules: TeamRules) -> list[str]:
    problems = []
    for name in cfg.league.references:
        try:
            rules.sides_of_player(name, sides)
        except RlgenError as e:
            problems.append(f"league.references: {e}")
    if isinstance(cfg.league.reference_prob, dict):
        for side in cfg.league.reference_prob:
            if side not in sides:
                problems.append(f"league.reference_prob.{side}: not a side of {cfg.game.name} ({', '.join(sides)})")
    if any(cfg.league.share(side) > 0 for side in sides) and not cfg.league.references:
        problems.append("league.reference_prob: > 0 but league.references is empty")
    elif not any(p.startswith("league.references:") for p in problems):  # an unknown name may be the missing one
        problems += _unmet_shares(cfg, sides, rules)
    return problems


def _unmet_shares(cfg: TeamsConfig, sides: list[str], rules: TeamRules) -> list[str]:
    """One line for each side given a share of episodes against references but meeting none: no
    `league.references` plays the other side (its share would be dropped). A single share is each
    side's, so it is refused as the per-side form is; the line names the per-side form that keeps it."""
    plays = {n: rules.sides_of_player(n, sides) for n in rules.players}
    met = {side: [n for n in cfg.league.references if sides[1 - i] in plays[n]] for i, side in enumerate(sides)}
    scalar = not isinstance(cfg.league.reference_prob, dict)
    problems = []
    for i, side in enumerate(sides):
        other, share = sides[1 - i], cfg.league.share(side)
        if share == 0 or met[side]:
            continue
        named = ", ".join(f"{n} plays {', '.join(plays[n]) or 'no side here'}" for n in cfg.league.references)
        add = " or ".join(n for n in rules.players if other in plays[n])
        where = "league.reference_prob" if scalar else f"league.reference_prob.{side}"
        line = (f"{where}: {share:g}{' (each side)' if scalar else ''}, but no league.references plays side {other}, "
                f"which side {side} trains against ({named}); add {add}")
        if scalar and (kept := [s for s in sides if met[s]]):
            per_side = ", ".join(f"{s}: {share:g}" for s in kept)
            line += f", or give the share per side: league.reference_prob={{{per_side}}}"
        problems.append(line)
    return problems


def _rating_problems(cfg: TeamsConfig, sides: list[str], baselines: list[str], rules: TeamRules) -> list[str]:
    if cfg.ratings.games_per_pair and not baselines:
        return [f"ratings.baselines: empty, and the Elo ratings are anchored on a baseline: name at least "
                f"one ({', '.join(rules.players)}), or set ratings.games_per_pair: 0 for no ratings"]
    if cfg.ratings.games_per_pair and rating_anchor(cfg, sides, baselines) not in baselines:
        return [f"ratings.anchor: {cfg.ratings.anchor!r} is not one of the baselines: {', '.join(baselines)}"]
    if cfg.train.early_stop.metric == "eval/score_min" and not baselines:  # (versus_baselines)
        return ["train.early_stop.metric: eval/score_min (kind: teams's default) is logged only against "
                "ratings.baselines, and there are none: add one (random) or name another metric, e.g. "
                f"eval/return_{sides[0]} (a side's mean return, logged at every evaluation)"]
    return []


def side_problems(cfg: TeamsConfig, sides: list[str]) -> list[str]:
    """`agent.sides`: one line for each side the game lacks, and for each side's `init` that has no
    backbone to load into or meets the shared `agent.policy.backbone.init`."""
    problems = []
    backbone = cfg.agent.policy.backbone
    for side, own in cfg.agent.sides.items():
        where = f"agent.sides.{side}"
        if side not in sides:
            problems.append(f"{where}: not a side of {cfg.game.name} ({', '.join(sides)})")
        elif own.init is not None and backbone is None:
            problems.append(f"{where}.init: agent.policy has no backbone (SB3's default extractor) to load it into; "
                            "set agent.policy.backbone to the type and sizes of the one in that run")
        elif own.init is not None and backbone.init is not None:
            problems.append(f"{where}.init: agent.policy.backbone.init loads a backbone into both sides already; keep "
                            "one of the two (for one side only: agent.sides.<side>.init alone)")
    return problems


def baseline_players(cfg: TeamsConfig, game: Any, sides: list[str], rules: TeamRules) -> dict[str, TeamPolicy]:
    """`ratings.baselines` as players `<side>:<name>`, each on every side it plays, seeded."""
    players = {}
    for name in cfg.ratings.baselines:
        played = rules.sides_of_player(name, sides)
        if not played:
            raise RlgenError(f"player {name!r} plays side {rules.players[name][0]!r}, which {cfg.game.name} lacks")
        for side in played:
            players[f"{side}:{name}"] = rules.player(name, game, side, seed=cfg.seed + 100 * sides.index(side),
                                                     sides=sides)
    return players


def rating_anchor(cfg: TeamsConfig, sides: list[str], baselines: dict[str, Any]) -> str:
    """The player rated 1000: `ratings.anchor`, or the first side's first baseline."""
    return cfg.ratings.anchor or next((b for b in baselines if b.startswith(f"{sides[0]}:")), next(iter(baselines), ""))


def snapshot_order(names: Iterable[str]) -> list[str]:
    """Snapshot names ("<side>:step_<N>") by step, then by name: both sides snapshot at the same
    steps, and a set's order of the ties follows PYTHONHASHSEED, which the tables must not."""
    return sorted(names, key=lambda n: (int(n.rsplit("_", 1)[1]), n))
