"""Games with chance under `kind: selfplay`: evaluation, ratings and tournaments deal every game from
seeds of their own, so runs repeat, resume exactly and evaluate a checkpoint alike every time.

`dealt_nim` deals its pile and its first mover as PettingZoo's rlcard games (leduc_holdem_v4) deal
cards: from a generator seeded only by `reset(seed=...)`, otherwise from the OS's entropy.
"""

from pathlib import Path

import numpy as np
import torch

from rlgen import checkpoint
from rlgen.agents.selfplay.experiment import SelfPlayExperiment, versus
from rlgen.agents.selfplay.ratings import deal_seeds, round_robin
from rlgen.api import load_run
from rlgen.cli import main
from rlgen.envs.games import make_game
from rlgen.process import rng_state, set_rng_state
from tests.agents.selfplay.experiments import plain, set_up

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "selfplay_tictactoe.yaml"
DEALT = "tests.envs.games.toy_games:dealt_nim"
TINY = [f"game.name={DEALT}", "league.references=[random]", "ratings.references=[random]",
        "train.early_stop.metric=eval/win_rate_vs_random", "train.early_stop.mode=max",
        "game.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64",
        "agent.hyperparams.n_epochs=1", "league.snapshot_every=32", "ratings.games_per_pair=6",
        "train.eval_episodes=12", "logging.wandb.mode=disabled"]


def _experiment(tmp_path):
    return set_up(SelfPlayExperiment, CONFIG, TINY, tmp_path)


def _weights(exp):
    return {k: v.clone() for k, v in exp.model.policy.state_dict().items()}


def _same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_two_fresh_runs_of_a_game_with_chance_evaluate_and_train_alike(tmp_path):
    runs = []
    for i in range(2):
        exp = _experiment(tmp_path / str(i))
        first = exp.train_unit()
        evaluated = plain(exp.evaluate())
        # the evaluation draws the opponents' dice as long as its games last: the next unit's
        # opponents (snapshots, random) draw from the same generator
        rng_after = exp.opponent_rng.bit_generator.state
        second = exp.train_unit()
        runs.append((first, evaluated, rng_after, second, _weights(exp)))
        exp.close()
    (f1, e1, r1, s1, w1), (f2, e2, r2, s2, w2) = runs
    assert f1 == f2
    assert e1 == e2 and r1 == r2
    assert s1 == s2 and _same_weights(w1, w2)


def test_a_resumed_run_evaluates_and_trains_as_the_uninterrupted_one(tmp_path):
    exp = _experiment(tmp_path / "a")
    exp.train_unit()
    checkpoint.save(tmp_path / "ckpt", exp.global_step, {"experiment": exp.state_dict()})
    saved_rng = rng_state()
    uninterrupted = (plain(exp.evaluate()), exp.train_unit(), _weights(exp))

    resumed = _experiment(tmp_path / "b")
    resumed.load_state_dict(checkpoint.load(tmp_path / "ckpt")["experiment"])
    set_rng_state(saved_rng)
    assert (plain(resumed.evaluate()), resumed.train_unit())[:2] == uninterrupted[:2]
    assert _same_weights(_weights(resumed), uninterrupted[2])
    exp.close(), resumed.close()


def test_evaluating_one_checkpoint_plays_the_same_games_every_time(tmp_path, quiet):
    args = [*TINY, *quiet, f"logging.dir={tmp_path}", "train.total_steps=64", "train.eval_every=64"]
    assert main(["train", str(CONFIG), *args]) == 0
    (run_dir,) = tmp_path.glob("*/*")
    seen = []
    for _ in range(2):  # two loads (two `rlgen eval` calls), each evaluating twice
        run = load_run(run_dir, trust=True)  # the toy game is named by its import path
        seen += [plain(run.evaluate()), plain(run.evaluate())]
        run.close()
    assert all(m == seen[0] for m in seen[1:])


def test_every_deal_is_played_from_both_seats():
    assert deal_seeds(7, 5) == [7, 7, 8, 8, 9]
    game = make_game(DEALT)
    first_legal = lambda obs, mask: int(np.flatnonzero(mask)[0])  # noqa: E731
    last_legal = lambda obs, mask: int(np.flatnonzero(mask)[-1])  # noqa: E731
    # deterministic players on the same deals: the same outcomes, whenever they are played
    assert versus(game, first_legal, last_legal, 10, seed=3) == versus(game, first_legal, last_legal, 10, seed=3)
    results = round_robin(game, {"a": first_legal, "b": last_legal, "c": first_legal}, [("a", "b"), ("c", "b")], 10,
                          seed=3)
    assert results[("a", "b")] == results[("c", "b")]  # every pair meets on the same deals
