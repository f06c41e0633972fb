"""The wheel built from this checkout: one import package `rlgen` with every module, config and
entry point, and it works installed on its own, outside the checkout.

The wheel is built from a copy of the checkout (a build writes build/ and rlgen.egg-info/ next to
the sources, and an egg-info in the checkout would shadow the install's entry points), with the
venv's setuptools (`--no-build-isolation`), so no network is needed.
"""

from __future__ import annotations

import configparser
import json
import tomllib
import zipfile
from pathlib import Path

import pytest

from tests.install_helpers import ROOT, copy_sources, list_sections, names_in, pip, run_python

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RLGEN_GROUPS = ("rlgen.kinds", "rlgen.sources", "rlgen.games", "rlgen.backbones", "rlgen.wrappers", "rlgen.demos",
                "rlgen.envs")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    source = copy_sources(ROOT, tmp / "src")
    pip("wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp / "dist"), str(source))
    (built,) = (tmp / "dist").glob("rlgen-*.whl")
    return built


@pytest.fixture(scope="module")
def names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as z:
        return z.namelist()


def dist_info_file(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as z:
        (path,) = [n for n in z.namelist() if n.endswith(f".dist-info/{name}")]
        return z.read(path).decode()


def test_the_only_top_level_package_is_rlgen(wheel: Path, names: list[str]) -> None:
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"rlgen"}  # never envs/, agents/ or configs/ at the top: PyPI's `envs` and `agents` own those
    recorded = {line.split(",")[0].split("/")[0] for line in dist_info_file(wheel, "RECORD").splitlines()}
    assert {t for t in recorded if not t.endswith(".dist-info")} == {"rlgen"}


def package_dirs() -> dict[str, Path]:
    """Every directory with an __init__.py under the folders pyproject maps, by its dotted name."""
    found = {}
    for package, folder in PYPROJECT["tool"]["setuptools"]["package-dir"].items():
        for init in (ROOT / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / folder)
            found[".".join([package, *rel.parts])] = init.parent
    return found


def test_every_package_is_listed_in_pyproject_and_shipped(names: list[str]) -> None:
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    on_disk = package_dirs()
    assert "rlgen.agents.rl" in on_disk and "rlgen.nets" in on_disk  # the walk sees nested packages
    assert set(on_disk) - listed == set(), "packages missing from pyproject's [tool.setuptools] packages"
    assert listed - set(on_disk) == set(), "pyproject lists packages that do not exist"
    for package, folder in on_disk.items():
        modules = {p.name for p in folder.glob("*.py")}
        shipped = {n.rsplit("/", 1)[1] for n in names if n.rsplit("/", 1)[0] == package.replace(".", "/")}
        assert modules <= shipped, f"{package}: {sorted(modules - shipped)} not in the wheel"


def test_every_bundled_config_is_in_the_wheel(names: list[str]) -> None:
    configs = sorted(p.relative_to(ROOT / "configs").as_posix() for p in (ROOT / "configs").rglob("*.yaml"))
    assert "ppo_cartpole.yaml" in configs and any(c.startswith("sweeps/") for c in configs)
    missing = [c for c in configs if f"rlgen/configs/{c}" not in names]
    assert missing == []


def test_entry_points_are_pyprojects_and_point_into_the_wheel(wheel: Path, names: list[str]) -> None:
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # entry-point names are case-sensitive (HideEntries)
    parser.read_string(dist_info_file(wheel, "entry_points.txt"))
    declared = PYPROJECT["project"]["entry-points"]
    assert set(RLGEN_GROUPS) <= set(parser.sections())
    assert dict(parser["console_scripts"]) == PYPROJECT["project"]["scripts"]
    for group in RLGEN_GROUPS:
        assert dict(parser[group]) == declared[group], group
        for target in declared[group].values():
            module = target.partition(":")[0]
            if module.split(".")[0] == "rlgen":  # rlgen's own: the module must be inside the wheel
                path = module.replace(".", "/")
                assert f"{path}.py" in names or f"{path}/__init__.py" in names, target


# Run in the subprocess: where rlgen and its entry points come from. importlib.metadata sees both
# the wheel's dist-info (PYTHONPATH, first on sys.path) and the editable install's (the venv's
# site-packages); entry_points() keeps the first distribution of each name, so every rlgen.*
# entry point must come from the wheel's.
PROBE = """
import json, rlgen
from importlib import metadata
from rlgen.api import bundled_configs
eps = [ep for g in {groups!r} for ep in metadata.entry_points(group=g)]
print(json.dumps({{
    "rlgen": rlgen.__file__,
    "configs": str(next(iter(bundled_configs().values()))),
    "rlgen_dists": [str(d.locate_file("")) for d in metadata.distributions() if d.name == "rlgen"],
    "entry_point_dists": sorted({{str(ep.dist.locate_file("")) for ep in eps}}),
    "entry_points": len(eps),
    "unique_entry_points": len({{(ep.group, ep.name) for ep in eps}}),
}}))
"""


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("target")
    pip("install", "--no-deps", "--target", str(target), str(wheel))
    return target


def probe(cwd: Path, pythonpath: Path | None) -> dict:
    out = run_python(["-c", PROBE.format(groups=RLGEN_GROUPS)], cwd, pythonpath)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_installed_wheel_is_what_runs_with_its_own_entry_points(installed: Path, tmp_path: Path) -> None:
    seen = probe(tmp_path, installed)
    assert Path(seen["rlgen"]).is_relative_to(installed)
    assert Path(seen["configs"]).is_relative_to(installed)
    # both installs are visible, and the wheel's wins: its dist-info alone supplies the entry points
    assert len(seen["rlgen_dists"]) == 2 and Path(seen["rlgen_dists"][0]).resolve() == installed.resolve()
    assert [Path(d).resolve() for d in seen["entry_point_dists"]] == [installed.resolve()]
    assert seen["entry_points"] == seen["unique_entry_points"] == sum(len(PYPROJECT["project"]["entry-points"][g])
                                                                      for g in RLGEN_GROUPS)
    # the control: without it on the path, the venv's own install is what imports (so the above can fail)
    plain = probe(tmp_path, None)
    assert not Path(plain["rlgen"]).is_relative_to(installed)
    assert len(plain["rlgen_dists"]) == 1 and [Path(d) for d in plain["entry_point_dists"]] != [installed]


def test_the_installed_wheel_lists_and_trains_outside_the_checkout(installed: Path, tmp_path: Path) -> None:
    listing = run_python(["-m", "rlgen", "list"], tmp_path, installed).stdout
    sections = list_sections(listing)
    assert "ppo_cartpole" in names_in(sections["configs"])
    assert set(names_in(sections["kinds"])) >= {"rl", "gan", "selfplay", "teams"}

    run_python(["-m", "rlgen", "train", "ppo_cartpole", "train.total_steps=512", "train.eval_every=512",
                "logging.wandb.mode=disabled", "train.progress=false"], tmp_path, installed)
    (run_dir,) = (tmp_path / "runs" / "ppo_cartpole").iterdir()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["global_step"] == 512
    assert (run_dir / "config.yaml").is_file() and (run_dir / "checkpoints" / "latest").exists()
