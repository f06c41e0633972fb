"""`kind: selfplay` end to end: a tiny run, evaluation metrics, and exact save/load/resume."""

import json
from pathlib import Path

import numpy as np
import pytest

from rlgen.agents.selfplay.experiment import SelfPlayExperiment
from rlgen import checkpoint
from rlgen.api import load_config
from rlgen.cli import main
from rlgen.logging import Logger, Table
from rlgen.runner import RunContext
from rlgen.testing import check_experiment
from tests.test_configs import smoke_overrides

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "selfplay_tictactoe.yaml"
TINY = ["game.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64",
        "agent.hyperparams.n_epochs=1", "league.snapshot_every=64", "ratings.games_per_pair=2",
        "train.eval_episodes=4", "logging.wandb.mode=disabled"]


def _experiment(tmp_path, *overrides):
    import torch

    cfg = load_config(CONFIG, [*TINY, *overrides])
    exp = SelfPlayExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    return exp


def _actions(exp, n=20):
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 2, size=(n, 3, 3, 2)).astype(np.int8)
    masks = np.ones((n, 9), bool)
    return exp.model.predict(obs, action_masks=masks, deterministic=True)[0]


def test_training_takes_snapshots_and_evaluation_rates_them(tmp_path):
    exp = _experiment(tmp_path)
    for _ in range(3):
        metrics = exp.train_unit()
    assert exp.global_step == 192
    assert [s.step for s in exp.league.snapshots] == [0, 64, 128, 192]
    assert 0 <= metrics["league/win_rate"] <= 1
    ev = exp.evaluate()
    for key in ("eval/win_rate_vs_random", "eval/loss_rate_vs_minimax", "eval/elo", "eval/return_mean"):
        assert isinstance(ev[key], float)
    # minimax is perfect: the learner can never beat it
    assert ev["eval/win_rate_vs_minimax"] == 0.0
    assert isinstance(ev["eval/payoff"], Table) and ev["eval/payoff"].columns[:2] == ["player", "current"]
    ratings = {row[0]: row[1] for row in ev["eval/ratings"].rows}
    assert ratings["random"] == 1000.0 and ratings["minimax"] > ratings["random"]
    exp.close()


def test_save_load_gives_the_same_actions_pool_and_next_unit(tmp_path):
    exp = _experiment(tmp_path)
    exp.train_unit()
    exp.train_unit()
    state = exp.state_dict()
    checkpoint.save(tmp_path / "ckpt", exp.global_step, {"experiment": state})
    loaded = checkpoint.load(tmp_path / "ckpt")["experiment"]

    other = _experiment(tmp_path, "seed=5")
    other.load_state_dict(loaded)
    assert other.global_step == exp.global_step == 128
    np.testing.assert_array_equal(_actions(other), _actions(exp))
    assert [s.name for s in other.league.snapshots] == [s.name for s in exp.league.snapshots]
    assert other.league.records.keys() == exp.league.records.keys()
    assert other.next_snapshot == exp.next_snapshot
    other.train_unit()  # the restored run carries on
    assert other.global_step == 192
    exp.close(), other.close()


def test_cli_run_and_resume(tmp_path, quiet):
    args = [*quiet, *TINY, f"logging.dir={tmp_path}", "train.eval_every=64"]
    assert main(["train", str(CONFIG), *args, "train.total_steps=64"]) == 0
    (run_dir,) = tmp_path.glob("*/*")
    assert main(["train", "--resume", str(run_dir), "train.total_steps=128", *quiet]) == 0
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["global_step"] == 128
    state = checkpoint.load(run_dir)["experiment"]
    assert [n for n, _, _ in state["league"]["snapshots"]] == ["step_0", "step_64", "step_128"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("eval/elo" in r for r in rows) and any(r.get("eval/payoff", {}).get("_type") == "table" for r in rows)


def test_config_problems_are_reported(tmp_path):
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError) as e:
        load_config(CONFIG, ["ratings.references=[random,lookahead]", "agent.hyperparams.n_step=3"])
    text = str(e.value)
    assert "ratings.references.1" in text and "connect_four_v3" in text and "n_steps" in text


def test_a_cnn_learner_sees_the_board_as_planes_and_plays_as_trained(tmp_path):
    cnn = "agent.policy.backbone={type: cnn, channels: [8], kernels: [3], strides: [1], padding: [1], hidden: 16}"
    exp = _experiment(tmp_path, cnn)
    assert exp.env.observation_space.shape == (2, 3, 3)
    exp.train_unit()
    rng = np.random.default_rng(0)
    planes = rng.integers(0, 2, size=(20, 3, 3, 2)).astype(np.int8)
    images = np.moveaxis(planes, -1, 1).astype(np.uint8)  # (20, 2, 3, 3)
    trained = exp.model.predict(images, action_masks=np.ones((20, 9), bool), deterministic=True)[0]
    agent = exp.agent_player(deterministic=True)  # game observations in, planes_to_image inside
    assert [agent(p, np.ones(9, bool)) for p in planes] == list(trained)
    snap = exp.league.player(exp.league.snapshots[-1].name)
    assert all(0 <= snap(p, np.ones(9, bool)) < 9 for p in planes)
    exp.close()


def test_a_cnn_reads_more_planes_than_the_board_is_wide_as_channels(tmp_path):
    """go 5x5 has 17 planes: read as 17 channels of 5x5, whatever SB3 would guess from the shape."""
    cnn = "agent.policy.backbone={type: cnn, channels: [8], kernels: [3], strides: [1], padding: [1], hidden: 16}"
    exp = _experiment(tmp_path, cnn, "game.name=go_v5", "game.kwargs={board_size: 5}", "league.references=[random]",
                      "ratings.references=[random]", "train.early_stop.metric=eval/win_rate_vs_random",
                      "train.early_stop.mode=max")
    assert exp.env.observation_space.shape == (17, 5, 5)
    assert exp.model.policy.features_extractor.in_shape == (17, 5, 5)
    exp.train_unit()
    exp.close()


def test_honours_the_experiment_protocol():
    # a snapshot every unit (2 envs x 16 steps), so the league's pool carries over the checkpoint
    overrides = [*smoke_overrides(CONFIG), "league.snapshot_every=32", "ratings.max_snapshots=1",
                 "train.eval_episodes=2"]
    report = check_experiment("selfplay", CONFIG, overrides)
    assert report.exact and "eval/payoff" in report.eval_names  # a table is a valid eval value


def test_targets_give_the_worst_margin_the_best_checkpoint_is_chosen_by(tmp_path):
    exp = _experiment(tmp_path, "ratings.targets={random: 0.25, minimax: 0.0}")
    exp.train_unit()
    ev = exp.evaluate()
    vs_random = ev["eval/win_rate_vs_random"]
    assert ev["eval/win_rate_vs_minimax"] == 0.0  # exactly on its target: met, margin 0 at most
    assert ev["eval/target_margin"] == pytest.approx(min(vs_random - 0.25, 0.0))
    assert ev["eval/targets_met"] == 1 + (vs_random >= 0.25)
    exp.close()
    plain = _experiment(tmp_path)
    assert "eval/target_margin" not in plain.evaluate()  # no targets, no margin
    plain.close()


def test_targets_name_references_and_are_rates():
    from rlgen.errors import ConfigError

    with pytest.raises(ConfigError, match=r"ratings.targets.lookahead: not one of ratings.references"):
        load_config(CONFIG, ["ratings.targets={lookahead: 0.8}"])
    with pytest.raises(ConfigError, match=r"ratings.targets.*between 0 and 1"):
        load_config(CONFIG, ["ratings.targets={random: 1.5}"])


TOY = "tests.envs.games.toy_games"
RANDOM_ONLY = ["league.references=[random]", "ratings.references=[random]",
               "train.early_stop.metric=eval/win_rate_vs_random", "train.early_stop.mode=max"]


def test_a_game_that_may_end_before_the_learners_move_trains_and_resumes_exactly():
    # the first player may resign at once: the learner's games that end so are tallied, not a crash
    overrides = [*smoke_overrides(CONFIG), f"game.name={TOY}:resign_nim", *RANDOM_ONLY, "league.snapshot_every=32",
                 "ratings.max_snapshots=1", "train.eval_episodes=2"]
    report = check_experiment("selfplay", CONFIG, overrides)
    assert report.exact and "league/win_rate" in report.metric_names


def test_games_one_policy_cannot_play_are_config_problems():
    from rlgen.errors import ConfigError

    cnn = "agent.policy.backbone={type: cnn, channels: [8], kernels: [3], strides: [1], padding: [1], hidden: 16}"
    for overrides, problem in (
        ([f"game.name={TOY}:asym_nim"], "game.name: game 'tests.envs.games.toy_games:asym_nim': its seats observe or "
                                        "act differently"),
        ([f"game.name={TOY}:bad_shape_nim"], "game.name: game 'tests.envs.games.toy_games:bad_shape_nim' gives "
                                             "player_0 an observation of shape (8,)"),
        ([f"game.name={TOY}:nim", cnn], "agent.policy.backbone.type: a cnn reads board observations (H, W, C), and "
                                        "game 'tests.envs.games.toy_games:nim' observes shape (6,); use type: mlp"),
    ):
        with pytest.raises(ConfigError) as info:
            load_config(CONFIG, [*overrides, *RANDOM_ONLY])
        (line,) = info.value.problems
        assert line.startswith(problem), line


def test_the_references_know_a_game_by_its_dotted_name():
    cfg = load_config(CONFIG, ["game.name=pettingzoo.classic.tictactoe_v3"])  # minimax: tictactoe_v3's
    assert cfg.ratings.references == ["random", "minimax"]


@pytest.mark.parametrize("overrides, line", [
    # twice in the ratings: two `random` rows and an anchor with no games; twice in the league with
    # weights: numpy's "a and p must have same size" traceback after the run directory was made
    (["ratings.references=[random,minimax,random]"],
     "ratings.references.2: 'random' is given twice (also at ratings.references.0); list each player once"),
    (["league.references=[random,random]", "league.reference_weights=[1,2]"],
     "league.references.1: 'random' is given twice (also at league.references.0); list each player once"),
], ids=["ratings", "league"])
def test_a_reference_given_twice_is_one_line_and_no_run(tmp_path, capsys, overrides, line):
    assert main(["train", str(CONFIG), *overrides, f"logging.dir={tmp_path}", "logging.wandb.mode=disabled"]) == 2
    assert line in capsys.readouterr().err
    assert not any(tmp_path.iterdir())
