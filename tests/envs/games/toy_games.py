"""Tiny PettingZoo games that break the adapters' assumptions, one way each, for the checks' tests.

`Nim` (AEC, two players): take 1-3 from a pile, the last taker wins; move 3 resigns where allowed.
`DealtNim`: Nim with chance, dealt as PettingZoo's rlcard games deal (leduc_holdem_v4).
`FlippedNim`: observations that are negative-stride views, as chess_v6's np.flip makes them.
`StuckNim`: from its third game on, a player to move has no legal move in a game not over.
`BrokenNim`: its reset or its step raises, as a user game with a bug does.
`EndlessNim`: a move takes no stone, and no game ends (or ends late).
`Points` (AEC, two players): each move scores 0-2 points, paid as it is made (the mover +p, the
other -p), nothing at the end; `raise_after`: its step raises from that move on, counted over games.
`Duel` (parallel, sides red and blue): agents step -1/0/+1 on a line; red scores next to a blue.
`FailingDuel`: Duel whose step raises from its `raise_after`-th step on.
"""

from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import AECEnv, ParallelEnv


class Nim(AECEnv):
    """`resign`: the mover may resign (move 3) and lose; `first_resigns`: the first player's only move
    is to resign; `asym`: the second seat observes 3 more numbers; `bad_shape`: observations 2 longer
    than the space says."""

    metadata = {"render_modes": [], "name": "nim"}

    def __init__(self, pile: int = 5, resign: bool = False, first_resigns: bool = False, asym: bool = False,
                 bad_shape: bool = False):
        self.pile0, self.resign, self.first_resigns = pile, resign or first_resigns, first_resigns
        self.asym, self.bad_shape = asym, bad_shape
        self.possible_agents = ["player_0", "player_1"]

    def observation_space(self, agent):
        n = self.pile0 + 1 + (3 if self.asym and agent == "player_1" else 0)
        return spaces.Dict({"observation": spaces.Box(0, 1, (n,), np.float32),
                            "action_mask": spaces.Box(0, 1, (4,), np.int8)})

    def action_space(self, agent):
        return spaces.Discrete(4)

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.pile = self.pile0
        _start(self)

    def observe(self, agent):
        obs = np.zeros(self.observation_space(agent)["observation"].shape[0] + 2 * self.bad_shape, np.float32)
        obs[self.pile] = 1
        takes = [self.pile >= k for k in (1, 2, 3)]
        if self.first_resigns and agent == "player_0":
            takes = [False] * 3
        return {"observation": obs, "action_mask": np.array([*takes, self.resign], np.int8)}

    def step(self, action):
        me = self.agent_selection
        other = next(a for a in self.agents if a != me)
        self.rewards = {a: 0.0 for a in self.agents}
        if action == 3 or self.pile <= action + 1:  # a resignation, or the last stone taken
            won = action != 3
            self.rewards[me], self.rewards[other] = (1.0, -1.0) if won else (-1.0, 1.0)
            self.terminations = {a: True for a in self.agents}
        self.pile -= 0 if action == 3 else action + 1
        for a in self.agents:
            self._cumulative_rewards[a] += self.rewards[a]
        self.agent_selection = other


def nim(**kwargs):
    return Nim(**kwargs)


resign_nim = functools.partial(Nim, resign=True)
first_resigns_nim = functools.partial(Nim, first_resigns=True)
asym_nim = functools.partial(Nim, asym=True)
bad_shape_nim = functools.partial(Nim, bad_shape=True)


class DealtNim(Nim):
    """The pile (1 to `pile`) and the first mover are drawn from a generator of the game's own,
    seeded by `reset(seed=...)` only: made from the OS's entropy, and an unseeded reset goes on
    from it, as PettingZoo's rlcard games (leduc_holdem_v4, texas_holdem_v4) deal their cards.
    `first`: the index of the player who moves first in every game instead (the pile still drawn);
    `deck_seed`: the deck's seed before any seeded reset (None: the OS's entropy)."""

    def __init__(self, pile: int = 9, first: int | None = None, deck_seed: int | None = None, **kwargs):
        super().__init__(pile, **kwargs)
        self.first = first
        self.deck = np.random.default_rng(deck_seed)

    def reset(self, seed=None, options=None):
        if seed is not None:
            self.deck = np.random.default_rng(seed)
        super().reset()
        self.pile = int(self.deck.integers(1, self.pile0 + 1))
        first = int(self.deck.integers(2))
        self.agent_selection = self.agents[first if self.first is None else self.first]


class FlippedNim(Nim):
    """Observations reversed by np.flip: views with a negative stride, as chess_v6 turns its board."""

    def observe(self, agent):
        seen = super().observe(agent)
        return {**seen, "observation": np.flip(seen["observation"])}


class StuckNim(Nim):
    """From its `stuck_from`-th game on (counting resets; 1: every game), the player to move after
    the first move has no legal move, and the game is not over: a bug the game check, which plays
    one game, does not meet."""

    def __init__(self, pile: int = 5, stuck_from: int = 3, **kwargs):
        super().__init__(pile, **kwargs)
        self.stuck_from, self.games = stuck_from, 0

    def reset(self, seed=None, options=None):
        super().reset(seed, options)
        self.games += 1

    def observe(self, agent):
        seen = super().observe(agent)
        if self.games >= self.stuck_from and self.pile < self.pile0 and agent == self.agent_selection:
            seen["action_mask"][:] = 0
        return seen


class BrokenNim(Nim):
    """`broken`: "reset" raises at every reset, "step" at the second move."""

    def __init__(self, pile: int = 5, broken: str = "reset"):
        super().__init__(pile)
        self.broken = broken

    def reset(self, seed=None, options=None):
        if self.broken == "reset":
            raise ValueError("deck is empty")
        super().reset(seed, options)

    def step(self, action):
        if self.broken == "step" and self.pile < self.pile0:
            raise ValueError("arena not ready")
        super().step(action)


class EndlessNim(Nim):
    """Every move passes the turn and takes nothing: a game with no end, or (`ends_after`) a draw
    after that many moves."""

    metadata = {"render_modes": [], "name": "endless_nim"}

    def __init__(self, pile: int = 5, ends_after: int | None = None):
        super().__init__(pile)
        self.ends_after = ends_after

    def reset(self, seed=None, options=None):
        super().reset(seed, options)
        self.moves = 0

    def step(self, action):
        self.moves += 1
        self.agent_selection = next(a for a in self.agents if a != self.agent_selection)
        if self.moves == self.ends_after:
            self.truncations = {a: True for a in self.agents}


class Points(AECEnv):
    """Each player in turn scores 0, 1 or 2 points (its move), `moves` moves each. The game pays as
    it goes: every move gives the mover +points and the other -points, and the end pays nothing, so
    only the sum of a player's rewards says who won. `raise_after`: from that many moves on (counted
    over every game of this object: past the game check's one game), step raises, as a buggy game."""

    metadata = {"render_modes": [], "name": "points"}

    def __init__(self, moves: int = 3, raise_after: int | None = None):
        self.n_moves, self.raise_after, self.moved = moves, raise_after, 0
        self.possible_agents = ["player_0", "player_1"]

    def observation_space(self, agent):
        return spaces.Dict({"observation": spaces.Box(0, 100, (2,), np.float32),
                            "action_mask": spaces.Box(0, 1, (3,), np.int8)})

    def action_space(self, agent):
        return spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        self.agents = list(self.possible_agents)
        self.score, self.count = {a: 0 for a in self.agents}, 0
        _start(self)

    def observe(self, agent):
        return {"observation": np.array([self.score[agent], self.count], np.float32), "action_mask": np.ones(3, np.int8)}

    def step(self, action):
        self.moved += 1
        if self.raise_after is not None and self.moved > self.raise_after:
            raise RuntimeError("deck is empty")
        me = self.agent_selection
        other = next(a for a in self.agents if a != me)
        self._cumulative_rewards[me] = 0.0  # PettingZoo's convention: the mover's tally restarts at its move
        self.score[me] += int(action)
        self.count += 1
        self.rewards = {me: float(action), other: -float(action)}
        if self.count >= 2 * self.n_moves:
            self.terminations = {a: True for a in self.agents}
        self.agent_selection = other
        self._accumulate_rewards()


dealt_nim = DealtNim
flipped_nim = FlippedNim
stuck_nim = StuckNim
broken_nim = BrokenNim
endless_nim = EndlessNim
points = Points


class Duel(ParallelEnv):
    """`die`: blue_1 leaves after step 3; `hetero`: red_1 observes 4 numbers, red_0 3; `bad_obs`:
    observations 5 longer than the spaces say; `dict_obs`: Dict observations."""

    metadata = {"render_modes": [], "name": "duel"}

    def __init__(self, max_cycles: int = 10, die: bool = False, hetero: bool = False, bad_obs: bool = False,
                 dict_obs: bool = False):
        self.possible_agents = ["red_0", "red_1", "blue_0", "blue_1"]
        self.max_cycles, self.die, self.hetero, self.bad_obs, self.dict_obs = max_cycles, die, hetero, bad_obs, dict_obs

    def observation_space(self, agent):
        box = spaces.Box(-50, 50, (4 if self.hetero and agent == "red_1" else 3,), np.float32)
        return spaces.Dict({"position": box}) if self.dict_obs else box

    def action_space(self, agent):
        return spaces.Discrete(3)

    def reset(self, seed=None, options=None):
        rng = np.random.default_rng(seed)
        self.agents = list(self.possible_agents)
        self.pos = {a: float(rng.integers(-5, 6)) for a in self.agents}
        self.t = 0
        return {a: self._obs(a) for a in self.agents}, {a: {} for a in self.agents}

    def _obs(self, agent):
        space = self.observation_space(agent)
        n = (space["position"] if self.dict_obs else space).shape[0] + 5 * self.bad_obs
        obs = np.zeros(n, np.float32)
        obs[0], obs[1] = self.pos[agent], self.t
        return {"position": obs} if self.dict_obs else obs

    def step(self, actions):
        for agent, move in actions.items():
            self.pos[agent] += int(move) - 1
        self.t += 1
        blues = [a for a in self.agents if a.startswith("blue")]
        near = {a: any(abs(self.pos[a] - self.pos[b]) <= 1 for b in self.agents if b[0] != a[0]) for a in self.agents}
        rewards = {a: (-1.0 if a in blues else 1.0) * near[a] for a in self.agents}  # red scores, blue pays
        truncs = {a: self.t >= self.max_cycles for a in self.agents}
        terms = {a: self.die and self.t == 3 and a == "blue_1" for a in self.agents}
        obs = {a: self._obs(a) for a in self.agents}
        infos = {a: {} for a in self.agents}
        self.agents = [a for a in self.agents if not (terms[a] or truncs[a])]
        return obs, rewards, terms, truncs, infos


def duel(**kwargs):
    return Duel(**kwargs)


dying_duel = functools.partial(Duel, die=True)
hetero_duel = functools.partial(Duel, hetero=True)
bad_obs_duel = functools.partial(Duel, bad_obs=True)
dict_duel = functools.partial(Duel, dict_obs=True)


class FailingDuel(Duel):
    """`Duel` whose step raises from its `raise_after`-th step on (counted over every episode of this
    object: past the game check's), as a buggy parallel game."""

    def __init__(self, raise_after: int = 20, **kwargs):
        super().__init__(**kwargs)
        self.raise_after, self.stepped = raise_after, 0

    def step(self, actions):
        self.stepped += 1
        if self.stepped > self.raise_after:
            raise RuntimeError("arena collapsed")
        return super().step(actions)


failing_duel = FailingDuel


def _start(game) -> None:
    """A new game's bookkeeping, as PettingZoo's AEC API has it: no rewards yet, nobody done, the
    first agent to move."""
    game.rewards = {a: 0.0 for a in game.agents}
    game._cumulative_rewards = {a: 0.0 for a in game.agents}
    game.terminations = {a: False for a in game.agents}
    game.truncations = {a: False for a in game.agents}
    game.infos = {a: {} for a in game.agents}
    game.agent_selection = game.agents[0]
