"""`kind: gan` — generator and discriminator built from rlgen backbones, trained by the shared runner."""
