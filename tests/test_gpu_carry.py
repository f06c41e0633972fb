"""benchmarks/gpu_carry.py: the wheel list for a GPU machine without internet stays complete.

Downloading is left to `make gpu-carry`; these tests check the lists against the installed
dependency tree (so a new dependency in pyproject.toml cannot be forgotten) and the needs check on
hand-made wheels.
"""

import zipfile
from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement

from tests.bench import load

carry = load("gpu_carry")


def closure(name: str, extras: frozenset[str] = frozenset(), seen: set[str] | None = None) -> set[str]:
    """Every distribution `name` (with `extras`) needs here, itself included."""
    seen = set() if seen is None else seen
    key = carry.norm(name)
    if key in seen:
        return seen
    try:
        dist = distribution(name)
    except PackageNotFoundError:
        return seen
    seen.add(key)
    for line in dist.requires or []:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in {"", *extras}):
            closure(req.name, frozenset(req.extras), seen)
    return seen


def test_every_dependency_of_rlgen_is_carried_on_the_image_or_dropped_on_purpose():
    accounted = set(map(carry.norm, carry.CARRY + carry.WANDB)) | carry.ON_IMAGE | set(carry.DROPPED) | {"rlgen"}
    missing = closure("rlgen", frozenset({"atari"})) - accounted
    assert not missing, f"add these to CARRY or ON_IMAGE in benchmarks/gpu_carry.py: {sorted(missing)}"


def test_every_carried_name_has_an_exact_pin():
    pins = carry.pins()
    assert [n for n in carry.CARRY + carry.WANDB if carry.norm(n) not in pins] == []
    assert "torch" not in map(carry.norm, carry.CARRY + carry.WANDB)  # the GPU image's own CUDA build


def wheel(tmp_path, name, requires):
    path = tmp_path / f"{name}-1.0-py3-none-any.whl"
    meta = "Metadata-Version: 2.1\nName: " + name + "\nVersion: 1.0\n" + "".join(f"Requires-Dist: {r}\n" for r in requires)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{name}-1.0.dist-info/METADATA", meta)
    return path


def test_needs_follow_python_312_linux_and_the_extras_asked_for():
    requires = ["numpy>=1.2", "tomli; python_version < '3.11'", "pywin32; sys_platform == 'win32'",
                "pygame>=2; extra == 'classic-control'", "pytest; extra == 'dev'"]
    assert carry.needs(requires, set()) == {"numpy"}
    assert carry.needs(requires, {"classic-control"}) == {"numpy", "pygame"}


def test_an_unmet_need_is_a_problem(tmp_path):
    wheels = {"gymnasium": wheel(tmp_path, "gymnasium", ["numpy", "pygame-ce; extra == 'classic-control'"]),
              "pygame-ce": wheel(tmp_path, "pygame-ce", []),
              "rlgen": wheel(tmp_path, "rlgen", ["gymnasium", "not-anywhere>=1", "moviepy"])}
    assert carry.check_needs(wheels) == [
        "rlgen needs not-anywhere: neither carried, nor on the GPU image, nor dropped"]
    del wheels["pygame-ce"]  # gymnasium[classic-control] is what rlgen asks for: its pygame is needed
    assert any("gymnasium needs pygame-ce" in p for p in carry.check_needs(wheels))
