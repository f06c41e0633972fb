"""benchmarks/gpu_carry.py: the wheel list for a GPU machine without internet stays complete.

Downloading is left to `make gpu-carry`; these tests check the lists against the installed
dependency tree (so a new dependency in pyproject.toml cannot be forgotten) and the needs check on
hand-made wheels.
"""

import zipfile
from importlib.metadata import PackageNotFoundError, distribution

import pytest
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


def fake_pip(tmp_path, monkeypatch, fail_on: str | None):
    """gpu_carry's downloads and rlgen's wheel made by hand; the download of `fail_on` fails, as pip's would."""
    monkeypatch.setattr(carry, "ROOT", tmp_path)
    monkeypatch.setattr(carry, "WHL", tmp_path / ".whl")
    monkeypatch.setattr(carry, "CARRY", ["gymnasium", "pygame-ce"])
    monkeypatch.setattr(carry, "pins", lambda: {"gymnasium": "1.0", "pygame-ce": "1.0"})

    def download(name, version, into):
        if name == fail_on:
            raise carry.RlgenError(f"no Python 3.12 x86_64 wheel of {name}=={version}")
        wheel(into, name, [])

    def pip_wheel(cmd, **kw):
        wheel(carry.Path(cmd[cmd.index("-w") + 1]), "rlgen", [])
        return carry.subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(carry, "download", download)
    monkeypatch.setattr(carry.subprocess, "run", pip_wheel)


def test_a_failed_download_leaves_the_wheels_there_as_they_were(tmp_path, monkeypatch):
    (tmp_path / ".whl").mkdir()
    (tmp_path / ".whl" / "old-1.0-py3-none-any.whl").write_text("x")
    fake_pip(tmp_path, monkeypatch, fail_on="pygame-ce")
    with pytest.raises(carry.RlgenError, match="pygame-ce"):
        carry.build(False)
    assert [p.name for p in tmp_path.iterdir()] == [".whl"]  # no half-filled folder beside it either
    assert [p.name for p in (tmp_path / ".whl").iterdir()] == ["old-1.0-py3-none-any.whl"]


def test_a_build_that_succeeds_replaces_the_wheels(tmp_path, monkeypatch):
    (tmp_path / ".whl").mkdir()
    (tmp_path / ".whl" / "old-1.0-py3-none-any.whl").write_text("x")
    fake_pip(tmp_path, monkeypatch, fail_on=None)
    assert sorted(carry.build(False)) == ["gymnasium", "pygame-ce", "rlgen"]
    assert [p.name for p in tmp_path.iterdir()] == [".whl"]
    assert "old-1.0-py3-none-any.whl" not in [p.name for p in (tmp_path / ".whl").iterdir()]


def test_pips_failure_is_its_line_in_words():
    output = ("  error: subprocess-exited-with-error\n  \n  x Preparing metadata did not run successfully.\n"
              "      error: package directory 'rlgen' does not exist\n      [end of output]\n"
              "error: metadata-generation-failed\n\nhint: See above for details.\n")
    assert carry.pip_error(output) == "error: package directory 'rlgen' does not exist"
    assert carry.pip_error("WARNING: x\nERROR: No matching distribution found for imitation==1.0.1\n") == (
        "ERROR: No matching distribution found for imitation==1.0.1")
