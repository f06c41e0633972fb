"""The policy as a move function reads observations as games give them."""

from pathlib import Path

import numpy as np
import torch

from rlgen.agents.selfplay.experiment import SelfPlayExperiment
from rlgen.api import load_config
from rlgen.logging import Logger
from rlgen.runner import RunContext

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "selfplay_tictactoe.yaml"
RANDOM_ONLY = ["league.references=[random]", "ratings.references=[random]",
               "train.early_stop.metric=eval/win_rate_vs_random", "train.early_stop.mode=max"]
TINY = ["game.n_envs=2", "agent.hyperparams.n_steps=32", "agent.hyperparams.batch_size=64",
        "agent.hyperparams.n_epochs=1", "league.snapshot_every=32", "ratings.games_per_pair=2",
        "train.eval_episodes=4", "logging.wandb.mode=disabled"]


def test_a_game_that_observes_flipped_views_trains_evaluates_and_plays_snapshots(tmp_path):
    # chess_v6 turns its board to the mover's side with np.flip: a view with a negative stride,
    # which torch.as_tensor refuses
    cfg = load_config(CONFIG, [*RANDOM_ONLY, *TINY, "game.name=tests.envs.games.toy_games:flipped_nim"])
    exp = SelfPlayExperiment(cfg)
    exp.setup(RunContext(cfg, tmp_path, torch.device("cpu"), Logger([]), cfg.seed))
    exp.train_unit()
    exp.train_unit()  # against the snapshots taken at steps 0 and 32 too: each a policy player
    metrics = exp.evaluate()  # the agent and the snapshots, in the ratings
    assert 0 <= metrics["eval/win_rate_vs_random"] <= 1 and "eval/elo_latest_snapshot" in metrics

    observation = np.flip(np.eye(6, dtype=np.float32)[2])
    assert observation.strides[0] < 0
    player = exp.agent_player(deterministic=True)
    mask = np.array([True, True, False, False])
    assert player(observation, mask) == player(observation.copy(), mask)
    exp.close()
