"""A pydantic validation error as one readable config line: its dotted path through the kind's
model (the union tags pydantic inserts dropped), what is wrong, and a "did you mean" or what the
key needs. `rlgen.config_load` says every problem of a config with these lines."""

from __future__ import annotations

import difflib
import re
import typing
from typing import Any, Mapping, Sequence

from pydantic import BaseModel

from rlgen.config_backbones import CustomBackbone
from rlgen.config_values import _members


def _describe(err: Mapping[str, Any], model: type[BaseModel], raw: Mapping[str, Any], under: str = "") -> str:
    """One readable line for one pydantic error: dotted path, message, suggestion. `under`: the
    section `model` is checked as (`eval_env`, for an EnvConfig), which the path starts with."""
    loc, known = _walk(model, err["loc"], raw)
    loc = [*under.split("."), *loc] if under else loc
    path = ".".join(str(p) for p in loc) or "<root>"
    error_type, msg = err["type"], err["msg"]
    if error_type == "extra_forbidden":
        hint = _did_you_mean(str(loc[-1]), known)
        listed = f"; allowed here: {', '.join(known)}" if known else ""
        return f"{path}: unknown key{hint}{listed}"
    if err.get("input") is None and (error_type.endswith("_type") or error_type == "literal_error"):
        return _needs_value(path, loc, error_type, msg)
    if error_type == "string_too_long":
        limit, why = (err.get("ctx") or {}).get("max_length"), " (W&B's limit)" if path.startswith("logging.wandb") else ""
        return f"{path}: {len(err['input'])} characters, at most {limit} allowed{why}; shorten it"
    if error_type == "literal_error":
        expected = re.findall(r"'([^']*)'", msg.split("Input should be", 1)[-1])
        return f"{path}: {err['input']!r} is not a valid choice{_did_you_mean(str(err['input']), expected)}; {msg}"
    if error_type == "union_tag_invalid":
        tags = re.findall(r"'([^']*)'", msg.split("expected tags:", 1)[-1])
        tag = (err.get("ctx") or {}).get("tag", "?")
        return f"{path}.type: unknown type {tag!r}{_did_you_mean(str(tag), tags)}; known: {', '.join(tags)}"
    if error_type == "missing":
        return f"{path}: required key is missing"
    if error_type == "yaml_bool":  # true/false where a number or text is declared (Section._no_stray_bools)
        return f"{path}: {msg}"
    if error_type == "string_type" and isinstance(err.get("input"), (int, float)):  # a bool is caught before
        # YAML 1.1 reads 2024, 1e5, 0x1F, 1_0 and even 12:30 (base 60) as numbers unless quoted
        return (f"{path}: expected text, got the number {err['input']!r} (YAML reads unquoted figures such as "
                f"2024, 1e5 or 12:30 as numbers); put the value in quotes to keep it as text")
    if error_type == "finite_number":  # inf, -inf, 1e400 (or NaN) where only a finite number means something
        return f"{path}: must be a finite number (got {err.get('input')!r})"
    if error_type == "value_error":  # a validator's own message says what and how to fix it
        return f"{path}: {msg.removeprefix('Value error, ')}"
    return f"{path}: {msg} (got {err.get('input')!r})"


# what a key that takes no null needs, by pydantic's error for the None it got instead
_NEEDS = {"string_type": "text", "int_type": "a whole number", "float_type": "a number", "bool_type": "true or false",
          "list_type": "a list", "tuple_type": "a list", "set_type": "a list", "dict_type": "a mapping",
          "model_type": "a mapping", "model_attributes_type": "a mapping"}


def _needs_value(path: str, loc: Sequence[Any], error_type: str, msg: str) -> str:
    """A key given no value (`key=` on the command line, `key:` or `null` in YAML) where the config
    takes no null: what it needs, not pydantic's "Input should be a valid string"."""
    if error_type == "literal_error":
        what = "one of " + ", ".join(re.findall(r"'[^']*'", msg.split("Input should be", 1)[-1]))
    else:
        what = _NEEDS.get(error_type, "a value")
    how = "a null in the list" if loc and isinstance(loc[-1], int) else f"an empty override `{path}=` or null"
    return f"{path}: needs a value, and got none ({how}): give {what}"


def _walk(model: type[BaseModel], loc: Sequence[Any], raw: Any) -> tuple[list[Any], list[str]]:
    """Follow `loc` through the model's types: drop the union tags pydantic inserts into it, and
    return the cleaned path with the field names accepted by the model holding its last key."""
    types: list[Any] = [model]
    data: Any = raw
    path: list[Any] = []
    holder: list[Any] = [model]
    for part in loc:
        flat = [m for t in types for m in _members(t)]
        models = [m for m in flat if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [m for m in models if part in typing.get_args(_ann(m, "type"))
                  or (part == "custom" and m is CustomBackbone)]
        if isinstance(part, str) and tagged and not any(part in m.model_fields for m in models):
            types = tagged  # the discriminator value pydantic put in loc: not a key of the config
            continue
        holder = models
        path.append(part)
        data = data.get(part) if isinstance(data, Mapping) else (
            data[part] if isinstance(data, list) and isinstance(part, int) and part < len(data) else None)
        nxt: list[Any] = []
        for m in flat:
            if m in models and isinstance(part, str):
                if part in m.model_fields:
                    nxt.append(m.model_fields[part].annotation)
            elif typing.get_origin(m) in (list, tuple, dict):
                nxt.extend(typing.get_args(m)[-1:])
        types = nxt
    known: set[str] = set()
    for m in holder:
        known.update(m.model_fields)
    return path, sorted(known)


def _ann(m: type[BaseModel], field: str) -> Any:
    f = m.model_fields.get(field)
    return f.annotation if f is not None else None


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
