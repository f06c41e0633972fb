"""Finding a config for the API (`rlgen.api_configs`): a path the system refuses to look up is one
RlgenError naming it, not a bare OSError."""

from __future__ import annotations

import pytest

import rlgen
from rlgen.errors import ConfigError, RlgenError


@pytest.mark.parametrize("call", [rlgen.load_config, rlgen.train])
def test_a_path_too_long_to_look_up_is_one_line_naming_it(call, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # where train would make runs/
    name = "a" * 300  # over NAME_MAX (255): Path.is_file() raises ENAMETOOLONG rather than saying False
    with pytest.raises(RlgenError) as e:
        call(name)
    said = str(e.value)
    assert said.startswith(f"config {name} cannot be opened (File name too long)") and "\n" not in said
    assert "rlgen list" in said
    assert list(tmp_path.iterdir()) == []


def test_a_resume_path_too_long_to_look_up_is_one_line_naming_it(tmp_path):
    name = str(tmp_path / ("a" * 300))
    with pytest.raises(RlgenError, match=r"cannot resume: .* cannot be opened \(File name too long\)"):
        rlgen.train(resume=name)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("config, overrides", [
    ("teams_simple_tag", ["game.name=mygames", "league.references=[jitter,random]"]),
    ("selfplay_tictactoe", ["game.name=nosuchgame", "ratings.references=[random,lookahead]"]),
])
def test_a_refused_game_is_the_only_problem_not_the_files_games_references(config, overrides):
    """The kind's checks ran on the config with the file's game put back: the references were
    checked against simple_tag's players (or tic-tac-toe), not the game the user named."""
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(config, overrides)
    assert [p.split(":")[0] for p in e.value.problems] == ["game.name"], e.value.problems


def test_a_kinds_problem_that_hangs_on_no_refused_key_is_still_said():
    with pytest.raises(ConfigError) as e:
        rlgen.load_config("teams_simple_tag", ["optim.type=adamm", "league.references=[jitter,random]"])
    assert [p.split(":")[0] for p in e.value.problems] == ["optim.type", "league.references"], e.value.problems


def test_a_refused_key_the_kinds_checks_cannot_do_without_keeps_their_other_problems():

    with pytest.raises(ConfigError) as info:  # the RL check needs train.eval_episodes: it was [] then
        rlgen.load_config("ppo_cartpole", ["train.eval_episodes=0", "agent.hyperparams.bogus=1"])
    assert [p.split(":")[0] for p in info.value.problems] == ["train.eval_episodes", "agent.hyperparams.bogus"]
