"""Pretraining kinds: `autoencoder` and `supervised`, whose backbones move into other roles (rlgen/transfer.py)."""
