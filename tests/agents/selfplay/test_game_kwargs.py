"""PettingZoo's `max_cycles` (steps per episode of the MPE, butterfly and SISL games) is checked in
`game.kwargs` of both PettingZoo kinds when the config loads: a non-positive or fractional value is one
config line, before any run directory (at 0 every episode ended after one step)."""

import importlib.util
from pathlib import Path

import pytest

import rlgen
from rlgen.cli import main
from rlgen.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[3] / "configs"
QUIET = ["logging.wandb.mode=disabled", "train.progress=false", "logging.console=false"]
# the command of the report, one-step episodes that then looked like divergence
TEAMS_TINY = ["train.total_steps=64", "game.copies=1", "agent.hyperparams.n_steps=8", "agent.hyperparams.batch_size=16",
              "ratings.episodes=1", "ratings.games_per_pair=1"]
LINE = "game.kwargs.max_cycles: must be a whole number of steps per episode, at least 1, e.g. 25 (got {})"


KINDS = [pytest.param("teams_simple_tag", marks=pytest.mark.skipif(importlib.util.find_spec("mpe2") is None,
                                                                   reason="mpe2 is not installed")),
         "selfplay_tictactoe"]


@pytest.mark.parametrize("config", KINDS)
@pytest.mark.parametrize("value, shown", [("0", "0"), ("-5", "-5"), ("2.5", "2.5"), ("abc", "'abc'"),
                                          ("true", "True"), ("null", "None")])
def test_max_cycles_that_is_no_positive_whole_number_is_one_config_line(config, value, shown):
    with pytest.raises(ConfigError) as info:
        rlgen.load_config(config, [f"game.kwargs.max_cycles={value}"])
    assert info.value.problems == [LINE.format(shown)]


@pytest.mark.parametrize("config", KINDS)
def test_the_cli_refuses_it_with_exit_2_and_no_run_directory(config, tmp_path, capsys):
    tiny = TEAMS_TINY if config.startswith("teams") else ["train.total_steps=64"]
    code = main(["train", config, "game.kwargs.max_cycles=0", *tiny, *QUIET, f"logging.dir={tmp_path}"])
    assert code == 2
    err = capsys.readouterr().err
    assert LINE.format("0") in err and "Traceback" not in err and "diverged" not in err
    assert not any(tmp_path.iterdir())


def test_the_python_api_refuses_it_before_any_run_directory(tmp_path):
    pytest.importorskip("mpe2")
    with pytest.raises(ConfigError) as info:
        rlgen.train("teams_simple_tag", ["game.kwargs.max_cycles=0", *TEAMS_TINY, *QUIET, f"logging.dir={tmp_path}"])
    assert info.value.problems == [LINE.format("0")]
    assert not any(tmp_path.iterdir())
    # a mapping (a sweep trial's) goes through the same check
    cfg = rlgen.load_config("teams_simple_tag").model_dump(mode="json")
    cfg["game"]["kwargs"]["max_cycles"] = -1
    with pytest.raises(ConfigError) as info:
        rlgen.load_config(cfg)
    assert info.value.problems == [LINE.format("-1")]


def test_one_step_per_episode_is_still_a_game():
    pytest.importorskip("mpe2")
    cfg = rlgen.load_config("teams_simple_tag", ["game.kwargs.max_cycles=1"])
    assert cfg.game.kwargs["max_cycles"] == 1
