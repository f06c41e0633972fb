"""The README's `kind: rl` reference names every key the schema has: it promises "Every key"."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import rlgen

README = Path(__file__).resolve().parent.parent / "README.md"
FREE_FORM = ("env.kwargs", "env.wrappers", "env.normalize", "env.history", "eval_env", "agent.hyperparams",
             "agent.policy.backbone", "agent.policy.kwargs", "agent.policy.net_arch", "logging.wandb.tags",
             "optim.betas", "train.early_stop")  # values the block shows as one example, not key by key


def _keys(tree: object, prefix: str = "") -> set[str]:
    if not isinstance(tree, dict) or prefix.rstrip(".") in FREE_FORM:
        return {prefix.rstrip(".")}
    return {k for key, value in tree.items() for k in _keys(value, f"{prefix}{key}.")}


def _reference_block() -> dict:
    text = README.read_text()
    section = text[text.index("### Reference (`kind: rl`)"):]
    return yaml.safe_load(re.search(r"```yaml\n(.*?)\n```", section, re.S).group(1))


def test_the_rl_reference_names_every_key_of_the_schema():
    block = _reference_block()
    cfg = rlgen.load_config({"name": "x", "kind": "rl", "env": {"id": "CartPole-v1"}, "agent": {"algo": "ppo"},
                             "train": {"total_steps": 100}})
    schema = _keys(cfg.model_dump(mode="json"))
    shown = _keys(block)
    assert schema - shown == set(), "keys the README's reference leaves out"
    assert shown - schema == set(), "keys the README's reference names that the schema has not"
