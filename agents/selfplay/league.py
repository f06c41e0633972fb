"""The opponent pool: frozen snapshots of the learner taken on a schedule, plus fixed references.

Each training episode draws its opponent here: with probability `reference_prob` one of the
training references (random, lookahead, ...), otherwise a snapshot sampled as
- latest: the newest snapshot (naive self-play),
- uniform: any snapshot alike (fictitious self-play),
- pfsp: prioritized fictitious self-play (Vinyals et al. 2019, AlphaStar): weight (1 - p)^power,
  p the learner's recent score against that snapshot, so the opponents it cannot yet beat come up
  most often.
Results come back through `record` (the adapter's `on_result`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Literal

import numpy as np
import torch

from rlgen.envs.games import Opponent

Sampling = Literal["latest", "uniform", "pfsp"]


@dataclass
class Snapshot:
    name: str  # "step_<N>"
    step: int
    params: dict[str, torch.Tensor]  # the policy's weights, on the CPU


@dataclass
class Record:
    """A decayed tally of the learner's results against one opponent."""

    score: float = 0.0  # sum of decayed points (win 1, draw 0.5)
    games: float = 0.0  # sum of decayed games

    def add(self, outcome: float, decay: float) -> None:
        self.score = decay * self.score + (outcome + 1.0) / 2.0
        self.games = decay * self.games + 1.0

    @property
    def rate(self) -> float:
        """Score with one virtual draw, so an unplayed opponent reads 0.5."""
        return (self.score + 0.5) / (self.games + 1.0)


@dataclass
class League:
    """Snapshots + references; `draw` picks an opponent, `record` learns how it went."""

    references: dict[str, Opponent]
    make_player: Callable[[dict[str, torch.Tensor]], Opponent]  # snapshot weights -> move function
    sampling: Sampling = "pfsp"
    reference_prob: float = 0.0
    reference_weights: list[float] | None = None  # relative shares of the references; None: equal
    max_snapshots: int = 20
    pfsp_power: float = 2.0
    decay: float = 0.99  # per-game decay of the tallies: recent results weigh most
    seed: int = 0
    snapshots: list[Snapshot] = field(default_factory=list)
    records: dict[str, Record] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(self.seed)
        self._players: dict[str, Opponent] = {}  # built lazily, one per snapshot in the pool
        self._unit = Record()  # results since the last `pop_metrics`, undecayed
        self._unit_counts = np.zeros(3)  # losses, draws, wins

    # --- the pool ------------------------------------------------------------------------------

    def add_snapshot(self, step: int, params: dict[str, torch.Tensor]) -> Snapshot:
        snap = Snapshot(f"step_{step}", step, params)
        self.snapshots = [s for s in self.snapshots if s.name != snap.name] + [snap]
        if len(self.snapshots) > self.max_snapshots:
            dropped = self.snapshots.pop(0)  # the oldest goes: the pool follows the learner
            self._players.pop(dropped.name, None)
        return snap

    def player(self, name: str) -> Opponent:
        """The move function of a reference or a snapshot in the pool."""
        if name in self.references:
            return self.references[name]
        if name not in self._players:
            snap = next(s for s in self.snapshots if s.name == name)
            self._players[name] = self.make_player(snap.params)
        return self._players[name]

    # --- sampling ------------------------------------------------------------------------------

    def weights(self) -> np.ndarray:
        """Sampling probabilities over `self.snapshots`."""
        n = len(self.snapshots)
        if self.sampling == "latest":
            w = np.zeros(n)
            w[-1] = 1.0
        elif self.sampling == "uniform":
            w = np.ones(n)
        else:
            rates = np.array([self.records.get(s.name, Record()).rate for s in self.snapshots])
            w = (1.0 - rates) ** self.pfsp_power + 1e-3  # never quite zero: beaten snapshots still come up
        return w / w.sum()

    def draw(self) -> tuple[str, Opponent]:
        names = list(self.references)
        if names and (not self.snapshots or self.rng.random() < self.reference_prob):
            if self.reference_weights:
                w = np.asarray(self.reference_weights, dtype=float)
                w = w / w.max()  # first: the sum of weights near the largest float would overflow
                name = names[self.rng.choice(len(names), p=w / w.sum())]
            else:
                name = names[self.rng.integers(len(names))]
        else:
            name = self.snapshots[self.rng.choice(len(self.snapshots), p=self.weights())].name
        return name, self.player(name)

    def record(self, name: str, outcome: float) -> None:
        self.records.setdefault(name, Record()).add(outcome, self.decay)
        self._unit_counts[int(np.sign(outcome)) + 1] += 1

    def pop_metrics(self) -> dict[str, float]:
        """league/... metrics over the games finished since the last call."""
        losses, draws, wins = self._unit_counts
        total = self._unit_counts.sum()
        self._unit_counts = np.zeros(3)
        out = {"league/snapshots": float(len(self.snapshots))}
        if total:
            out.update({"league/win_rate": wins / total, "league/draw_rate": draws / total,
                        "league/loss_rate": losses / total, "league/games": float(total)})
        for name in self.references:
            if name in self.records:
                out[f"league/score_vs_{name}"] = self.records[name].rate
        return out

    # --- resume --------------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        return {
            "snapshots": [(s.name, s.step, s.params) for s in self.snapshots],
            "records": {k: (r.score, r.games) for k, r in self.records.items()},
            "rng": self.rng.bit_generator.state,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.snapshots = [Snapshot(n, step, params) for n, step, params in state["snapshots"]]
        self.records = {k: Record(*v) for k, v in state["records"].items()}
        self.rng.bit_generator.state = state["rng"]
        self._players.clear()
