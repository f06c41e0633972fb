"""Trained self-play agents outside training: restore a run, rate runs against each other, play a person.

    exp = restore(Path("runs/selfplay_tictactoe/<id>"))       # the experiment, weights loaded
    table = tournament([exp_a, exp_b], games_per_pair=20)    # ratings rows, best first
    play_human(exp, seat="first", ask=input)                 # the terminal game of `rlgen play`
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
from rich import box
from rich.console import Console, Group, RenderableType
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rlgen.agents.selfplay.experiment import SelfPlayExperiment
from rlgen.agents.selfplay.ratings import fit_elo, results_matrix, round_robin
from rlgen.envs.games import Opponent, game_name, legal_mask, make_game
from rlgen.envs.games.boards import planes_to_cells
from rlgen.config import whole_count
from rlgen.errors import RlgenError

MARKS = {1: "[bold red]X[/]", -1: "[bold yellow]O[/]", 0: ""}


class Quit(KeyboardInterrupt):
    """The person typed q (quit, exit) for a move: `play_human` ends the game unfinished. A
    KeyboardInterrupt, as it was before it had a class of its own, so callers that stop on
    Ctrl-C stop on it too; `rlgen play` tells the two apart (exit 0 for q, 130 for Ctrl-C)."""


def restore(path: Path, trust: bool = False, checkpoint: str | None = None) -> SelfPlayExperiment:
    """A self-play experiment from a run directory or one of its checkpoint directories, on the
    CPU, ready to play (`checkpoint`, `trust`: see `rlgen.load_run`; a finished run: its best)."""
    from rlgen.api import load_run

    run = load_run(path, checkpoint=checkpoint, trust=trust)
    if not isinstance(run.experiment, SelfPlayExperiment):
        kind = run.config.kind
        run.close()
        raise RlgenError(f"{path} is a run of kind {kind!r}; playing and tournaments need a kind: selfplay run")
    exp = run.experiment
    exp.label = f"{run.config.name}/{run.run_dir.name}@{exp.global_step}"
    exp.checkpoint = run.checkpoint
    return exp


RENDER_ONLY = ("render_mode", "screen_height", "screen_scaling")  # PettingZoo's classic games: how a game is drawn


def _game_text(exp: SelfPlayExperiment) -> str:
    """The game with the kwargs that change it (go's board_size): runs of go 5x5 and 7x7 cannot meet.
    A kwarg at its constructor's default is left out, as is one that only draws the game: go_v5 with
    {board_size: 5} and {board_size: 5, komi: 7.5} are one game."""
    name = exp.cfg.game.name
    defaults = _constructor_defaults(name)
    kwargs = {k: v for k, v in sorted(exp.cfg.game.kwargs.items())
              if k not in RENDER_ONLY and not (k in defaults and defaults[k] == v)}
    return game_name(name) + (f" {kwargs}" if kwargs else "")


def _constructor_defaults(name: str) -> dict[str, Any]:
    """The keyword defaults of the constructor `make_game` builds `name` with ({} without a signature)."""
    constructor = make_game(name).args[0]  # make_game's factory: partial(_build_game, constructor, name, kwargs)
    try:
        params = inspect.signature(constructor).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: kwargs compare as written
        return {}
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def tournament(exps: list[SelfPlayExperiment], games_per_pair: int = 20, snapshots: bool = False,
               deterministic: bool = False, seed: int = 0) -> list[tuple[str, float, float, int]]:
    """A round robin among the runs' agents (optionally their snapshot pools too) and the first
    run's references, every pair on the same deals (`deal_seeds(seed, games_per_pair)`); rows
    (player, Elo, mean score, games), best first. Random is rated 1000, or without a random player,
    the mean of the players."""
    whole_count(games_per_pair, "games_per_pair")
    games = {_game_text(e) for e in exps}
    if len(games) != 1:
        raise RlgenError(f"a tournament needs runs of one game, got: {', '.join(sorted(games))}")
    first = exps[0]
    players: dict[str, Opponent] = {}
    for exp in exps:
        label, k = exp.label, 1
        while label in players:  # the same checkpoint twice, or two runs of one name: a player each
            k += 1
            label = f"{exp.label}#{k}"
        players[label] = exp.agent_player(deterministic=deterministic)
        if snapshots:
            for snap in exp.league.snapshots:
                players[f"{label}:{snap.name}"] = exp.league.player(snap.name)
    players.update(first.references)
    names = list(players)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    results = round_robin(first.game, players, pairs, games_per_pair, seed=seed, name=first.cfg.game.name)
    scores, n = results_matrix(names, results)
    anchor = names.index("random") if "random" in names else None
    elo = fit_elo(scores, n, anchor=anchor)
    rows = [(name, float(e), float(scores[i].sum() / max(n[i].sum(), 1)), int(n[i].sum()))
            for i, (name, e) in enumerate(zip(names, elo))]
    return sorted(rows, key=lambda r: -r[1])


def ratings_title(rows: list[tuple[str, float, float, int]]) -> str:
    """What the ratings are: the anchor as `tournament` chose it."""
    anchor = "random" if any(row[0] == "random" for row in rows) else "the mean"
    return f"ratings (Bradley-Terry Elo, {anchor} = 1000)"


def ratings_table(rows: list[tuple[str, float, float, int]]) -> RenderableType:
    """`tournament`'s rows under their title's line. Not the Table's own title: rich folds that to
    the table's width, where a line of its own is whole in a pipe or a file (`report_console`)."""
    table = Table()
    for col, justify in (("player", "left"), ("elo", "right"), ("score", "right"), ("games", "right")):
        table.add_column(col, justify=justify)
    for name, elo, score, games in rows:
        table.add_row(escape(name), f"{elo:.0f}", f"{score:.3f}", str(games))  # a run's name is text, not markup
    return Group(Text(ratings_title(rows), style="table.title"), table)


# --- a person against the agent ---------------------------------------------------------------


def is_board(observation: np.ndarray, n_actions: int) -> bool:
    """Whether `board_table` can show an observation: (rows, cols, C >= 2) planes whose first two
    hold each player's stones as 0 or 1, one stone a cell at most (go's further planes are its
    history), and moves that are its cells (a pass past them) or its columns. Anything else (a
    plane of counts, a one-plane strip) is shown as numbers (`_Observation`)."""
    obs = np.asarray(observation)
    if obs.ndim != 3 or obs.shape[-1] < 2 or n_actions not in (obs.shape[1], obs[..., 0].size, obs[..., 0].size + 1):
        return False
    stones = obs[..., :2]
    return bool(np.isin(stones, (0, 1)).all() and (stones.sum(axis=-1) <= 1).all())


def board_table(observation: np.ndarray, n_actions: int, flip: bool = False) -> Table:
    """The board with the first player as X; empty cells show their move number when moves are
    cells (tic-tac-toe), the header shows column numbers when moves are columns (connect four).
    `flip`: the observation's first plane holds the second player's stones (see `_Board`)."""
    cells = planes_to_cells(observation) * (-1 if flip else 1)  # (rows, cols): +1 X, -1 O
    rows, cols = cells.shape
    by_column = n_actions == cols
    table = Table(show_header=by_column, show_lines=not by_column, box=box.SIMPLE_HEAD if by_column else box.SQUARE)
    for c in range(cols):
        table.add_column(str(c + 1) if by_column else "", justify="center", min_width=3)
    for r in range(rows):
        row = []
        for c in range(cols):
            mark = MARKS[int(cells[r, c])]
            row.append(mark or ("·" if by_column else f"[dim]{r * cols + c + 1}[/]"))
        table.add_row(*row)
    return table


def play_human(exp: SelfPlayExperiment, seat: str = "first", ask: Callable[[str], str] | None = None,
               console: Console | None = None) -> float:
    """One game of a person (moves typed as 1-based numbers, read by `ask`, default `input`)
    against the agent; the person's outcome. `seat`: the game's first or second player
    (`possible_agents`), who need not move first. Typing q (quit, exit) raises `Quit`."""
    console = console or Console(emoji=False)  # a game or file name with :x: in it is printed as written
    if ask is None and sys.stdin is None:  # started with stdin closed (`<&-`): input() would raise RuntimeError
        raise RlgenError("rlgen play reads your moves from standard input, which is closed: run it from a terminal")
    ask = ask or input  # looked up now, so a test can script builtins.input
    game = exp.game()
    game.reset()
    agents = game.possible_agents
    human = agents[0 if seat == "first" else 1]
    agent = exp.agent_player(deterministic=True)
    n_actions = int(game.action_space(agents[0]).n)
    board_like = is_board(game.observe(agents[0])["observation"], n_actions)
    board = _Board(game, list(agents), n_actions, human) if board_like else _Observation(game, human)
    you = ("X" if human == agents[0] else "O") if board_like else human
    # who moves first, as this game was dealt: the seat is a player of the game, and in some games
    # (leduc_holdem_v4) the first mover is drawn at every deal, whatever the seat
    first = "you move first" if game.agent_selection == human else "the agent moves first"
    console.print(f"You are {escape(you)}; {first}. {escape(exp.cfg.game.name)}, agent at step {exp.global_step:,}.")
    moves, total = 0, 0.0  # the person's rewards summed after every move, as `play_game` scores a game
    while not (game.terminations[human] or game.truncations[human]):
        mover = game.agent_selection
        seen = game.observe(mover)
        mask = legal_mask(seen, exp.cfg.game.name, mover, moves)  # none: an error, not a question without an answer
        if mover == human:
            console.print(board.table())
            move = _ask_move(mask, ask, console, board.note())
        else:
            move = int(agent(seen["observation"], mask))
            console.print(f"agent plays {move + 1}")
        game.step(move)
        moves += 1
        total += float(game.rewards[human])  # not `_cumulative_rewards`: PettingZoo zeroes it as the person moves
        board.moved(mover, move)
    console.print(board.table())
    outcome = float(np.sign(total))
    console.print({1.0: "[bold green]You win![/]", 0.0: "Draw.", -1.0: "[bold red]The agent wins.[/]"}[outcome])
    return outcome


class _Board:
    """The board as the first player's X and the second's O, whichever player a game's planes put
    first: tic-tac-toe's the observer's marks, go's the last mover's stones. After a move onto a
    cell the stone there is the mover's, which rules out the readings it contradicts. An
    observation that is no board (`is_board`: a game whose planes come to hold counts) is shown
    as `human`'s numbers instead."""

    READINGS = ("observer", "last mover", "to move")

    def __init__(self, game: Any, players: list[str], n_actions: int, human: str):
        self.game, self.players, self.n_actions = game, players, n_actions
        self.readings, self.last = list(self.READINGS), None
        self.numbers = _Observation(game, human)

    def observation(self) -> np.ndarray:
        return self.game.observe(self.players[0])["observation"]

    def _owner(self, reading: str) -> str | None:
        """The player whose stones the first plane holds, under `reading`."""
        return {"observer": self.players[0], "last mover": self.last, "to move": self.game.agent_selection}[reading]

    def moved(self, mover: str, move: int) -> None:
        self.last = mover
        observation = self.observation()
        if not is_board(observation, self.n_actions):
            return  # no stones to read
        cells = planes_to_cells(observation)
        if self.n_actions == cells.shape[1] or move >= cells.size or cells.flat[move] == 0:
            return  # a column (connect four), a pass, or a stone captured at once: says nothing
        owner = mover if cells.flat[move] > 0 else next(p for p in self.players if p != mover)
        self.readings = [r for r in self.readings if self._owner(r) == owner] or self.readings

    def note(self) -> str:
        """What a move past the board's cells means: go's one extra move is a pass."""
        cells = planes_to_cells(self.observation()).size
        return f"; {self.n_actions} passes" if self.n_actions == cells + 1 else ""

    def flipped(self) -> bool:
        """True when the first plane now holds the second player's stones."""
        return self.last is not None and self._owner(self.readings[0]) != self.players[0]

    def table(self) -> Table | Text:
        observation = self.observation()
        if not is_board(observation, self.n_actions):
            return self.numbers.table()
        return board_table(observation, self.n_actions, flip=self.flipped())


class _Observation:
    """A game whose observations are not a board (`is_board`: Nim, poker, a strip of counts): the
    person's observation as the game gives it, numbers as text, and the legal moves."""

    def __init__(self, game: Any, human: str):
        self.game, self.human = game, human

    def moved(self, mover: str, move: int) -> None:
        pass

    def note(self) -> str:
        return ""

    def table(self) -> Text:
        seen = self.game.observe(self.human)
        numbers = np.array2string(np.asarray(seen["observation"]), threshold=10_000, max_line_width=100)
        legal = ", ".join(str(i + 1) for i in np.flatnonzero(seen["action_mask"]))
        return Text(f"your observation (not a board; as the game gives it):\n{numbers}\nlegal moves: {legal or 'none'}")


def _ask_move(mask: np.ndarray, ask: Callable[[str], str], console: Console, note: str = "") -> int:
    """Ask until the answer is a legal move; refuse anything else with a message. `note`: what the
    moves past the board mean (go: the last one passes)."""
    while True:
        try:
            text = ask(f"your move (1-{len(mask)}{note}): ").strip()
        except EOFError:
            raise RlgenError("the input ended before the game did: rlgen play reads your moves from a terminal "
                             "(type q to quit a game)") from None
        if text.lower() in ("q", "quit", "exit"):
            raise Quit
        # ASCII digits only: str.isdigit also takes '²', which int() refuses
        if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= len(mask):
            console.print(f"[yellow]'{escape(text)}' is not a move: type a number from 1 to {len(mask)}[/]")
            continue
        if not mask[int(text) - 1]:
            console.print(f"[yellow]illegal move: {text} is not allowed now (taken, full or against the rules); legal: "
                          f"{', '.join(str(i + 1) for i in np.flatnonzero(mask))}[/]")
            continue
        return int(text) - 1
