"""What learns: SB3-backed RL agents, GAN players, self-play leagues."""
