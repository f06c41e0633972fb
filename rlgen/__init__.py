"""rlgen: one set of torch backbones for RL agents and GANs, trained by one config-driven runner."""

__version__ = "0.1.0"
