"""Imitation from demonstrations: behaviour cloning (`kind: bc`) and adversarial imitation, GAIL and AIRL
(`kind: imitation`), with rlgen's backbones as policy and discriminator."""
