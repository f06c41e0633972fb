"""Sweep files for `rlgen sweep`, installed as package data."""
