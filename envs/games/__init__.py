"""PettingZoo game adapters: two-player turn-based games seen from one seat, and two-sided team games."""

from rlgen.envs.games.aec import (DrawOpponent, GameFactory, Opponent, OnResult, TurnBasedEnv, check_game, fixed_opponent, game_name, legal_mask,
                                  make_game, planes_to_image, play_game)

__all__ = ["DrawOpponent", "GameFactory", "Opponent", "OnResult", "TurnBasedEnv", "check_game", "fixed_opponent", "game_name", "legal_mask",
           "make_game", "planes_to_image", "play_game"]
