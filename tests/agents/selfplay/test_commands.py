"""`rlgen play` driven by scripted input, and `rlgen tournament` over two checkpoints."""

import re
from pathlib import Path

import numpy as np
import pytest

from gymnasium import spaces

from rlgen.agents.selfplay.play import board_table, restore
from rlgen.cli import main
from tests.envs.games.toy_games import Nim

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "selfplay_tictactoe.yaml"
TINY = ["game.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64",
        "agent.hyperparams.n_epochs=1", "league.snapshot_every=64", "ratings.games_per_pair=2",
        "train.eval_episodes=2", "train.eval_every=64", "train.total_steps=128"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    quiet = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
    assert main(["train", str(CONFIG), *quiet, *TINY, f"logging.dir={root}"]) == 0
    (path,) = root.glob("*/*")
    return path


def test_play_refuses_bad_input_and_finishes_a_game(run_dir, monkeypatch, capsys):
    # every cell twice in a row: the second "1" is refused whoever took cell 1 (the game cannot end
    # before my second move), and typing every cell reaches a legal move each turn
    answers = iter(["0", "abc", *[str(i) for i in range(1, 10) for _ in range(2)]])
    monkeypatch.setattr("builtins.input", lambda prompt="": next(answers))
    assert main(["play", str(run_dir), "--seat", "second"]) == 0
    out = capsys.readouterr().out
    assert "You are O" in out and "agent plays" in out
    assert "'0' is not a move" in out and "'abc' is not a move" in out and "illegal move" in out
    assert any(end in out for end in ("You win!", "Draw.", "The agent wins."))


def test_play_with_input_that_ends_is_one_line(run_dir, monkeypatch, capsys):
    def ended(prompt=""):
        raise EOFError

    monkeypatch.setattr("builtins.input", ended)
    assert main(["play", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "the input ended before the game did" in err and "Traceback" not in err


def test_play_with_stdin_closed_is_one_line(run_dir, monkeypatch, capsys):
    """`rlgen play RUN <&-`: Python has no sys.stdin, and input() raised a RuntimeError traceback."""
    monkeypatch.setattr("sys.stdin", None)
    assert main(["play", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert "reads your moves from standard input, which is closed" in err and "Traceback" not in err


def test_board_shows_marks_and_move_numbers():
    from io import StringIO

    from rich.console import Console

    obs = np.zeros((3, 3, 2), np.int8)
    obs[0, 0, 0] = 1  # X top left
    obs[1, 1, 1] = 1  # O centre
    console = Console(file=StringIO(), width=40, color_system=None)
    console.print(board_table(obs, 9))
    text = console.file.getvalue()
    assert "X" in text and "O" in text and "2" in text and "5" not in text and "1" not in text


def test_go_says_which_move_passes():
    from rlgen.agents.selfplay.play import _Board
    from rlgen.envs.games.aec import make_game

    for game, kwargs, n_actions, note in (("go_v5", {"board_size": 5}, 26, "; 26 passes"), ("tictactoe_v3", {}, 9, "")):
        env = make_game(game, kwargs)()
        env.reset(seed=0)
        assert _Board(env, list(env.possible_agents), n_actions, env.possible_agents[0]).note() == note


@pytest.mark.parametrize("game, moves, n_actions", [
    ("tictactoe_v3", [1, 5, 6, 0], 9),
    ("go_v5", [1, 8, 25, 3, 25, 25], 26),  # 25: a pass; go's planes are the last mover's, so they swap each move
])
def test_the_board_shows_the_first_player_as_x_whatever_the_planes(game, moves, n_actions):
    from rlgen.agents.selfplay.play import _Board
    from rlgen.envs.games.aec import make_game
    from rlgen.envs.games.boards import planes_to_cells

    env = make_game(game, {"board_size": 5} if game == "go_v5" else {})()
    env.reset(seed=0)
    board = _Board(env, list(env.possible_agents), n_actions, env.possible_agents[0])
    expected = np.zeros(25 if game == "go_v5" else 9, dtype=np.int8)
    for i, move in enumerate(moves):
        mover = env.agent_selection
        env.step(move)
        board.moved(mover, move)
        if move < expected.size:
            expected[move] = 1 if i % 2 == 0 else -1  # the first player moves first
        shown = planes_to_cells(board.observation()).ravel() * (-1 if board.flipped() else 1)
        assert (shown == expected).all(), (i, shown, expected)


def test_tournament_prints_ratings(run_dir, capsys):
    first = run_dir / "checkpoints" / "step_64"
    assert first.is_dir()
    assert main(["tournament", str(run_dir), str(first), "--games", "4", "--checkpoint", "latest"]) == 0
    out = capsys.readouterr().out  # --checkpoint picks in run directories; a checkpoint directory is itself
    assert "@128" in out and "@64" in out and "minimax" in out and "1000" in out


def test_a_checkpoint_given_twice_plays_as_two_players(run_dir, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")  # whole player names
    assert main(["tournament", str(run_dir), str(run_dir), "--games", "2"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"@(\d+) .*\n.*@\1#2 ", out) or re.search(r"@(\d+)#2 .*\n.*@\1 ", out)


def test_restore_rejects_a_non_run(tmp_path):
    from rlgen.errors import RlgenError

    with pytest.raises(RlgenError, match="not a run directory"):
        restore(tmp_path)


def test_a_tournament_refuses_runs_of_one_game_at_different_settings():
    from types import SimpleNamespace

    from rlgen.agents.selfplay.play import tournament
    from rlgen.errors import RlgenError

    def run(**kwargs):
        return SimpleNamespace(cfg=SimpleNamespace(game=SimpleNamespace(name="go_v5", kwargs=kwargs)))

    with pytest.raises(RlgenError, match=r"one game, got: go_v5 \{'board_size': 5\}, go_v5 \{'board_size': 7\}"):
        tournament([run(board_size=5), run(board_size=7)])


def test_a_tournament_compares_games_as_their_constructor_fills_them_in():
    """go_v5 {board_size: 5} and {board_size: 5, komi: 7.5} (komi's default) were refused as two games."""
    from types import SimpleNamespace

    from rlgen.agents.selfplay.play import _game_text

    def run(**kwargs):
        return SimpleNamespace(cfg=SimpleNamespace(game=SimpleNamespace(name="go_v5", kwargs=kwargs)))

    assert _game_text(run(board_size=5, komi=7.5)) == _game_text(run(board_size=5)) == "go_v5 {'board_size': 5}"
    assert _game_text(run(board_size=5, render_mode="rgb_array", screen_height=300)) == "go_v5 {'board_size': 5}"
    assert _game_text(run(board_size=19)) == _game_text(run()) == "go_v5"
    assert _game_text(run(board_size=5, komi=0.5)) != _game_text(run(board_size=5))


def test_play_shows_an_observation_that_is_no_board_as_text_with_the_legal_moves():
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    from rlgen.agents.selfplay.play import play_human
    from rlgen.envs.games import make_game

    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    exp = SimpleNamespace(game=make_game("tests.envs.games.toy_games:nim"), agent_player=lambda deterministic: first_legal,
                          cfg=SimpleNamespace(game=SimpleNamespace(name="nim")), global_step=0)
    answers = iter(["3", "1", "1"])  # pile 5: I take 3, the agent 1, I take the last
    console = Console(file=StringIO(), width=100, color_system=None)
    assert play_human(exp, seat="first", ask=lambda prompt: next(answers), console=console) == 1.0
    text = console.file.getvalue()
    assert "You are player_0" in text and "[0. 0. 0. 0. 0. 1.]" in text and "legal moves: 1, 2, 3" in text


class CountingNim(Nim):
    """Nim observed as (1, 4, `channels`) planes whose first cell counts the stones taken: planes
    that read as a board only before the first move (with one channel, never)."""

    def __init__(self, channels: int = 2):
        super().__init__()
        self.channels = channels

    def observation_space(self, agent):
        return spaces.Dict({"observation": spaces.Box(0, 5, (1, 4, self.channels), np.int8),
                            "action_mask": spaces.Box(0, 1, (4,), np.int8)})

    def observe(self, agent):
        obs = np.zeros((1, 4, self.channels), np.int8)
        obs[0, 0, 0] = self.pile0 - self.pile
        return {"observation": obs, "action_mask": np.array([self.pile >= k for k in (1, 2, 3)] + [0], np.int8)}


@pytest.mark.parametrize("channels, you", [(1, "player_0"), (2, "X")])
def test_play_shows_planes_that_are_no_board_as_numbers(channels, you):
    """Any 3-D observation was read as a board: one plane raised an IndexError, a count a KeyError."""
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    from rlgen.agents.selfplay.play import play_human
    from rlgen.envs.games import make_game

    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    exp = SimpleNamespace(game=make_game(f"{__name__}:CountingNim", {"channels": channels}), global_step=0,
                          agent_player=lambda deterministic: first_legal,
                          cfg=SimpleNamespace(game=SimpleNamespace(name="counting_nim")))
    answers = iter(["3", "1"])  # pile 5: I take 3, the agent 1, I take the last
    console = Console(file=StringIO(), width=100, color_system=None)
    assert play_human(exp, seat="first", ask=lambda prompt: next(answers), console=console) == 1.0
    text = console.file.getvalue()
    assert f"You are {you};" in text and "[[[4" in text and "legal moves: 1\n" in text  # 4 taken, 1 left


def test_a_board_is_two_planes_of_stones_its_moves_name():
    from rlgen.agents.selfplay.play import is_board

    board = np.zeros((3, 3, 2), np.int8)
    board[0, 0, 0] = board[1, 1, 1] = 1
    assert is_board(board, 9) and is_board(board, 3) and is_board(board, 10)  # cells, columns, cells and a pass
    overlap, counts = board.copy(), board.copy()
    overlap[0, 0, 1], counts[2, 2, 0] = 1, 5
    assert not any([is_board(board, 4), is_board(board[..., :1], 9), is_board(overlap, 9), is_board(counts, 9)])


def test_eval_video_on_a_selfplay_run_says_it_records_none(run_dir, capsys):
    assert main(["eval", str(run_dir), "--video", "--episodes", "2"]) == 0
    out = capsys.readouterr().out
    assert "no video: kind 'selfplay' records none" in out and "video in" not in out
    assert not (run_dir / "media" / "videos").exists() or not any((run_dir / "media" / "videos").iterdir())


def test_the_ratings_title_names_the_anchor_the_tournament_used():
    from rlgen.agents.selfplay.play import ratings_title

    for rows, anchor in (([("a@64", 1100.0, 0.6, 4), ("random", 1000.0, 0.4, 4)], "random = 1000"),
                         ([("a@64", 1050.0, 0.6, 4), ("b@64", 950.0, 0.4, 4)], "the mean = 1000")):
        assert ratings_title(rows) == f"ratings (Bradley-Terry Elo, {anchor})"


def test_the_ratings_title_is_one_line_in_a_file_over_a_narrower_table():
    """rich folded a Table's own title to the table's width: `rlgen tournament > t.txt` split it."""
    from io import StringIO

    from rich.console import Console

    from rlgen.agents.selfplay.play import ratings_table
    from rlgen.logging import WHOLE_LINE

    console = Console(file=StringIO(), width=WHOLE_LINE, color_system=None)  # report_console's, off a terminal
    console.print(ratings_table([("a@64", 1100.0, 0.6, 4), ("random", 1000.0, 0.4, 4)]))
    assert console.file.getvalue().splitlines()[0].strip() == "ratings (Bradley-Terry Elo, random = 1000)"


def test_a_tournament_knows_a_game_by_its_dotted_name():
    from types import SimpleNamespace

    from rlgen.agents.selfplay.play import _game_text

    def run(name):
        return SimpleNamespace(cfg=SimpleNamespace(game=SimpleNamespace(name=name, kwargs={})))

    assert _game_text(run("pettingzoo.classic.tictactoe_v3")) == _game_text(run("tictactoe_v3"))


@pytest.mark.parametrize("seat, first, says", [
    ("second", 1, "You are player_1; you move first."),  # the second seat moves first in this game
    ("first", 1, "You are player_0; the agent moves first."),
    ("second", 0, "You are player_1; the agent moves first."),
])
def test_play_says_who_moves_first_as_the_game_deals_it(seat, first, says):
    # a seat is a player of the game (possible_agents), which need not be the one that moves first:
    # leduc_holdem_v4 draws its first mover at every deal
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    from rlgen.agents.selfplay.play import Quit, play_human
    from rlgen.envs.games import make_game

    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    # deck_seed 0 deals a pile of 8: the agent's first move (take one) never ends the game before the
    # person is asked (an unseeded deal of 1 did, one run in nine)
    exp = SimpleNamespace(game=make_game("tests.envs.games.toy_games:dealt_nim", {"first": first, "deck_seed": 0}),
                          agent_player=lambda deterministic: first_legal,
                          cfg=SimpleNamespace(game=SimpleNamespace(name="dealt_nim")), global_step=0)
    console = Console(file=StringIO(), width=100, color_system=None)
    with pytest.raises(Quit):
        play_human(exp, seat=seat, ask=lambda prompt: "q", console=console)
    assert console.file.getvalue().splitlines()[0] == f"{says} dealt_nim, agent at step 0."


def test_a_tournament_knows_a_game_by_its_modules_env():
    from types import SimpleNamespace

    from rlgen.agents.selfplay.opponents import build_reference
    from rlgen.agents.selfplay.play import _game_text

    def run(name):
        return SimpleNamespace(cfg=SimpleNamespace(game=SimpleNamespace(name=name, kwargs={})))

    assert (_game_text(run("pettingzoo.classic.connect_four_v3:env")) == _game_text(run("connect_four_v3"))
            == _game_text(run("pettingzoo.classic.connect_four_v3:raw_env")))
    build_reference("lookahead", "pettingzoo.classic.connect_four_v3:env", np.random.default_rng(0))  # its game


def test_play_announces_the_winner_of_a_game_that_pays_as_it_goes():
    """PettingZoo zeroes a player's `_cumulative_rewards` as it moves: the person, who moves last
    here, was announced the winner on its last move's 2 points, having 2 to the agent's 6."""
    from io import StringIO
    from types import SimpleNamespace

    from rich.console import Console

    from rlgen.agents.selfplay.play import play_human
    from rlgen.envs.games import make_game

    exp = SimpleNamespace(game=make_game("tests.envs.games.toy_games:points"), global_step=0,
                          agent_player=lambda deterministic: lambda obs, mask: 2,
                          cfg=SimpleNamespace(game=SimpleNamespace(name="points")))
    answers = iter(["1", "1", "3"])  # 0, 0 and 2 points
    console = Console(file=StringIO(), width=100, color_system=None)
    assert play_human(exp, seat="second", ask=lambda prompt: next(answers), console=console) == -1.0
    assert console.file.getvalue().splitlines()[-1] == "The agent wins."
