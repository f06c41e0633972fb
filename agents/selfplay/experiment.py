"""`kind: selfplay` — MaskablePPO on a two-player PettingZoo game against a league of its own snapshots.

A training unit is one `learn()` chunk (one rollout + update, as in `kind: rl`): `game.n_envs`
adapters step side by side, each drawing its opponent from the league at every reset and reporting
the outcome back. Every `league.snapshot_every` steps the learner's weights join the pool.
Evaluation plays the deterministic learner against each reference and rates everyone (the learner,
the newest snapshots, the references) by a Bradley-Terry fit over a round robin; results between
frozen players are kept, so each evaluation plays only the new pairs.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Callable, ContextManager

import numpy as np
import torch
from sb3_contrib import MaskablePPO
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rlgen.agents.rl.algos import check_hyperparams, divergence_fix
from rlgen.agents.rl.env_failures import env_failures
from rlgen.agents.rl.sb3_bridge import SB3Learner
from rlgen.agents.rl.sb3_state import load_model_state, model_state
from rlgen.agents.rl.setup_checks import check_policy_kwargs, check_schedules
from rlgen.agents.selfplay.config import SelfPlayConfig
from rlgen.agents.selfplay.league import League
from rlgen.agents.selfplay.opponents import build_reference
from rlgen.agents.selfplay.players import PolicyPlayer, cpu_params, frozen_policy
from rlgen.agents.selfplay.ratings import deal_seeds, fit_elo, payoff_rows, results_matrix, round_robin
from rlgen.envs.games import Opponent, TurnBasedEnv, check_game, make_game, play_game
from rlgen.errors import RlgenError
from rlgen.experiment import ExperimentBase
from rlgen.logging import Table
from rlgen.runner import RunContext

CURRENT = "current"  # the learner as it is now, in the ratings
# The games evaluation and ratings play are dealt from seeds of their own (`deal_seeds`), offset from
# the run's seed: every evaluation plays the same deals, and no stream that training draws from is used
EVAL_DEALS, RATING_DEALS = 1000, 2000


class SelfPlayExperiment(ExperimentBase):
    """MaskablePPO on a two-player PettingZoo game against a league of its own snapshots."""

    config_model = SelfPlayConfig

    @property
    def prefers_accelerator(self) -> bool:
        return self.cfg.agent.policy.prefers_accelerator

    def __init__(self, cfg: SelfPlayConfig):
        self.cfg = cfg
        self.global_step = 0
        self.model: Any = None
        self.env: DummyVecEnv | None = None
        self.results: dict[tuple[str, str], tuple[float, int]] = {}  # round robin among frozen players
        # Evaluation rolls the training opponents' dice (`opponent_rng`), as it always has: a run's
        # training depends on what its evaluations drew. So that a checkpoint written after an
        # evaluation scores as that evaluation did (`rlgen eval`, the best checkpoint), it keeps the
        # dice that evaluation started from (`eval_start`), and a loaded one replays them (`replay`)
        # until it trains.
        self.eval_start: dict[str, Any] | None = None
        self.replay: dict[str, Any] | None = None

    @classmethod
    def check(cls, cfg: SelfPlayConfig) -> list[str]:
        problems = []
        if (p := check_game(cfg.game.name, cfg.game.kwargs)) is not None:
            return [f"game.name: {p}"]
        backbone = cfg.agent.policy.backbone
        if backbone is not None and backbone.type == "cnn":
            made = make_game(cfg.game.name, cfg.game.kwargs)()
            shape = made.observation_space(made.possible_agents[0])["observation"].shape
            if len(shape) != 3:
                problems.append(f"agent.policy.backbone.type: a cnn reads board observations (H, W, C), and game "
                                f"{cfg.game.name!r} observes shape {shape}; use type: mlp")
        rng = np.random.default_rng(0)
        for where, names in (("league.references", cfg.league.references), ("ratings.references", cfg.ratings.references)):
            problems += repeated_names(where, names)
            for i, name in enumerate(names):
                try:
                    build_reference(name, cfg.game.name, rng)
                except RlgenError as e:
                    problems.append(f"{where}.{i}: {e}")
        for name in cfg.ratings.targets:
            if name not in cfg.ratings.references:
                problems.append(f"ratings.targets.{name}: not one of ratings.references {cfg.ratings.references}")
        if cfg.ratings.anchor not in cfg.ratings.references:
            problems.append(f"ratings.anchor: {cfg.ratings.anchor!r} is not one of ratings.references")
        if cfg.league.reference_weights and len(cfg.league.reference_weights) != len(cfg.league.references):
            problems.append(f"league.reference_weights: {len(cfg.league.reference_weights)} weights for "
                            f"{len(cfg.league.references)} references; give one per reference, or none")
        if cfg.league.reference_prob > 0 and not cfg.league.references:
            problems.append("league.reference_prob: > 0 but league.references is empty")
        problems += [p.replace("agent.hyperparams", "agent.hyperparams") for p in
                     check_hyperparams(cfg.agent.algo, cfg.agent.hyperparams)]
        return problems

    # --- the protocol ---------------------------------------------------------------------------

    def setup(self, ctx: RunContext) -> None:
        cfg = self.cfg
        check_schedules(cfg, ctx)  # the learner trains as kind: rl's does
        check_policy_kwargs(cfg, ctx, MaskablePPO.policy_aliases["MlpPolicy"])  # and is built so
        self.game = make_game(cfg.game.name, cfg.game.kwargs)
        backbone = cfg.agent.policy.backbone
        self.image = backbone is not None and backbone.type == "cnn"  # the board as (C, H, W) planes for convs
        self.opponent_rng = np.random.default_rng(ctx.seed + 1)  # the references' and snapshots' dice
        self.deal_seed = ctx.seed  # the base of the evaluation's and ratings' deals
        names = dict.fromkeys([*cfg.league.references, *cfg.ratings.references])
        self.references = {n: build_reference(n, cfg.game.name, self.opponent_rng) for n in names}
        lg = cfg.league
        self.league = League({n: self.references[n] for n in lg.references}, self._snapshot_player,
                             sampling=lg.sampling, reference_prob=lg.reference_prob,
                             reference_weights=lg.reference_weights or None, max_snapshots=lg.max_snapshots,
                             pfsp_power=lg.pfsp_power, seed=ctx.seed + 2)
        self.env = DummyVecEnv([self._env_fn] * cfg.game.n_envs)
        self.learner = SB3Learner(MaskablePPO, "MlpPolicy", self.env, cfg.optim, cfg.agent.policy,
                                  cfg.agent.hyperparams, seed=ctx.seed, device=ctx.device,
                                  target=f"game {cfg.game.name!r}")
        self.model = self.learner.model
        self.league.add_snapshot(0, cpu_params(self.model.policy))  # the untrained learner: the first opponent
        self.next_snapshot = lg.snapshot_every

    def train_unit(self) -> dict[str, float]:
        with self._game_failures("the training rollout", lambda: self.model.num_timesteps):
            metrics = self.learner.learn_unit(self.learner.rollout_steps, self.global_step, self.cfg.train.total_steps)
        self.eval_start = self.replay = None  # trained since: the next evaluation rolls the dice training left
        self.global_step = int(self.model.num_timesteps)
        if self.global_step >= self.next_snapshot:
            self.league.add_snapshot(self.global_step, cpu_params(self.model.policy))
            while self.next_snapshot <= self.global_step:
                self.next_snapshot += self.cfg.league.snapshot_every
        return {**metrics, **self.league.pop_metrics()}

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, Any]:
        n = episodes or self.cfg.train.eval_episodes
        if self.replay is not None:  # loaded at a checkpoint written after an evaluation: its dice again
            self._set_dice(self.replay)
        self.eval_start = self._dice()
        agent = self.agent_player(deterministic=True)
        metrics: dict[str, Any] = {}
        outcomes_all = []
        for name in self.cfg.ratings.references:
            with self._game_failures("an evaluation"):
                outcomes = np.array(versus(self.game, agent, self.references[name], n,
                                           seed=self.deal_seed + EVAL_DEALS, name=self.cfg.game.name))
            outcomes_all.extend(outcomes)
            metrics[f"eval/win_rate_vs_{name}"] = float(np.mean(outcomes == 1))
            metrics[f"eval/draw_rate_vs_{name}"] = float(np.mean(outcomes == 0))
            metrics[f"eval/loss_rate_vs_{name}"] = float(np.mean(outcomes == -1))
        # the worst matchup: the default best-checkpoint criterion, so the agent kept as best is not one
        # that beat the strong reference in a lucky eval while slipping against another
        if self.cfg.ratings.references:
            metrics["eval/win_rate_min"] = min(metrics[f"eval/win_rate_vs_{r}"] for r in self.cfg.ratings.references)
        # with a target per reference, the worst shortfall: an agent 1% short against random is not
        # made up for by being 10% over against the lookahead
        if targets := self.cfg.ratings.targets:
            margins = [metrics[f"eval/win_rate_vs_{r}"] - t for r, t in targets.items()]
            metrics["eval/target_margin"] = min(margins)
            metrics["eval/targets_met"] = float(sum(m >= -1e-9 for m in margins))
        metrics["eval/return_mean"] = float(np.mean(outcomes_all))  # the shared name: mean outcome vs references
        metrics["eval/return_std"] = float(np.std(outcomes_all))
        metrics.update(self.ratings(self.cfg.ratings.games_per_pair or n))
        return metrics

    def ratings(self, games_per_pair: int) -> dict[str, Any]:
        """Round robin among the learner, the newest snapshots and the references; Elo by Bradley-Terry."""
        snaps = [s.name for s in self.league.snapshots[-self.cfg.ratings.max_snapshots:]]
        frozen = [*self.cfg.ratings.references, *snaps]
        players = {name: self._rating_player(name) for name in frozen}
        players[CURRENT] = self.agent_player(deterministic=False)
        new = [(a, b) for i, a in enumerate(frozen) for b in frozen[i + 1:]
               if (a, b) not in self.results and (b, a) not in self.results]
        seed, game = self.deal_seed + RATING_DEALS, self.cfg.game.name
        with self._game_failures("the ratings"):
            self.results.update(round_robin(self.game, players, new, games_per_pair, seed=seed, name=game))
            current = round_robin(self.game, players, [(CURRENT, f) for f in frozen], games_per_pair, seed=seed,
                                  name=game)
        names = [CURRENT, *self.cfg.ratings.references, *_snapshot_names(self.results)]
        scores, games = results_matrix(names, {**self.results, **current})
        elo = fit_elo(scores, games, anchor=names.index(self.cfg.ratings.anchor))
        out: dict[str, Any] = {"eval/elo": float(elo[0])}
        if snaps:
            out["eval/elo_latest_snapshot"] = float(elo[names.index(snaps[-1])])
        out["eval/payoff"] = Table(["player", *names], payoff_rows(names, scores, games))
        out["eval/ratings"] = Table(["player", "elo", "games"],
                                    [[nm, round(float(e), 1), int(g)] for nm, e, g in zip(names, elo, games.sum(1))])
        return out

    def state_dict(self) -> dict[str, Any]:
        pool = {s.name for s in self.league.snapshots}
        return {
            **model_state(self.model),  # the games in progress included (sb3_state)
            "league": self.league.state_dict(),
            "results": dict(self.results),
            "next_snapshot": self.next_snapshot,
            "opponent_rng": self.opponent_rng.bit_generator.state,
            "eval_start": self.eval_start,  # the dice of the evaluation just before, unless trained since
            # a game in progress against a snapshot that has since left the pool keeps playing it
            "evicted": {e.opponent_name: cpu_params(e.opponent.policy) for e in self._games()
                        if e.opponent_name.startswith("step_") and e.opponent_name not in pool},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        load_model_state(self.model, state, where="the games in progress")
        self.global_step = self.model.num_timesteps
        self.league.load_state_dict(state["league"])
        self.results = dict(state["results"])
        self.next_snapshot = state["next_snapshot"]
        self.opponent_rng.bit_generator.state = state["opponent_rng"]
        self.eval_start = self.replay = state.get("eval_start")  # absent from checkpoints of older rlgen
        evicted = state.get("evicted", {})
        for game in self._games():  # each game in progress goes on against the opponent it drew
            if game.opponent_name in evicted:
                game.opponent = self._snapshot_player(evicted[game.opponent_name])
            elif game.opponent_name:
                game.opponent = self.league.player(game.opponent_name)

    def evaluation_state(self) -> dict[str, Any]:
        """What an evaluation draws from: the opponents' generator, the cached results of the pairs
        of frozen players (`ratings`) and the dice a loaded checkpoint's evaluation replays."""
        return {**self._dice(), "replay": copy.deepcopy(self.replay)}

    def load_evaluation_state(self, state: dict[str, Any]) -> None:
        self._set_dice(state)
        self.replay = copy.deepcopy(state.get("replay"))

    def _dice(self) -> dict[str, Any]:
        return {"opponent_rng": copy.deepcopy(self.opponent_rng.bit_generator.state), "results": dict(self.results)}

    def _set_dice(self, dice: dict[str, Any]) -> None:
        self.opponent_rng.bit_generator.state = copy.deepcopy(dice["opponent_rng"])
        self.results = dict(dice["results"])

    def close(self) -> None:
        if self.env is not None:
            self.env.close()

    def divergence_fix(self) -> str | None:
        return divergence_fix(self.cfg.agent.algo)  # the runner's advice when training diverges

    def modules(self) -> dict[str, torch.nn.Module]:
        return {"policy": self.model.policy}

    def _game_failures(self, phase: str, step: Callable[[], int] | None = None) -> ContextManager[None]:
        """What the game's own code raises in `phase`, as one line naming the game (`env_failures`)."""
        return env_failures(self.cfg.game.name, phase, step or (lambda: self.global_step), game=True)

    # --- players --------------------------------------------------------------------------------

    def agent_player(self, deterministic: bool = True) -> Opponent:
        """The learner as a move function (for evaluation, `rlgen play` and `rlgen tournament`)."""
        return PolicyPlayer(self.model.policy, self.opponent_rng, deterministic=deterministic, image=self.image)

    def _snapshot_player(self, params: dict[str, torch.Tensor]) -> Opponent:
        return PolicyPlayer(frozen_policy(self.model.policy, params), self.opponent_rng, image=self.image)

    def _rating_player(self, name: str) -> Opponent:
        return self.references[name] if name in self.references else self.league.player(name)

    def _games(self) -> list[TurnBasedEnv]:
        return [env.unwrapped for env in self.env.envs]

    def _env_fn(self) -> Monitor:
        return Monitor(TurnBasedEnv(self.game, self.league.draw, self.league.record, image=self.image,
                                    name=self.cfg.game.name))


def versus(game: Any, agent: Opponent, opponent: Opponent, n: int, seed: int = 0, name: str = "") -> list[float]:
    """`n` games of `agent` against `opponent`, seats alternating, dealt by `deal_seeds(seed, n)`;
    the agent's outcomes. `name`: the game's name in messages."""
    env = game()
    outcomes = []
    for g, deal in enumerate(deal_seeds(seed, n)):
        if g % 2 == 0:
            outcomes.append(play_game(env, (agent, opponent), seed=deal, name=name))
        else:
            outcomes.append(-play_game(env, (opponent, agent), seed=deal, name=name))
    return outcomes


def repeated_names(where: str, names: list[str]) -> list[str]:
    """One line for each name given again in the list at `where`: a player is one row of the ratings
    and one share of the league, so a second copy would rate a phantom and skew the shares."""
    return [f"{where}.{i}: {name!r} is given twice (also at {where}.{names.index(name)}); list each player once"
            for i, name in enumerate(names) if name in names[:i]]


def _snapshot_names(results: dict[tuple[str, str], Any]) -> list[str]:
    """The snapshots that ever played, oldest first."""
    names = {n for pair in results for n in pair if n.startswith("step_")}
    return sorted(names, key=lambda n: int(n.split("_")[1]))
