"""Two-sided simultaneous PettingZoo games (mpe2 simple_tag, simple_adversary) seen from one side.

`OneSide` is a ParallelEnv exposing only one side's agents; the other side's actions come from a
plain callable `(observations by agent) -> actions by agent` (a frozen copy of that side's policy,
handed in by `agents`; `envs` never imports `agents`). SuperSuit then turns it into an SB3 vector
env with one entry per agent of the side, so one policy serves every agent of the side: parameters
are shared within a side (`side_vec_env`). Fixed players of the other side (`references`) may
stand in for it, one drawn for a whole episode with probability `reference_prob`, as selfplay
mixes its references into the league's games.

    vec = side_vec_env(team_game("simple_tag_v3", max_cycles=25), "adversary", lambda obs: {...}, copies=4)
"""

from __future__ import annotations

import difflib
import functools
import types
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np
from pettingzoo.utils.conversions import aec_to_parallel
from pettingzoo.utils.env import AECEnv, ParallelEnv

from rlgen.envs import EPISODE_STEP_CAP, FLAT_SPACES
from rlgen.envs.games.aec import game_name, warn_cut
from rlgen.errors import RlgenError
from rlgen.registry import GAMES

TeamPolicy = Callable[[dict[str, np.ndarray]], dict[str, int]]  # observations by agent -> actions by agent
TeamGame = Callable[[], ParallelEnv]


def team_game(name: str, **kwargs: Any) -> TeamGame:
    """A factory for a parallel game from `rlgen.registry.GAMES`: a registered name (the mpe2 games,
    simple_tag_v3), a dotted module path with parallel_env(), or an import path of a function
    returning a ParallelEnv (an AECEnv is converted)."""
    game = GAMES.get(name)
    if isinstance(game, types.ModuleType):
        if not hasattr(game, "parallel_env"):
            raise RlgenError(f"game {name!r} has no parallel_env(); kind: teams plays parallel games such as simple_tag_v3")
        game = game.parallel_env

    def build() -> ParallelEnv:
        env = game(**kwargs)
        return aec_to_parallel(env) if isinstance(env, AECEnv) else env

    return build


def sides_of(env: ParallelEnv) -> dict[str, list[str]]:
    """Agents grouped by name prefix: {"adversary": [adversary_0, ...], "agent": [agent_0]}."""
    sides: dict[str, list[str]] = {}
    for agent in env.possible_agents:
        sides.setdefault(agent.rsplit("_", 1)[0], []).append(agent)
    return sides


CHECK_STEPS = 50  # random joint steps the game check plays: an agent may leave only after a few


def check_team_game(env: ParallelEnv, name: str) -> str | None:
    """None when kind: teams can play `env` (built, not reset), else one line: each side's agents
    share one observation and one action space (one policy plays the side, SuperSuit stacks them),
    observations are flat arrays, and up to `CHECK_STEPS` random joint steps give observations of
    the declared shapes with no agent leaving before the episode ends (SuperSuit's vector env has
    no agent death). The game's own errors propagate."""
    for side, agents in sides_of(env).items():
        for what, space_of in (("observe", env.observation_space), ("act in", env.action_space)):
            spaces = {a: space_of(a) for a in agents}
            if odd := [a for a in agents if spaces[a] != spaces[agents[0]]]:
                return (f"{name}: the agents of side {side!r} {what} different spaces ({agents[0]}: "
                        f"{spaces[agents[0]]}, {odd[0]}: {spaces[odd[0]]}); one policy plays the whole side, so they "
                        "need the same one")
    observed = {a: env.observation_space(a) for a in env.possible_agents}
    if odd := [a for a, space in observed.items() if not isinstance(space, FLAT_SPACES)]:
        return (f"{name}: {odd[0]} observes {observed[odd[0]]}, and kind: teams takes Box, Discrete, MultiDiscrete "
                "or MultiBinary observations; point game.name at a function that returns the game with flat Box "
                "observations (gymnasium.spaces.flatten)")
    acting = {a: env.action_space(a) for a in env.possible_agents}
    for a in acting.values():
        a.seed(0)
    obs, _ = env.reset(seed=0)
    for step in range(CHECK_STEPS + 1):
        for agent, seen in obs.items():
            if np.shape(seen) != observed[agent].shape:
                return (f"{name} gives {agent} an observation of shape {np.shape(seen)}, its observation_space "
                        f"says {observed[agent].shape} (after {step} steps); fix the game or its spaces")
        if not env.agents or step == CHECK_STEPS:
            return None
        before = list(env.agents)
        obs, *_ = env.step({a: acting[a].sample() for a in before})
        if env.agents and (left := [a for a in before if a not in env.agents]):
            return agent_left(name, left[0], step + 1)
    return None


def agent_left(name: str, agent: str, step: int) -> str:
    return (f"{name}: {agent} left the game at step {step} while others played on; kind: teams needs every "
            "agent to play until the episode ends (SuperSuit's vector env has no agent death)")


class OneSide(ParallelEnv):
    """The agents of `side` act through `step`; the other side acts by `opponent`, or for a whole
    episode, with probability `reference_prob`, by one of `references` drawn uniformly (its own
    generator, seeded by a seeded reset: the draws are part of the env's state, saved with it)."""

    steps, name = 0, ""  # read by a run resumed from a checkpoint saved before they existed

    metadata = {"render_modes": [], "name": "one_side", "is_parallelizable": True}

    def __init__(self, game: TeamGame, side: str, opponent: TeamPolicy, references: Sequence[TeamPolicy] = (),
                 reference_prob: float = 0.0):
        self.env = game()
        groups = sides_of(self.env)
        if side not in groups or len(groups) != 2:
            raise RlgenError(f"side {side!r} is not one of the game's two sides: {', '.join(groups)}")
        if reference_prob > 0 and not references:
            raise RlgenError("reference_prob > 0 needs at least one reference player")
        self.side, self.opponent = side, opponent
        self.name = self.env.metadata.get("name", type(self.env).__name__)
        self.references, self.reference_prob = list(references), float(reference_prob)
        self.playing = -1  # the episode's opponent: -1 `opponent`, else the index of a reference
        self.reference_rng = np.random.default_rng(0)
        self.possible_agents = list(groups[side])
        self.others = [a for a in self.env.possible_agents if a not in self.possible_agents]
        self.agents: list[str] = []
        self.steps = 0  # in the episode
        self._other_obs: dict[str, np.ndarray] = {}
        self.render_mode = None

    def observation_space(self, agent: str) -> Any:
        return self.env.observation_space(agent)

    def action_space(self, agent: str) -> Any:
        return self.env.action_space(agent)

    def reset(self, seed: int | None = None, options: dict | None = None) -> tuple[dict, dict]:
        obs, infos = self.env.reset(seed=seed, options=options)
        self.agents = [a for a in self.possible_agents if a in obs]
        self.steps = 0
        if self.references:  # no draw without references: a game without them plays as it always did
            if seed is not None:
                self.reference_rng = np.random.default_rng([seed, 1])
            mixed = self.reference_rng.random() < self.reference_prob
            self.playing = int(self.reference_rng.integers(len(self.references))) if mixed else -1
        return self._split(obs, infos)

    def step(self, actions: dict[str, Any]) -> tuple[dict, dict, dict, dict, dict]:
        opponent = self.opponent if self.playing < 0 else self.references[self.playing]
        joint = {**{a: int(v) for a, v in opponent(self._other_obs).items()}, **actions}
        obs, rewards, terms, truncs, infos = self.env.step(joint)
        self.steps += 1
        mine = [a for a in self.possible_agents if a in obs]
        done = not self.env.agents
        if not done and (left := [a for a in self.env.possible_agents if a not in self.env.agents]):
            raise RlgenError(f"game {agent_left(self.name, left[0], self.steps)}")  # where SuperSuit's assertion would fire
        self.agents = [] if done else mine
        obs_side, infos_side = self._split(obs, infos)
        pick = lambda d: {a: d[a] for a in mine}  # noqa: E731
        return obs_side, pick(rewards), pick(terms), pick(truncs), infos_side

    def _split(self, obs: dict, infos: dict) -> tuple[dict, dict]:
        self._other_obs = {a: obs[a] for a in self.others if a in obs}
        return {a: obs[a] for a in self.possible_agents if a in obs}, {a: infos.get(a, {}) for a in self.possible_agents if a in obs}

    def close(self) -> None:
        self.env.close()


class RandomTeam:
    """Uniformly random actions for every agent of a side, from its action spaces' generators
    (plain attributes: a run that trains against it saves their state with its envs)."""

    live_state = True  # its generators are state, though it is callable (agents/rl/live_state.py)

    def __init__(self, game: TeamGame, side: str, seed: int = 0):
        env = game()
        self.spaces = {a: env.action_space(a) for a in sides_of(env)[side]}
        for i, space in enumerate(self.spaces.values()):
            space.seed(seed + i)

    def __call__(self, obs: dict[str, np.ndarray]) -> dict[str, int]:
        return {a: int(self.spaces[a].sample()) for a in obs}


def random_team(game: TeamGame, side: str, seed: int = 0) -> TeamPolicy:
    """Uniformly random actions for every agent of `side`."""
    return RandomTeam(game, side, seed)


def side_vec_env(game: TeamGame, side: str, opponent: TeamPolicy, copies: int,
                 references: Callable[[int], Sequence[TeamPolicy]] | None = None, reference_prob: float = 0.0) -> Any:
    """An SB3 VecEnv of `copies` games x the side's agents, every agent one entry (SuperSuit).
    `references(i)` builds the fixed players of the other side for copy i (each copy its own dice)."""
    from supersuit.vector import ConcatVecEnv, MarkovVectorEnv
    from supersuit.vector.sb3_vector_wrapper import SB3VecEnvWrapper

    # Built from factories rather than ss.concat_vec_envs_v1, which deep-copies one env per copy and
    # with it whatever the opponent callable holds (the experiment, its models).
    def one(i: int) -> MarkovVectorEnv:
        return MarkovVectorEnv(OneSide(game, side, opponent, references(i) if references else (), reference_prob))

    vec = SB3VecEnvWrapper(ConcatVecEnv([functools.partial(one, i) for i in range(copies)]))
    # SB3 2.x calls venv.seed(), which SuperSuit's ConcatVecEnv lacks; it seeds through reset instead
    # (copy i gets seed + i), and later unseeded resets continue from those generators.
    vec.seed = lambda seed=None: (vec.venv.reset(seed=seed), [seed])[1]
    return vec


def play_team_episodes(game: TeamGame, policies: dict[str, TeamPolicy], episodes: int, seed: int = 0
                       ) -> list[dict[str, float]]:
    """Each episode's return per side (summed over steps, averaged over the side's agents); episode
    `i` starts from `reset(seed=seed + i)`. An episode still on after `EPISODE_STEP_CAP` steps is
    cut there, with its returns so far (`play_game`'s cap)."""
    env = game()
    groups = sides_of(env)
    out = []
    for ep in range(episodes):
        obs, _ = env.reset(seed=seed + ep)
        totals, steps = {side: 0.0 for side in groups}, 0
        while env.agents:
            if steps == EPISODE_STEP_CAP:
                warn_cut(env.metadata.get("name", type(env).__name__), "steps")
                break
            steps += 1
            actions: dict[str, int] = {}
            for side, agents in groups.items():
                actions.update(policies[side]({a: obs[a] for a in agents if a in obs}))
            obs, rewards, _, _, _ = env.step(actions)
            for side, agents in groups.items():
                totals[side] += sum(rewards.get(a, 0.0) for a in agents) / len(agents)
        out.append(totals)
    env.close()
    return out


def play_teams(game: TeamGame, policies: dict[str, TeamPolicy], episodes: int, seed: int = 0) -> dict[str, float]:
    """Mean episode return per agent of each side (summed over steps, averaged over the side's agents)."""
    returns = play_team_episodes(game, policies, episodes, seed)
    return {side: float(np.mean([r[side] for r in returns])) for side in returns[0]}


# --- fixed players and scoring, from the game's own module ----------------------------------------

TeamPlayerBuilder = Callable[[TeamGame, str, int], TeamPolicy]  # (game, side, seed) -> team policy


RULES = ("PLAYERS", "scores", "outcome")  # what a game's module may add (TeamRules)


def registered_team_game(name: str) -> str:
    """The name of the game `name` points to, whose module may add players and scoring: `name`
    itself, `game_name`'s (a module's `env` or `raw_env` is the module), a module that adds its own
    (whatever parallel_env it re-exports), or the entry with the same parallel_env
    (`mpe2.simple_tag_v3`, `mpe2.simple_tag_v3:parallel_env` and `:raw_env` -> `simple_tag_v3`,
    registered as rlgen's module around mpe2's); any other name as it is."""
    if GAMES.entry(name) is not None:
        return name
    if (module := game_name(name)) != name and module in GAMES:  # not a pettingzoo.classic name it shortens
        name = module
        if GAMES.entry(name) is not None:
            return name
    game = GAMES.get(name)
    if isinstance(game, types.ModuleType) and any(hasattr(game, rule) for rule in RULES):
        return name
    module, _, function = name.partition(":")
    if function == "parallel_env" and any(hasattr(GAMES.get(module), rule) for rule in RULES):
        return module  # the module's parallel_env is the module, whichever function it re-exports
    maker = getattr(game, "parallel_env", game)
    for entry in GAMES.entries():  # loads every registered game, only for a name none is registered as
        try:
            known = entry.load()
        except RlgenError:  # a game that cannot load here cannot be this one, which did
            continue
        if known is game or getattr(known, "parallel_env", None) is maker:
            return entry.name
    return name


def higher_return_wins(returns: dict[str, float]) -> dict[str, float]:
    """Each side's points from one episode's returns: 1 to the higher return, half each on a tie."""
    best = max(returns.values())
    winners = [s for s, r in returns.items() if r == best]
    return {s: (1.0 / len(winners) if s in winners else 0.0) for s in returns}


@dataclass(frozen=True)
class TeamRules:
    """What a team game's module adds to the game (all optional, see `envs/games/simple_tag.py`):
    `PLAYERS` {name: (side, builder(game, side, seed))} scripted players; `scores(returns by side)
    -> {figure: value}` the game's own figures (simple_tag: tags); `outcome(returns by side) ->
    {side: points}` who won an episode, for the Elo fit (default: the higher return). `random`
    plays every side of every game."""

    players: dict[str, tuple[str | None, TeamPlayerBuilder]]
    scores: Callable[[dict[str, float]], dict[str, float]]
    outcome: Callable[[dict[str, float]], dict[str, float]]

    @classmethod
    def of(cls, name: str) -> TeamRules:
        game = GAMES.get(registered_team_game(name))  # mpe2.simple_tag_v3 is simple_tag_v3, with its players
        module = game if isinstance(game, types.ModuleType) else None  # a bare function brings no extras
        return cls({"random": (None, random_team), **getattr(module, "PLAYERS", {})},
                   getattr(module, "scores", lambda returns: {}), getattr(module, "outcome", higher_return_wins))

    def sides_of_player(self, name: str, sides: list[str]) -> list[str]:
        """The sides player `name` can play; an unknown name raises, listing the known ones."""
        if name not in self.players:
            close = difflib.get_close_matches(name, list(self.players), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise RlgenError(f"unknown player {name!r}{hint}; this game knows: {', '.join(self.players)}")
        side = self.players[name][0]
        return list(sides) if side is None else [side] if side in sides else []

    def player(self, name: str, game: TeamGame, side: str, seed: int = 0, sides: list[str] | None = None
               ) -> TeamPolicy:
        """Player `name` on `side`, seeded; `sides`: the game's, when the caller has them (else a
        game is made to read them)."""
        sides = list(sides_of(game())) if sides is None else sides
        if side not in self.sides_of_player(name, sides):
            raise RlgenError(f"player {name!r} plays side {self.players[name][0]!r}, not {side!r}")
        return self.players[name][1](game, side, seed)
