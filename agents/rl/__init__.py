"""SB3-backed RL agents with rlgen backbones (`kind: rl`)."""
