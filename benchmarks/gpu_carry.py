"""Build `.whl/`: what a GPU machine without internet needs to run rlgen, as Python 3.12 wheels.

The GPU machine (one H200; python3 is 3.12 with its own CUDA build of torch) has no network. Its
image already holds torch and the common scientific stack (ON_IMAGE below); everything else rlgen
imports travels as manylinux x86_64 / pure-Python wheels at the exact versions of constraints.txt,
plus rlgen's own wheel. On the GPU machine, with `.whl` carried:

    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \\
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site

Left out, on purpose (DROPPED): wandb and its own tree (20 MB; rlgen imports it only when a run
logs to W&B, and the benchmark runs with W&B disabled; `--with-wandb` adds it), and moviepy with
imageio-ffmpeg (a 68 MB ffmpeg binary, only for `rlgen eval --video`).

    python benchmarks/gpu_carry.py                      # download, check every wheel's needs, sizes
    python benchmarks/gpu_carry.py --check-imports /path/to/python3.12   # + import rlgen there
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from email.parser import Parser
from pathlib import Path

import benchkit
from packaging.markers import default_environment
from packaging.requirements import Requirement

from rlgen.errors import RlgenError

ROOT = Path(__file__).resolve().parents[1]
WHL = ROOT / ".whl"
LIMIT_MB = 64.0  # the device tool's limit for the working tree and carried paths together
PY = "3.12"
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux1_x86_64"]
MORE_PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (24, 31, 34, 35, 39)]

# Distributions rlgen (with the atari extra, for Pong) needs that the GPU image lacks.
CARRY = [
    "ale-py", "alembic", "annotated-types", "cmaes", "colorlog", "farama-notifications", "gymnasium", "mako", "mpe2",
    "omegaconf", "optuna", "pettingzoo", "pydantic", "pydantic-core", "pygame-ce", "sb3-contrib", "sqlalchemy",
    "stable-baselines3", "supersuit", "tinyscaler", "typing-inspection", "tzdata",
]
WANDB = [
    "wandb", "cwevals", "distro", "googleapis-common-protos", "platformdirs", "python-dotenv", "sniffio",
    "opentelemetry-api", "opentelemetry-exporter-http-transport", "opentelemetry-exporter-otlp-common",
    "opentelemetry-exporter-otlp-proto-common", "opentelemetry-exporter-otlp-proto-http", "opentelemetry-proto",
    "opentelemetry-sdk", "opentelemetry-semantic-conventions",
]
DROPPED = {"wandb": "W&B logging: imported only when a run logs to W&B (--with-wandb carries it)",
           "moviepy": "videos only (rlgen eval --video)", "imageio-ffmpeg": "moviepy's 68 MB ffmpeg binary",
           "proglog": "moviepy's", "decorator": "moviepy's",
           "minari": "demonstrations (rlgen record, kind: bc/imitation): not measured on the GPU",
           "h5py": "minari's", "typer": "minari's command line", "shellingham": "typer's"}
# What the GPU image already has (python3 -m pip list there, 2026-11): torch's own CUDA build and
# the scientific stack. Carrying another numpy would break the image's compiled packages.
ON_IMAGE = set("""
absl-py accelerate aiohttp annotated-doc anyio attrs certifi charset-normalizer click cloudpickle contourpy
cycler filelock fonttools fsspec h11 httpcore httpx idna imageio jinja2 joblib kiwisolver markdown-it-py
markupsafe matplotlib mdurl mpmath narwhals networkx numpy opencv-python-headless packaging pandas pillow pip
pluggy protobuf psutil pygments pyparsing pytest python-dateutil pyyaml requests rich scikit-learn scipy
setuptools six sympy threadpoolctl torch tqdm triton typing-extensions urllib3 wheel xxhash zipp
""".split())


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.split("==", 1)
            out[norm(name)] = version.strip()
    return out


def download(name: str, version: str, into: Path) -> None:
    base = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version",
            PY, "--implementation", "cp", "-d", str(into), f"{name}=={version}"]
    for platforms in (PLATFORMS, PLATFORMS + MORE_PLATFORMS):
        done = subprocess.run(base + [a for p in platforms for a in ("--platform", p)], capture_output=True, text=True)
        if done.returncode == 0:
            return
    raise RlgenError(f"no Python {PY} x86_64 wheel of {name}=={version} (pip download: {pip_error(done.stderr)}); "
                     f"{WHL} is left as it was")


def pip_error(output: str) -> str:
    """The line of pip's output that says why it failed: its first error in words (pip's own
    `error: subprocess-exited-with-error` is a code, and its last lines are hints), else its last line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()] or ["no output"]
    errors = [line for line in lines if line.lower().startswith("error")]
    return next((e for e in errors if " " in e.split(":", 1)[-1].strip()), errors[0] if errors else lines[-1])


def metadata(wheel: Path) -> tuple[str, str, list[str]]:
    """(name, version, Requires-Dist lines) of a wheel."""
    with zipfile.ZipFile(wheel) as z:
        meta = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        msg = Parser().parsestr(z.read(meta).decode())
    return norm(msg["Name"]), msg["Version"], msg.get_all("Requires-Dist") or []


def needs(requires: list[str], extras: set[str]) -> set[str]:
    """The distributions a wheel needs on Linux x86_64 under Python 3.12 with `extras`."""
    env = {**default_environment(), "python_version": PY, "python_full_version": f"{PY}.3", "sys_platform": "linux",
           "platform_system": "Linux", "platform_machine": "x86_64", "implementation_name": "cpython"}
    out = set()
    for line in requires:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({**env, "extra": e}) for e in {"", *extras}):
            out.add(norm(req.name))
    return out


def check_needs(wheels: dict[str, Path]) -> list[str]:
    """Every need of every carried wheel is carried, on the image, or dropped on purpose."""
    extras = {"rlgen": {"atari"}, "gymnasium": {"classic-control"}}
    problems = []
    for name, wheel in sorted(wheels.items()):
        for need in sorted(needs(metadata(wheel)[2], extras.get(name, set()))):
            if need not in wheels and need not in ON_IMAGE and need not in DROPPED:
                problems.append(f"{name} needs {need}: neither carried, nor on the GPU image, nor dropped")
    return problems


def build(with_wandb: bool) -> dict[str, Path]:
    """Every wheel, fetched into a folder beside `.whl/` that replaces it only once all are there: a
    download that failed (no network, a pin without a wheel) left an empty `.whl/` before."""
    versions = pins()
    wanted = CARRY + (WANDB if with_wandb else [])
    new = Path(tempfile.mkdtemp(prefix=".whl-", dir=ROOT))  # the same file system: the swap is a rename
    try:
        for name in wanted:
            download(name, versions[norm(name)], new)
        done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w",
                               str(new), str(ROOT)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RlgenError(f"building rlgen's wheel failed (pip wheel: {pip_error(done.stderr)}); {WHL} is left "
                             "as it was")
        shutil.rmtree(WHL, ignore_errors=True)
        new.rename(WHL)
    finally:
        shutil.rmtree(new, ignore_errors=True)  # gone already after the swap
        shutil.rmtree(ROOT / "build", ignore_errors=True)  # setuptools' scratch folder
        for stale in ROOT.glob("*.egg-info"):
            shutil.rmtree(stale)  # on sys.path (the checkout) its entry points would shadow the install's
    return {metadata(w)[0]: w for w in sorted(WHL.glob("*.whl"))}


def check_imports(python: str) -> list[str]:
    """Install the wheels into a temporary folder and import rlgen's modules under `python`. A
    module that fails only for want of torch is reported apart: torch is the GPU image's own."""
    with tempfile.TemporaryDirectory() as site:
        done = subprocess.run([python, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                               "--target", site, *map(str, sorted(WHL.glob("*.whl")))], capture_output=True, text=True)
        benchkit.check_process(done.returncode, done.stdout + done.stderr, f"installing {WHL}'s wheels under {python}")
        probe = (
            "import importlib, sys\n"
            "names = sys.argv[1:]\n"
            "for n in names:\n"
            "    try:\n"
            "        importlib.import_module(n); print('ok', n)\n"
            "    except ModuleNotFoundError as e:\n"
            "        print('missing', n, e.name)\n"
            "    except Exception as e:\n"
            "        print('error', n, type(e).__name__, str(e)[:200])\n"
        )
        modules = ["gymnasium", "pettingzoo", "pettingzoo.classic.tictactoe_v3", "mpe2.simple_tag_v3", "supersuit",
                   "omegaconf", "pydantic", "optuna", "ale_py", "rich", "sklearn", "matplotlib", "cv2",
                   "stable_baselines3", "sb3_contrib", "rlgen", *rlgen_modules(site)]
        env = {"PYTHONPATH": site, "PATH": "/usr/bin:/bin", "HOME": tempfile.gettempdir()}
        done = subprocess.run([python, "-c", probe, *modules], capture_output=True, text=True, env=env, cwd=site)
    lines = done.stdout.splitlines()
    print(f"import check under {python}:")
    for line in lines:
        print("  " + line)
    return [line for line in lines if line.startswith("error") or (line.startswith("missing") and
                                                                    not line.endswith(" torch"))]


def rlgen_modules(site: str) -> list[str]:
    root = Path(site) / "rlgen"
    return sorted("rlgen." + ".".join(p.relative_to(root).with_suffix("").parts)
                  for p in root.rglob("*.py") if p.name != "__init__.py" and p.name != "__main__.py")


def python_312(text: str) -> str:
    """--check-imports: a Python 3.12 that runs, checked while the arguments are read (a wrong one was
    found only after every download)."""
    if shutil.which(text) is None:
        raise argparse.ArgumentTypeError(f"{text}: no such program; give a Python {PY} interpreter, e.g. "
                                         f"/usr/bin/python{PY}")
    try:
        done = subprocess.run([text, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"], capture_output=True,
                              text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise argparse.ArgumentTypeError(f"{text} does not run as Python: {e}") from None
    if done.returncode != 0 or done.stdout.strip() != PY:
        found = done.stdout.strip() or f"exit code {done.returncode}"
        raise argparse.ArgumentTypeError(f"{text} is not Python {PY} ({found}); the wheels are {PY}'s")
    return text


def main() -> int:
    p = benchkit.Parser(description=__doc__.split("\n")[0])
    p.add_argument("--with-wandb", action="store_true", help="carry wandb too (+20 MB)")
    p.add_argument("--check-imports", metavar="PYTHON", type=python_312,
                   help="a Python 3.12 to import rlgen under, from the wheels")
    args = p.parse_args()
    wheels = build(args.with_wandb)
    total = sum(w.stat().st_size for w in wheels.values()) / 2**20
    for name, w in sorted(wheels.items(), key=lambda kv: -kv[1].stat().st_size):
        print(f"{w.stat().st_size / 2**20:7.2f} MB  {w.name}")
    print(f"{len(wheels)} wheels, {total:.1f} MB in {WHL} (limit {LIMIT_MB:.0f} MB with the working tree)")
    print("dropped: " + "; ".join(f"{k} ({v})" for k, v in DROPPED.items() if not (args.with_wandb and k == "wandb")))
    problems = check_needs(wheels)
    if args.check_imports:
        problems += check_imports(args.check_imports)
    for line in problems:
        print("PROBLEM: " + line)
    if total > LIMIT_MB * 0.75:
        problems.append("too large")
        print(f"PROBLEM: {total:.1f} MB leaves too little of the {LIMIT_MB:.0f} MB for the working tree")
    return 1 if problems else 0


if __name__ == "__main__":
    benchkit.main(main)
