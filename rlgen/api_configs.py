"""Finding and loading configs for the API: a bundled config by name, a YAML path, rl-zoo3's
`zoo:ALGO/ENV`, a mapping, or a run's own config.yaml (read untrusted), each validated with its
kind's own checks. `rlgen.api` re-exports these names.
"""

from __future__ import annotations

import difflib
import warnings
from contextlib import AbstractContextManager, nullcontext
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

from pydantic import BaseModel
from pydantic_core import PydanticSerializationError, to_jsonable_python
from rich.markup import escape

from rlgen.api_args import _bool_arg, _config_arg, _shown
from rlgen.config import ExperimentConfig, check_overrides, config_tree
from rlgen.config import load_config as _load_config
from rlgen.errors import ConfigError, RlgenError, shell_line
from rlgen.experiment import check_of
from rlgen.registry import KINDS, registered_names_only

ConfigSource = str | Path | Mapping[str, Any]


def bundled_configs(folder: str = "") -> dict[str, Path]:
    """The configs shipped inside the package, by name (`ppo_cartpole` -> its YAML file); those of
    a folder of them by `folder/name` (`bundled_configs("sweeps")`: `sweeps/ppo_cartpole`)."""
    top = resources.files("rlgen.configs")
    folders = sorted(p.name for p in top.iterdir() if p.is_dir() and not p.name.startswith("__"))
    name = folder.rstrip("/") if isinstance(folder, str) else None
    if name is None or (name and name not in folders):
        raise RlgenError(f"rlgen.bundled_configs: folder must be '' (the configs themselves) or one of the bundled "
                         f"folders ({', '.join(map(repr, folders))}), not {_shown(folder)}")
    root = top.joinpath(name) if name else top
    prefix = f"{name}/" if name else ""
    return {prefix + p.name.removesuffix(".yaml"): Path(str(p)) for p in sorted(root.iterdir(), key=lambda p: p.name)
            if p.name.endswith(".yaml")}


def config_path(config: str | Path) -> Path:
    """A YAML path as given, or the file of a bundled config name; a near-miss gets a "did you mean"."""
    path = Path(config)
    try:
        if path.is_file():
            return path
    except OSError as e:  # is_file() raises for a path the system refuses to look up (a name too long)
        raise RlgenError(f"config {config} cannot be opened ({e.strerror or e}); give a YAML path or a bundled "
                         "config name (`rlgen list` shows them)") from None
    bundled = bundled_configs()
    name = str(config).removesuffix(".yaml")
    if name in bundled:  # also when a folder of that name is here (runs written with logging.dir=.)
        return bundled[name]
    if path.is_dir():
        raise RlgenError(f"config {config} is a directory, not a YAML file; give a YAML path or a bundled config "
                         f"name (`rlgen list` shows them)")
    close = difflib.get_close_matches(Path(name).name, list(bundled), n=1, cutoff=0.6)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise RlgenError(f"config file not found: {config}{hint}; give a YAML path or a bundled config "
                     f"name (`rlgen list` shows them)")


def named_config(name: str) -> Path | Mapping[str, Any] | None:
    """The config a run name comes from: a bundled config's file, or the rl-zoo3 entry a
    `zoo_ALGO_ENV` name was converted from (as a mapping); None for any other name."""
    bundled = bundled_configs()
    if name in bundled:
        return bundled[name]
    if name.startswith("zoo_"):
        # rl-zoo3's hyperparameters are a config source of the rl kind (rlgen/agents/rl/zoo.py)
        from rlgen.agents.rl import zoo

        ref = zoo.ref_of_name(name)
        return zoo.convert(*zoo.parse_ref(ref)).config if ref else None
    return None


def load_config(config: ConfigSource | ExperimentConfig, overrides: Sequence[str] = (), *,
                interpolation: bool = True) -> ExperimentConfig:
    """Read, validate and check a config (a path, a bundled name, `zoo:ALGO/ENV` for rl-zoo3's
    tuned hyperparameters, a mapping such as a sweep trial's, or a loaded config, which is read again
    as a new one, whatever was set on it since): every problem at once, before
    anything heavy starts. ConfigError lists them. `interpolation=False`: a `${...}` in the file
    is refused (a run's config.yaml, see rlgen.config). A file's config keeps that file read without
    the overrides, what its W&B name tells the run apart from (rlgen/identity.py)."""
    return _load(config, overrides, interpolation, own_file=True)


def _load(config: ConfigSource | ExperimentConfig, overrides: Sequence[str], interpolation: bool, *,
          own_file: bool) -> ExperimentConfig:
    """load_config; `own_file=False` for a run's config.yaml, which holds its overrides already: it
    keeps no base (a resumed run's W&B name is the one its first start kept, rlgen/run_files.py)."""
    _config_arg("rlgen.load_config", config)
    interpolation = _bool_arg("rlgen.load_config", "interpolation", interpolation)
    check_overrides(overrides)
    base = None
    if isinstance(config, ExperimentConfig):
        # validated again, overrides or not: pydantic checks no field set after loading (`cfg.seed = "x"`,
        # `cfg.train.total_steps = 0`), so it goes the way an override's value goes, the kind's checks too;
        # it keeps its base (`rlgen train FILE --seeds`: each seed's config is loaded, then trained)
        base, config = config._base, _tree_of(config)
    if isinstance(config, str) and config.startswith("zoo:"):
        config = zoo_config(config)
    source: str | Path | Mapping[str, Any] = config if isinstance(config, Mapping) else config_path(config)
    try:
        cfg = _load_config(source, overrides, interpolation=interpolation)
    except ConfigError as e:  # the kind's own checks too, on the config with the failing keys set back
        if e.salvaged is None:
            raise
        raise ConfigError(e.source, [*e.problems, *_kind_problems(e.salvaged, e.paths)]) from None
    problems = check_of(kind_of(cfg), cfg)
    if problems:
        raise ConfigError(str(source) if not isinstance(source, Mapping) else "<config>", problems)
    # a name with a bundled config (or a zoo entry) is told from that one (rlgen/identity.py): no base kept
    own = own_file and not isinstance(source, Mapping) and named_config(cfg.name) is None
    cfg._base = _file_base(source, interpolation) if own else base
    return cfg


# what a key the schema refused holds when the kind's checks run again (`_kind_problems`): a value no
# check accepts, and no name a check would look up as code (no `:`, gymnasium's and rlgen's module:attribute)
REFUSED = "<refused by the schema>"


def _kind_problems(salvaged: ExperimentConfig, failed: Sequence[str]) -> list[str]:
    """The kind's own problems with a config the schema refused at the keys `failed`, found on
    `salvaged` (those keys set back to the file's values): only those the kind finds again with
    those keys holding nothing usable. A problem that hangs on a key set back is not the user's: a
    wrong game.name set back to the file's game had the references checked against that game."""
    kind = kind_of(salvaged)
    found = [p for p in check_of(kind, salvaged)
             if not any(p.startswith(f"{path}:") or p.startswith(f"{path}.") for path in failed)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydantic's serializer warns of REFUSED in a field of another type
        try:
            again = check_of(kind, _refused_at(salvaged, failed))
        except Exception:  # noqa: BLE001 - the checks cannot do without a key the schema refused: said as found
            return found
    return [p for p in found if p in again]


def _refused_at(cfg: ExperimentConfig, paths: Sequence[str]) -> ExperimentConfig:
    """A copy of `cfg` with REFUSED, unvalidated, at each dotted path (for an item of a list, the
    whole list, as the schema's salvage sets it back); a key not there (an unknown key) is skipped."""
    copy = cfg.model_copy(deep=True)
    for path in paths:
        node, keys = copy, path.split(".")
        for i, key in enumerate(keys):
            fields: Any = node.__dict__ if isinstance(node, BaseModel) else node if isinstance(node, dict) else {}
            if key not in fields:
                break
            if i == len(keys) - 1 or not isinstance(fields[key], (BaseModel, dict)):
                fields[key] = REFUSED
                break
            node = fields[key]
    return copy


def _file_base(path: Path, interpolation: bool) -> ExperimentConfig | None:
    """The config file read without overrides; None when it does not validate alone (a key only an
    override gives): the run's W&B name then shows no overrides, as before."""
    try:
        return _load_config(path, (), interpolation=interpolation)
    except RlgenError:
        return None


def _tree_of(cfg: ExperimentConfig) -> dict[str, Any]:
    """A loaded config as plain data, as its config.yaml holds it (escaped text stays text), to be read
    again; a field set to what is no config data at all (an object) is one ConfigError line naming it."""
    with warnings.catch_warnings():
        # pydantic warns of a field set to a value of another type: reading the tree again refuses it in one line
        warnings.filterwarnings("ignore", message="Pydantic serializer warnings", category=UserWarning)
        try:
            return config_tree(cfg)
        except PydanticSerializationError:
            path, value = _not_data(cfg) or ("<config>", cfg)
            raise ConfigError("<config>", [f"{path}: {_shown(value)} is no config value; give a number, text, "
                                           "a list or a mapping"]) from None


def _not_data(model: BaseModel, path: str = "") -> tuple[str, Any] | None:
    """The dotted key and value of the first field of `model` that does not serialize as JSON."""
    for name in type(model).model_fields:
        value, key = getattr(model, name), f"{path}{name}"
        if isinstance(value, BaseModel):
            if (found := _not_data(value, f"{key}.")) is not None:
                return found
            continue
        try:
            to_jsonable_python(value)
        except PydanticSerializationError:
            return key, value
    return None


def zoo_config(ref: str) -> dict[str, Any]:
    """`zoo:ALGO/ENV` as a config mapping; what did not convert is printed, one line each."""
    from rlgen.agents.rl import zoo
    from rlgen.logging import console

    conversion = zoo.convert(*zoo.parse_ref(ref))
    if conversion.fallback:
        console.print(f"[yellow]warning:[/] {escape(conversion.fallback)}")
    for item in conversion.unsupported:
        console.print(f"[yellow]warning:[/] {ref}: not converted: {escape(item)}")
    return conversion.config


def kind_of(cfg: ExperimentConfig) -> type:
    """The experiment class of a config's `kind`."""
    return KINDS.get(cfg.kind)


def make_experiment(cfg: ExperimentConfig) -> Any:
    """A fresh, not yet set up, experiment of the config's kind."""
    if not isinstance(cfg, ExperimentConfig):
        raise RlgenError(f"rlgen.make_experiment takes a loaded config (rlgen.load_config(...)), not {_shown(cfg)}")
    return kind_of(cfg)(cfg)


def run_config(run_dir: Path, overrides: Sequence[str] = (), *, trust: bool = False) -> ExperimentConfig:
    """A run's own config.yaml, read as a file from anyone: no `${...}` resolvers (they can read
    the environment) and no names by import path (importing runs code), unless `trust`."""
    trust = _bool_arg("rlgen.run_config", "trust", trust)
    path = Path(run_dir) / "config.yaml"
    with untrusted_unless(trust, path):
        return _load(path, overrides, trust, own_file=False)


def resume_line(run_dir: Path, *launcher: str) -> str:
    """The command that resumes `run_dir`, for pasting into a shell (`launcher`: what starts rlgen,
    `rlgen` by default): with --trust where the resume reads the run's config.yaml only with it
    (a name by import path, a `${...}` resolver), so that the line printed works."""
    trust = ("--trust",) if not _reads(run_dir, trust=False) and _reads(run_dir, trust=True) else ()
    return shell_line(*(launcher or ("rlgen",)), "train", "--resume", run_dir, *trust)


def _reads(run_dir: Path, trust: bool) -> bool:
    try:
        run_config(run_dir, trust=trust)
        return True
    except RlgenError:
        return False


def untrusted_unless(trust: bool, source: Path) -> AbstractContextManager[None]:
    """Only registered names resolve within it (see `registry.registered_names_only`), unless `trust`."""
    return nullcontext() if _bool_arg("untrusted_unless", "trust", trust) else registered_names_only(str(source))
