"""rlgen's bundled configs, installed as package data: one YAML file = one runnable experiment."""
