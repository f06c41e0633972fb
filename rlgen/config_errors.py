"""A pydantic validation error as one readable config line: its dotted path through the kind's
model (the union tags pydantic inserts dropped), what is wrong, and a "did you mean" or what the
key needs; and what in a config's YAML text its reader would crash on or
misread (`scan_yaml`, one walk for both). `rlgen.config_load` says every problem of a config with these lines."""

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
    if error_type == "union_mismatch":  # every member of a union refused it (_merge_unions)
        got = "nothing (an empty override or null)" if err.get("input") is None else repr(err["input"])
        return f"{path}: expected {msg}, got {got}"
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
    path, known, _ = _follow(model, loc, raw)
    return path, known


def _follow(model: type[BaseModel], loc: Sequence[Any], raw: Any) -> tuple[list[Any], list[str], int | None]:
    """`_walk`, and the index in `loc` of the first union member's name (`str`, `dict[str,list[int]]`,
    a model's class name) pydantic put there to say which member refused the value: None when none."""
    types: list[Any] = [model]
    data: Any = raw
    path: list[Any] = []
    holder: list[Any] = [model]
    member_at = None
    for i, part in enumerate(loc):
        flat = [m for t in types for m in _members(t)]
        models = [m for m in flat if isinstance(m, type) and issubclass(m, BaseModel)]
        tagged = [m for m in models if part in typing.get_args(_ann(m, "type"))
                  or (part == "custom" and m is CustomBackbone)]
        if isinstance(part, str) and tagged and not any(part in m.model_fields for m in models):
            types = tagged  # the discriminator value pydantic put in loc: not a key of the config
            continue
        if _member_name(part, flat, models, data):
            member_at = i if member_at is None else member_at
            types = [m for m in flat if m is not type(None)]
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
    return path, sorted(known), member_at


def _member_name(part: Any, flat: list[Any], models: list[Any], data: Any) -> bool:
    """Whether `part` of a loc names a member of the union at this point (pydantic's `str`,
    `list[int]`, a class name) rather than a key of the config: no field of a model there, and
    no key of the data."""
    members = [m for m in flat if m is not type(None)]  # X | None is no union of tags to pydantic
    return (isinstance(part, str) and len(members) > 1 and not any(part in m.model_fields for m in models)
            and not (isinstance(data, Mapping) and part in data))


def _merge_unions(errors: Sequence[Mapping[str, Any]], model: type[BaseModel], raw: Any) -> list[Mapping[str, Any]]:
    """pydantic tries each member of a union (`str | dict[str, ...]`) and, when every one refuses the
    value, says why each did: one mistake as several lines, each under a member's name. Where a
    member took the value's shape (a mapping, refused only inside), its errors alone are the
    mistake; else the members' refusals are one error saying what the value may be."""
    sites: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for err in errors:
        if (at := _follow(model, err["loc"], raw)[2]) is not None:
            sites.setdefault(tuple(err["loc"][:at]), []).append(err)
    merged: list[Mapping[str, Any]] = []
    for err in errors:
        at = _follow(model, err["loc"], raw)[2]
        if at is None:
            merged.append(err)
        elif (group := sites.pop(tuple(err["loc"][:at]), None)) is not None:  # the union's first error
            inside = [e for e in group if len(e["loc"]) > at + 1]
            merged += inside or [_one_of(tuple(err["loc"][:at]), group)]
    return merged


def _one_of(loc: tuple[Any, ...], group: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Every member of a union refused the value at `loc`: one error naming what each takes."""
    wants = []
    for err in group:
        if err["type"] == "literal_error":
            wants.append("one of " + ", ".join(re.findall(r"'[^']*'", err["msg"].split("Input should be", 1)[-1])))
        else:
            wants.append(_NEEDS.get(err["type"]) or _NEEDS.get(err["type"].replace("_parsing", "_type"))
                         or err["msg"].removeprefix("Value error, "))
    return {"type": "union_mismatch", "loc": loc, "msg": " or ".join(dict.fromkeys(wants)),
            "input": group[0].get("input")}


def _ann(m: type[BaseModel], field: str) -> Any:
    f = m.model_fields.get(field)
    return f.annotation if f is not None else None


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


MAX_DEPTH = 32  # levels of mappings and lists: a config has a handful; OmegaConf's YAML reader recurses per level

# what YAML 1.1 (OmegaConf's reader) reads as numbers no one means: 010 or 017 as octal (8, 15), 1:30 as
# base 60 (90); `--seeds 010` is seed 10
_OCTAL = re.compile(r"[-+]?0[0-7_]+")
_BASE_60 = re.compile(r"[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?")


def scan_yaml(text: str, under: str = "") -> tuple[str | None, dict[str, str]]:
    """One walk of this YAML's parser events (which recurse nowhere), before a reader builds it:
    nesting past MAX_DEPTH (thousands of levels take the interpreter down with a segfault in
    OmegaConf's reader, not an error), and {dotted key: problem} of every unquoted value that YAML
    1.1 reads as an octal or base-60 number (`seed: 017` is 15). `under`: the key the text is the
    value of (an override's). Broken YAML gives neither: the reader says what is wrong with it."""
    import yaml

    found: dict[str, str] = {}
    # per open collection: [key or index of the item being read, a mapping, a key comes next, itself a key]
    stack: list[list[Any]] = []
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.CollectionStartEvent):
                if len(stack) == MAX_DEPTH:
                    return (f"nested more than {MAX_DEPTH} levels deep (line {event.start_mark.line + 1}); a config "
                            "is a few levels of keys and lists: is it the right file?"), found
                as_key = bool(stack and stack[-1][1] and stack[-1][2])  # `? [a, b]`: a complex key
                if as_key:
                    stack[-1][0], stack[-1][2] = None, False
                mapping = isinstance(event, yaml.MappingStartEvent)
                stack.append([None if mapping else 0, mapping, True, as_key])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                if stack.pop()[3]:
                    continue  # a key's collection: its mapping's value comes next
            elif not isinstance(event, yaml.NodeEvent):  # the stream's and documents' own events
                continue
            elif stack and stack[-1][1] and stack[-1][2]:  # a mapping's key: the path of the value after it
                stack[-1][0], stack[-1][2] = getattr(event, "value", None), False
                continue
            elif isinstance(event, yaml.ScalarEvent) and event.implicit[0] and (problem := _misread(event.value)):
                found[".".join(str(k) for k in [under, *(f[0] for f in stack)] if k != "")] = problem
            if stack and stack[-1][1]:  # the item is read: the mapping's next key comes next
                stack[-1][2] = True
            elif stack:  # or the list's next item
                stack[-1][0] += 1
    except yaml.YAMLError:
        return None, {}
    return None, found


def _misread(figure: str) -> str | None:
    """What is wrong with a plain (unquoted) YAML scalar that reads as an octal or base-60 number."""
    import yaml

    octal = _OCTAL.fullmatch(figure) is not None
    if not octal and _BASE_60.fullmatch(figure) is None:
        return None
    value = yaml.safe_load(figure)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (octal and value == int(figure)):
        return None  # 07 is 7 either way
    how = "a leading 0 makes it octal" if octal else "a colon makes it base 60"
    plain = (figure[0] if figure[0] in "+-" else "") + (figure.lstrip("+-").lstrip("0_") or "0") if octal else value
    return (f"{figure} reads as the number {value} (YAML 1.1: {how}); write the number plainly, e.g. {plain}, or put "
            f"it in quotes ('{figure}') to keep it as text")
