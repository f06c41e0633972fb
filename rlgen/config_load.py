"""Reading a config: YAML (a file or a mapping) through OmegaConf, dotted command-line overrides and
`${...}` interpolation, then validation against the kind's model (`rlgen.config`), with every
problem said at once as one line each: its dotted path, what is wrong, and a "did you mean".
`rlgen.config` re-exports `load_config`, `save_config` and `check_overrides`.
"""

from __future__ import annotations

import io
import re
import reprlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from rlgen.config_errors import _describe, _did_you_mean, _merge_unions, _walk, scan_yaml
from rlgen.config_values import nan_values, plain_values
from rlgen.errors import ConfigError, RlgenError
from rlgen.registry import KINDS

if TYPE_CHECKING:  # rlgen.config imports this module's loaders
    from rlgen.config import ExperimentConfig


def load_config(
    source: str | Path | Mapping[str, Any],
    overrides: Sequence[str] = (),
    *,
    kinds: Mapping[str, type[ExperimentConfig]] | None = None,
    interpolation: bool = True,
) -> ExperimentConfig:
    """Read a YAML file (or a mapping), apply `a.b=c` overrides, validate against its kind's model.
    The kind's model comes from `kinds` when given, else from the kinds registry (`kind:` may be a
    registered name or an import path, `mypkg.kinds:MyKind`). `interpolation=False` (a run's
    config.yaml, which may come from anyone) refuses `${...}` in the file: OmegaConf's resolvers
    can read environment variables."""
    check_overrides(overrides)
    where = str(source) if not isinstance(source, Mapping) else "<config>"
    raw, misread = _read(source, overrides, where, interpolation)
    model = _kind_model(raw.get("kind"), kinds, where)
    nans = {path: f"{path}: must be a number, not NaN (got {value!r})" for path, value in nan_values(raw)}
    try:
        cfg = model.model_validate(raw)
        errors: list[Any] = []
    except ValidationError as e:
        errors = _merge_unions(e.errors(), model, raw)
    if not errors and not nans and not misread:
        return cfg
    problems: list[str] = []
    paths: list[str] = []
    for err in errors:
        path = ".".join(str(p) for p in _walk(model, err["loc"], raw)[0])
        if path in nans:  # a NaN the schema refused too is said once, as NaN
            if path in paths:
                continue
            problems.append(nans[path])
        else:
            problems.append(_describe(err, model, raw))
        paths.append(path)
    # a figure read as octal or base 60 where the schema refused that number too (text expected) is said as
    # the schema says it; where the number was taken (seed=010 as 8), the misreading is the problem
    for path, problem in [*nans.items(), *((p, f"{p}: {m}") for p, m in misread.items())]:
        if path not in paths:
            problems.append(problem)
            paths.append(path)
    error = ConfigError(where, problems)
    try:  # the file alone, to salvage values from: its `${...}` may name a key only an override sets
        base = _read(source, [], where, interpolation)[0] if overrides else {}
    except RlgenError:
        base = {}
    error.salvaged, error.paths = _salvage(model, raw, base, paths), paths
    raise error from None


def check_overrides(overrides: Any) -> None:
    """`overrides` is a list (or tuple) of `key=value` strings; anything else is refused in one line."""
    if isinstance(overrides, (str, bytes)) or not isinstance(overrides, Sequence):
        raise RlgenError(f"overrides is a list of 'key=value' strings, e.g. ['seed=1'], not "
                         f"{type(overrides).__name__} {overrides!r}"[:300])
    bad = [o for o in overrides if not isinstance(o, str)]
    if bad:
        raise RlgenError(f"overrides is a list of 'key=value' strings, e.g. ['seed=1']; got {bad[0]!r} "
                         f"({type(bad[0]).__name__})"[:300])


def _salvage(model: type[ExperimentConfig], raw: dict, base: Mapping[str, Any],
             paths: Sequence[str]) -> ExperimentConfig | None:
    """The config with each failing key set back to the file's own value (when an override broke
    it) or left out (its default), if that validates: so that a kind's own checks can still
    report their problems beside the schema's, every problem at once."""
    import copy

    fixed = copy.deepcopy(raw)
    for path in paths:
        keys, node = path.split("."), fixed
        for i, key in enumerate(keys):  # an item of a list (`hidden.0`) is set back with its whole list
            node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, list):
                keys = keys[:i + 1]
                break
        holder, original = fixed, base
        for key in keys[:-1]:
            holder = holder.get(key) if isinstance(holder, dict) else None
            original = original.get(key) if isinstance(original, Mapping) else None
        if not isinstance(holder, dict):
            return None
        if isinstance(original, Mapping) and keys[-1] in original and not nan_values(original[keys[-1]]):
            holder[keys[-1]] = copy.deepcopy(original[keys[-1]])
        else:
            holder.pop(keys[-1], None)
    try:
        return model.model_validate(fixed)
    except ValidationError:
        return None


def _kind_model(kind: Any, kinds: Mapping[str, type[ExperimentConfig]] | None, where: str) -> type[ExperimentConfig]:
    if kind is None:
        raise ConfigError(where, [f"kind: required key is missing; known kinds: {', '.join(KINDS.names())}"])
    if kinds is not None:
        if kind not in kinds:
            raise ConfigError(where, [f"kind: unknown kind {kind!r}{_did_you_mean(str(kind), kinds)}; "
                                      f"known kinds: {', '.join(kinds)}"])
        return kinds[kind]
    try:
        model = getattr(KINDS.get(str(kind)), "config_model", None)
    except RlgenError as e:
        raise ConfigError(where, [f"kind: {e}"]) from None
    from rlgen.config import ExperimentConfig

    if not (isinstance(model, type) and issubclass(model, ExperimentConfig)):  # KINDS checks it too
        raise ConfigError(where, [f"kind: {kind!r} has no `config_model` that subclasses "
                                  "rlgen.config.ExperimentConfig; see rlgen.experiment.Experiment"])
    return model


def _read(source: str | Path | Mapping[str, Any], overrides: Sequence[str], where: str,
          interpolation: bool = True) -> tuple[dict, dict[str, str]]:
    """The config as plain data, overrides applied and `${...}` resolved, and {dotted key: problem} of
    each unquoted figure in it that YAML 1.1 misreads (`scan_yaml`)."""
    misread: dict[str, str] = {}
    try:
        if isinstance(source, Mapping):
            conf = OmegaConf.create(plain_values(dict(source)))
        else:
            path = Path(source)
            if not path.is_file():
                raise RlgenError(f"config file not found: {path} (see `rlgen list` for bundled configs)")
            text, misread = _text(path, where)
            try:
                conf = OmegaConf.load(io.StringIO(text))  # YAML through a safe loader: no Python tags
            except Exception as e:  # noqa: BLE001 - `42` or `true`: valid YAML, but one value OmegaConf refuses
                if not _bare_scalar(path):
                    raise
                raise RlgenError(f"{where}: the config must be a mapping of keys to values (key: value lines), "
                                 "not a single value") from e
            # OmegaConf reads a lone `word` as {word: None}: only such a file is read again to tell
            if OmegaConf.is_list(conf) or (len(conf) == 1 and next(iter(conf.values())) is None and _bare_scalar(path)):
                raise RlgenError(f"{where}: the config must be a mapping of keys to values (key: value lines), "
                                 f"not a {'list' if OmegaConf.is_list(conf) else 'single value'}")
        if not interpolation and (found := _interpolations(conf)):
            key, text = found[0]
            raise RlgenError(f"{where}: {key} is the interpolation {text!r}; a run's config.yaml is read without "
                             "resolvers (they can read environment variables): write the value itself")
        bad = [o for o in overrides if "=" not in o or o.startswith("=")]
        if bad:
            raise RlgenError(f"overrides must look like key.sub=value, got: {' '.join(bad)}")
        for override in overrides:
            in_value = _override(conf, override, where)
            at = override.partition("=")[0]  # its value replaces what was there, misread or not
            misread = {k: m for k, m in misread.items() if k != at and not k.startswith(f"{at}.")} | in_value
        raw = _resolved(conf, overrides, where)
    except OmegaConfBaseException as e:  # the file's own `${...}` that does not parse
        raise RlgenError(f"{where}: could not read the config: {_omegaconf_problem(e)}") from None
    except Exception as e:  # yaml.YAMLError and friends: say where, not how deep
        if isinstance(e, RlgenError):
            raise
        raise RlgenError(f"{where}: not valid YAML: {' '.join(str(e).split())}") from None
    if not isinstance(raw, dict):
        raise RlgenError(f"{where}: the config must be a mapping of keys to values")
    return raw, misread


def _override(conf: Any, override: str, where: str) -> dict[str, str]:
    """Apply one `key=value` override to `conf`, the value read as YAML; a mapping or list *replaces*
    what is there, so `agent.policy.backbone={type: transformer}` does not keep the MLP's `hidden`.
    A `${...}` in the value is kept as written: `_resolved` resolves it against the whole config, as
    one in the file (read alone, `${train.total_steps}` would name a key of nothing). Returns the
    figures in the value that YAML 1.1 misreads (`scan_yaml`)."""
    key, _, text = override.partition("=")
    problem, misread = scan_yaml(text, key)
    if problem is not None:
        raise RlgenError(f"{where}: override {reprlib.repr(override)}: {problem}")
    try:
        value = OmegaConf.to_container(OmegaConf.from_dotlist([f"v={text}"]), resolve=False)["v"]
    except Exception as e:  # yaml.YAMLError, or OmegaConf's grammar error for a broken `${`
        problem = (_omegaconf_problem(e, with_key=False) if isinstance(e, OmegaConfBaseException)
                   else " ".join(str(e).split()))
        raise RlgenError(f"{where}: override {override!r}: its value cannot be read (YAML, with ${{...}} for "
                         f"another key's value): {problem}") from None
    if (glued := _glued_key(value)) is not None:
        name, _, rest = glued.partition(":")
        raise RlgenError(f"{where}: override {override!r}: {glued!r} reads as one key with no value; YAML needs "
                         f"a space after the colon: {name}: {rest}")
    if (problem := _scalar_on_path(conf, key)) is not None:
        raise RlgenError(f"{where}: override {override!r}: {problem}")
    try:
        OmegaConf.update(conf, key, value, merge=False)
    except (OmegaConfBaseException, ValueError) as e:  # a list index past the end, or not a number
        problem = _list_problem(conf, key) or _omegaconf_problem(e)
        raise RlgenError(f"{where}: override {override!r}: {problem}") from None
    return misread


def _text(path: Path, where: str) -> tuple[str, dict[str, str]]:
    """The config file's text, checked before OmegaConf reads it: UTF-8, and not nested so deep that it
    crashes; and the figures in it that YAML 1.1 misreads (`scan_yaml`)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:  # Latin-1, or UTF-16 (a Windows editor's "Unicode")
        raise RlgenError(f"{where}: not UTF-8 text (byte {e.start}); save it as UTF-8 YAML") from None
    problem, misread = scan_yaml(text)
    if problem is not None:
        raise RlgenError(f"{where}: {problem}")
    return text, misread


def _glued_key(value: Any) -> str | None:
    """A key of a mapping in `value` written `a:b` with no value: YAML's flow mapping `{type:cnn}`
    is the one key "type:cnn", where `{type: cnn}` was meant (no config key holds a colon)."""
    if isinstance(value, dict):
        for k, v in value.items():
            if isinstance(k, str) and ":" in k.strip(":") and v is None and "${" not in k:
                return k
            if (inner := _glued_key(v)) is not None:
                return inner
    elif isinstance(value, list):
        return next((g for g in map(_glued_key, value) if g is not None), None)
    return None


def _scalar_on_path(conf: Any, key: str) -> str | None:
    """What is wrong with `key` where a key on its way holds a value, not a section: OmegaConf would
    replace that value by a new section, silently dropping it (`optim=adamw optim.lr=1e-3` trained
    the file's optimizer's defaults, never adamw). A None there is an empty section, which `key` fills."""
    parts = key.split(".")
    node = conf
    for i, part in enumerate(parts[:-1]):
        if OmegaConf.is_list(node) and part.isdigit() and int(part) < len(node):
            node = node._get_node(int(part))
        elif OmegaConf.is_dict(node) and part in node:
            node = node._get_node(part)
        else:
            return None  # a new key, or a list problem: _list_problem names it
        if node._is_interpolation():  # `eval_env: ${env}`: OmegaConf would set the key in env, the section named
            at = ".".join(parts[: i + 1])
            return (f"{at} is {node._value()!r}, a reference to another key, so {key} would be set in that key "
                    f"as well; give {at} whole ({at}={{...}}) or write it out in the file")
        if not (OmegaConf.is_dict(node) or OmegaConf.is_list(node)) and node._value() is not None:
            at, value = ".".join(parts[: i + 1]), node._value()
            return (f"{at} is {reprlib.repr(value)}, a value, not a section, so {key} cannot be set in it; "
                    f"where {at} is a section, give it whole ({at}={{...}}) or drop the override that set it")
    return None


def _list_problem(conf: Any, key: str) -> str | None:
    """What is wrong with `key` where it indexes a list of `conf` (an index past its end, a word)."""
    parts = key.split(".")
    node = conf
    for i, part in enumerate(parts):
        if OmegaConf.is_list(node):
            if not part.isdigit() or int(part) >= len(node):
                at = ".".join(parts[:i])
                return (f"{at} is a list of {len(node)} items, which has no item {part!r}; to change its length "
                        f"write the whole list: {at}=[...]")
            node = node[int(part)]
        elif OmegaConf.is_dict(node) and part in node:
            node = node._get_node(part)
        else:
            return None
    return None


def _resolved(conf: Any, overrides: Sequence[str], where: str) -> Any:
    """`conf` as plain data with every `${...}` resolved, the file's and the overrides'; a failure is
    one line naming the override (or the file's key) it comes from."""
    try:
        return OmegaConf.to_container(conf, resolve=True)
    except OmegaConfBaseException as e:
        at = re.sub(r"\[(\d+)\]", r".\1", str(getattr(e, "full_key", None) or ""))
        given = [o for o in overrides if at == o.partition("=")[0] or at.startswith(o.partition("=")[0] + ".")]
        problem = _omegaconf_problem(e, with_key=False)
        if (missing := re.match(r"Interpolation key '([^']*)' not found", problem)) is not None:
            problem += (_did_you_mean(missing[1], _dotted_keys(conf)) +
                        "; a ${...} names a key written in the config file or set by an override, e.g. "
                        "${train.total_steps}: a setting left at its default cannot be named")
        source = f"override {given[-1]!r}" if given else at or "<root>"
        raise RlgenError(f"{where}: {source}: could not resolve its ${{...}}: {problem}") from None


def _omegaconf_problem(e: Exception, with_key: bool = True) -> str:
    """OmegaConf's message on one line: its first line (the rest repeats the key and the node type),
    and the key it is about."""
    lines = str(e).strip().splitlines()
    first = lines[0] if lines else type(e).__name__
    key = getattr(e, "full_key", None)
    return f"{first} (at {key})" if with_key and key else first


def _dotted_keys(conf: Any, path: str = "") -> list[str]:
    """The dotted key of every value (not section) of an OmegaConf mapping."""
    found = []
    for key in conf.keys():
        where, node = f"{path}.{key}" if path else str(key), conf._get_node(key)
        found += _dotted_keys(node, where) if OmegaConf.is_dict(node) else [where]
    return found


def _bare_scalar(path: Path) -> bool:
    """The file's YAML is one scalar (`hello`)."""
    import yaml

    try:
        return not isinstance(yaml.safe_load(path.read_text(encoding="utf-8")), (dict, list, type(None)))
    except yaml.YAMLError:
        return False  # OmegaConf read it: its own loader decides


_UNESCAPED = re.compile(r"(?<!\\)(?:\\\\)*\$\{")  # a `${` after no backslash, or an even run of them (escaped ones)


def interpolates(text: str) -> bool:
    """Whether `text` holds a `${...}` OmegaConf resolves (not only escaped `\\${` text)."""
    return bool(_UNESCAPED.search(text))


def _interpolations(conf: Any, path: str = "") -> list[tuple[str, str]]:
    """(dotted key, text) of every `${...}` value in an OmegaConf tree, unresolved."""
    found = []
    keys = conf.keys() if OmegaConf.is_dict(conf) else range(len(conf)) if OmegaConf.is_list(conf) else []
    for key in keys:
        where = f"{path}.{key}" if path else str(key)
        node = conf._get_node(key)
        if OmegaConf.is_interpolation(conf, key) and interpolates(str(node._value())):
            found.append((where, str(node._value())))
        elif OmegaConf.is_config(node):
            found += _interpolations(node, where)
    return found


def save_config(cfg: ExperimentConfig, path: Path) -> None:
    """Write the resolved config as YAML (what the run actually used)."""
    path.write_text(OmegaConf.to_yaml(OmegaConf.create(config_tree(cfg))), encoding="utf-8")


def config_tree(cfg: BaseModel) -> dict[str, Any]:
    r"""A resolved config as plain data that goes through OmegaConf again unchanged: every `${` in
    its text escaped (`\${`), since it is text the user wrote escaped, not an interpolation to
    resolve a second time (a run's config.yaml is read without resolvers, and refused one)."""
    return _escaped(cfg.model_dump(mode="json", fallback=_numpy_number))


def _numpy_number(value: Any) -> Any:
    """A numpy number set on a loaded config (`cfg.seed = np.int64(2)`) as the plain number a
    mapping's becomes (`plain_values`); anything else pydantic cannot write stays an error."""
    if isinstance(value, np.generic):
        return plain_values(value)
    raise PydanticSerializationError(f"Unable to serialize unknown type: {type(value)}")


def _escaped(value: Any) -> Any:
    if isinstance(value, str):  # a backslash just before `${` is doubled, or it would escape the escape
        return re.sub(r"(\\*)\$\{", lambda m: m[1] * 2 + "\\${", value)
    if isinstance(value, dict):
        return {k: _escaped(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escaped(v) for v in value]
    return value
