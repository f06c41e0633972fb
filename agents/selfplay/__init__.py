"""Self-play on PettingZoo games (`kind: selfplay`): a league of frozen snapshots, reference
opponents, Bradley-Terry Elo ratings, and MaskablePPO learners on rlgen backbones."""
