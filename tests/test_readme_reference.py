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


def _api_rows() -> list[tuple[str, str]]:
    """(dotted name, parameter text) of every `rlgen.X(...)` the README's Python API table shows."""
    text = README.read_text()
    table = text[text.index("## Python API"):text.index("## Configs")]
    rows = [line for line in table.splitlines() if line.startswith("| `rlgen.")]
    return [(m[1], m[2].replace("\\|", "|")) for row in rows
            for m in re.finditer(r"`(rlgen(?:\.\w+)+)\(([^`]*?)\)(?: -> \w+)?`", row.split("` |")[0] + "`")]


def _shown(params: str) -> list[tuple[str | None, bool]]:
    """Each parameter the README shows: (its name, or None for a placeholder such as "sb3" | "onnx";
    whether it is keyword-only)."""
    shown, keyword_only = [], False
    for token in (t.strip() for t in re.split(r",(?![^(]*\))", params) if t.strip()):
        if token == "*":
            keyword_only = True
            continue
        name = token.split("=")[0].strip()
        shown.append((name if name.isidentifier() else None, keyword_only))
    return shown


def test_the_readme_shows_each_api_function_with_its_parameters():
    """Each function of the Python API table as the code has it: parameter names in order, and which
    are keyword-only (a name the README gave that the code calls otherwise was a TypeError)."""
    import importlib
    import inspect

    rows = _api_rows()
    assert len(rows) >= 6, rows
    for dotted, params in rows:
        module, _, name = dotted.rpartition(".")
        fn = getattr(importlib.import_module(module), name)
        code = [(p.name, p.kind is inspect.Parameter.KEYWORD_ONLY) for p in inspect.signature(fn).parameters.values()]
        shown = _shown(params)
        assert len(shown) == len(code), (dotted, shown, code)
        for (name, kw), (real, real_kw) in zip(shown, code):
            assert name in (None, real) and kw == real_kw, (dotted, shown, code)
