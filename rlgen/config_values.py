"""What a config value may be, for every section of every kind: `Section`, the base model that
refuses unknown keys, non-finite floats and YAML's true/false where no flag is declared; NaN anywhere
in a config tree (`nan_values`); finite numbers in a free-form mapping (`finite_numbers`); counts,
seeds, study names, device names and local paths. `rlgen.config` re-exports these names.
"""

from __future__ import annotations

import math
import os
import re
import types
import typing
from pathlib import PurePath
from typing import Annotated, Any, Literal, Mapping, Sequence, Union

import numpy as np
from pydantic import (AfterValidator, BaseModel, ConfigDict, ValidationError, ValidatorFunctionWrapHandler,
                      model_validator)
from pydantic_core import InitErrorDetails, PydanticCustomError

from rlgen.errors import RlgenError

MAX_COUNT = 1_000_000  # episodes, games, trials, processes in one go: more is a typo, not a plan
MAX_SEED = 2**32 - 1  # a seed is 0 to this: numpy's range, which SB3 seeds with

# A sweep's study name (its file's `study:`, `--study`) names the folder <logging.dir>/<study>/ and its
# trials: letters, digits, _ . - as a config's name, and not only dots
STUDY_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


def is_study_name(name: Any) -> bool:
    return isinstance(name, str) and STUDY_NAME.fullmatch(name) is not None and set(name) != {"."}


def whole_count(value: Any, what: str) -> int:
    """`value` as a count from 1 to MAX_COUNT (bool, float and text refused); else one RlgenError line."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= MAX_COUNT:
        raise RlgenError(f"{what} must be a whole number from 1 to {MAX_COUNT:,}, got {value!r}")
    return int(value)


def _members(t: Any) -> list[Any]:
    """Flatten Annotated / Union / Optional into the plain types they can be."""
    origin = typing.get_origin(t)
    if origin is Annotated:
        return _members(typing.get_args(t)[0])
    if origin in (Union, types.UnionType):
        return [m for a in typing.get_args(t) for m in _members(a)]
    return [t]


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, defaults are validated too, a float
    field takes finite numbers only (`inf`, `.nan`, `1e400` are refused where the field is declared;
    a field where inf means "off" says so with `Field(allow_inf_nan=True)`), and true/false goes only
    where a flag (or anything) is declared (`_no_stray_bools`)."""

    # ser_json_inf_nan: an inf in a free-form mapping (`agent.hyperparams.max_grad_norm: .inf`, env.kwargs)
    # stays inf in `model_dump(mode="json")`, which a run's config.yaml and checkpoint are written from;
    # pydantic's default wrote None there, and the run could not be opened again
    model_config = ConfigDict(extra="forbid", validate_default=True, allow_inf_nan=False, ser_json_inf_nan="constants")

    @model_validator(mode="wrap")
    @classmethod
    def _no_stray_bools(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        # pydantic's lax mode reads True as 1 in an int or float field (`optim.lr=true` would train
        # at lr 1.0); strict mode would refuse that but also `total_steps: 1e5`, which YAML reads as
        # a float and the README allows. So only a bool is checked, wherever it sits in a field. (A
        # model validator, not a field one: pydantic allows no field validator on a union's tag.)
        found = [(key, *f) for key, value in data.items() if (field := cls.model_fields.get(key))
                 for f in _stray_bools([field.annotation], value)] if isinstance(data, Mapping) else []
        if not found:
            return handler(data)
        ours = [InitErrorDetails(type=PydanticCustomError("yaml_bool", "{problem}", {"problem": problem}),
                                 loc=(key, *loc), input=bad) for key, loc, bad, problem in found]
        try:  # the section's other problems too, so that every problem is said at once
            handler(data)
            theirs = []
        except ValidationError as e:
            theirs = [InitErrorDetails(type=PydanticCustomError(err["type"], err["msg"], err.get("ctx")),
                                       loc=err["loc"], input=err["input"]) for err in e.errors()
                      if not any(err["loc"][:len(o["loc"])] == o["loc"] for o in ours)]
        raise ValidationError.from_exception_data(cls.__name__, [*ours, *theirs])


_YAML_BOOLS = {"yes", "no", "on", "off", "true", "false"}


def _stray_arguments(builder: Any, model: type[BaseModel] | None, given: Mapping[str, Any]) -> list[str]:
    """`_stray_bools` for a plugin backbone's arguments: against its `config_model`'s fields, or
    else its builder's annotated parameters (a builder whose hints do not resolve is not checked)."""
    if model is not None:
        hints = {k: f.annotation for k, f in model.model_fields.items()}
    else:
        try:
            target = getattr(builder, "func", builder)
            hints = typing.get_type_hints(target.__init__ if isinstance(target, type) else target)
        except Exception:  # a builtin, or a hint naming what the plugin does not import
            hints = {}
    return [f"{'.'.join(map(str, (key, *loc)))}: {problem}" for key, value in given.items() if key in hints
            for loc, _, problem in _stray_bools([hints[key]], value)]


def _stray_bools(annotations: list[Any], value: Any,
                 loc: tuple[Any, ...] = ()) -> list[tuple[tuple[Any, ...], bool, str]]:
    """(location, value, problem) of every True/False in `value` (lists, tuples and mappings
    included) where none of `annotations` takes a bool: where a number or text is expected. Models
    are left to their own check; `Any` takes a bool (free-form sections have their own checks)."""
    members = [m for a in annotations for m in _members(a)]
    if any(m is Any or (isinstance(m, type) and issubclass(m, BaseModel)) for m in members):
        return []
    if isinstance(value, bool):
        choices = [a for m in members if typing.get_origin(m) is Literal for a in typing.get_args(m)]
        if bool in members or any(a is value for a in choices):
            return []
        if any(isinstance(m, type) and issubclass(m, (int, float)) for m in members) or any(
                isinstance(a, (int, float)) and not isinstance(a, bool) for a in choices):
            return [(loc, value, f"expected a number, got {value}")]
        if str in members or any(isinstance(a, str) for a in choices):
            expected = "text" if str in members else f"one of {', '.join(repr(a) for a in choices)}"
            # YAML 1.1 (OmegaConf's reader) turns yes/no/on/off/true/false into a bool unless quoted
            quote = str in members or any(str(a).lower() in _YAML_BOOLS for a in choices)
            return [(loc, value, f"expected {expected}, got {value} (YAML reads an unquoted yes/no, on/off or "
                                 f"true/false as true/false)" + (f"; put the word in quotes (e.g. "
                                 f"'{'yes' if value else 'no'}') to keep it as text" if quote else ""))]
        return []
    if isinstance(value, (list, tuple)):
        found = []
        for i, item in enumerate(value):
            inner = [_item_type(m, i) for m in members if typing.get_origin(m) in (list, tuple, set, frozenset)]
            found += _stray_bools([t for t in inner if t is not None], item, (*loc, i))
        return found
    if isinstance(value, Mapping):
        inner = [typing.get_args(m)[-1] for m in members if typing.get_origin(m) is dict and typing.get_args(m)]
        return [f for key, item in value.items() for f in _stray_bools(inner, item, (*loc, key))]
    return []


def _item_type(container: Any, i: int) -> Any:
    """The type of item `i` of a list[X] / tuple[X, Y] / tuple[X, ...] annotation; None past a tuple's end."""
    args = typing.get_args(container)
    if not args:
        return Any
    if typing.get_origin(container) is not tuple or (len(args) == 2 and args[1] is Ellipsis):
        return args[0]
    return args[i] if i < len(args) else None


def _is_nan(value: Any) -> bool:
    """A NaN float, or a `lin_nan` schedule."""
    if isinstance(value, str) and value.startswith("lin_"):
        value = _schedule_start(value)
    return isinstance(value, float) and math.isnan(value)


def _schedule_start(value: str) -> float | None:
    """The start of a `lin_X` schedule (`lin_0.2` -> 0.2), None when X is no number."""
    try:
        return float(value[4:])
    except ValueError:
        return None


def nan_values(tree: Any, path: str = "") -> list[tuple[str, Any]]:
    """(dotted key, value) of every NaN number anywhere in a plain config tree: in typed fields and in
    free-form ones alike (agent.hyperparams, data.kwargs, env.kwargs, a plugin backbone's arguments),
    lists included; a `lin_nan` schedule too. NaN is no setting anywhere: it compares false with
    everything, so a check such as `lr > 0` or an early-stop target never sees it."""
    if isinstance(tree, Mapping):
        return [found for key, value in tree.items() for found in nan_values(value, f"{path}.{key}" if path else str(key))]
    if isinstance(tree, (list, tuple)):
        return [found for i, value in enumerate(tree) for found in nan_values(value, f"{path}.{i}" if path else str(i))]
    return [(path or "<root>", tree)] if _is_nan(tree) else []


def finite_numbers(inf_means_off: Sequence[str] = ()) -> AfterValidator:
    """For a free-form mapping of numbers (an algorithm's own arguments): every number in it must be
    finite (nested ones, `lin_X` schedule starts and text that float() reads, "inf", included),
    except that a top-level key in `inf_means_off` may be +inf (where the argument reads it as "no
    limit", e.g. a gradient-norm clip). Each problem is reported at its own key:
    `agent.hyperparams.clip_range: must be a finite number (got inf)`."""
    off = frozenset(inf_means_off)

    def bad(value: Any, key: Any) -> bool:
        number = value
        if isinstance(value, str):  # a lin_X schedule's start; "inf" / "nan" as text, which float() reads
            number = _schedule_start(value) if value.startswith("lin_") else _schedule_start(f"lin_{value}")
        if isinstance(number, bool) or not isinstance(number, float) or math.isfinite(number):
            return False
        return not (number == math.inf and key in off)

    def walk(tree: Any, loc: tuple[Any, ...]) -> list[InitErrorDetails]:
        items = tree.items() if isinstance(tree, Mapping) else enumerate(tree) if isinstance(tree, (list, tuple)) else []
        found: list[InitErrorDetails] = []
        for key, value in items:
            if bad(value, key if not loc else None):  # only the top-level arguments may mean "off" by inf
                found.append(InitErrorDetails(type=PydanticCustomError("finite_number", "must be a finite number"),
                                              loc=(*loc, key), input=value))
            else:
                found += walk(value, (*loc, key))
        return found

    def check(tree: Any) -> Any:
        if problems := walk(tree, ()):
            raise ValidationError.from_exception_data("finite numbers", problems)
        return tree

    return AfterValidator(check)


def device_problem(device: Any) -> str | None:
    """What is wrong with a device name (the config's `device`, `rlgen.load_run(device=...)`), or None."""
    if not isinstance(device, str) or not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", device):
        return f"device must be auto, cpu, mps, cuda or cuda:N, not {device!r}"
    return None


def _absolute_if_found(path: str) -> str:
    """`~` expanded (a shell leaves it in `demos.path=~/x`), and a relative path that names something
    from the current directory made absolute; anything else (an absolute path, a Minari dataset id,
    a path not there) as written. The run's config.yaml then names the same demos or run from any
    directory: `--resume`, `rlgen eval`, `load_run`."""
    path = os.path.expanduser(path)
    return os.path.abspath(path) if not os.path.isabs(path) and os.path.exists(path) else path


def _absolute(path: str) -> str:
    """`~` expanded and made absolute, whether it exists yet or not; "" (the default) as it is."""
    return os.path.abspath(os.path.expanduser(path)) if path else path


# a file or directory a config names (demos.path, init.run, bc.init_from): see `_absolute_if_found`
LocalPath = Annotated[str, AfterValidator(_absolute_if_found)]
# a folder a run may make (a cache): the same folder from any directory the run is opened in
FolderPath = Annotated[str, AfterValidator(_absolute)]


def plain_values(value: Any) -> Any:
    """A mapping from Python code with numpy numbers (`np.int64(3)`, what arithmetic on arrays
    gives) and paths (`pathlib.Path`) as the plain numbers and text a YAML file would hold:
    OmegaConf takes neither ("not a supported primitive type")."""
    if isinstance(value, Mapping):
        return {k: plain_values(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_values(v) for v in value]
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.generic):
        return value.item()  # np.int64, np.float32, np.bool_, ...: arrays stay as they are (refused)
    return value
