"""`rlgen export RUN_DIR --format sb3|onnx|torchscript`: a trained run in a form other tools load.

    rlgen export runs/ppo_cartpole/<id> --format sb3     # model.zip (+ vecnormalize.pkl): PPO.load, rl-zoo3 enjoy
    rlgen export runs/ppo_cartpole/<id> --format onnx    # policy.onnx: observation -> deterministic action
    rlgen export runs/gan_ring8/<id> --format torchscript   # generator.pt: noise (+ label) -> sample

The run is read with `rlgen.load_run`; its kind does the work in its experiment's
`export(fmt, out_dir) -> list[Path]` (RL: agents/rl/export.py; GAN: the generator). This module
holds what every kind shares: a torch module written as ONNX or TorchScript with a batch size
that can vary, and checked against torch before the file is handed over (onnxruntime for ONNX).
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import re
import reprlib
import shutil
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import numpy as np
import torch

from rlgen.errors import RlgenError
from rlgen.nets.common import no_distribution_checks

FORMATS = ("sb3", "onnx", "torchscript")
TOLERANCE = 1e-5  # the largest difference to torch's own output an exported file may show
_ANSI = re.compile(r"\x1b\[[0-9;]*m")  # the exporter colours its messages
ONNX_HINT = "ONNX export needs onnx, onnxscript and onnxruntime: pip install 'rlgen[export]'"


# what the exporters write (agents/rl/export.py, the GAN's generator) into the output folder, by format
EXPORT_NAMES = {"sb3": ("model.zip", "vecnormalize.pkl", "rl-zoo"), "onnx": ("policy.onnx", "generator.onnx"),
                "torchscript": ("policy.pt", "generator.pt")}
# what each export wrote, by format (the top-level names in the folder of the paths export() returned), so
# that a plugin kind's own files (q.npy) count as an earlier export too; a folder without one (an older
# rlgen's export) is judged by EXPORT_NAMES alone
MANIFEST = ".rlgen-export.json"


def check_out_dir(out_dir: Path, force: bool = False) -> tuple[list[str], list[str]]:
    """Refuse an output folder the export could harm: a run directory (config.yaml and
    checkpoints/) always; a folder holding anything but earlier exports' files unless `force`.
    Returns (the earlier exports' names in it, its other names: some only with `force`)."""
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        return [], []  # new (made by the export), or a file in the way (mkdir says so)
    if (out_dir / "config.yaml").is_file() and (out_dir / "checkpoints").is_dir():
        raise RlgenError(f"{out_dir} is a run directory: an export never writes into one; give -o a folder of its own "
                         "(default: RUN_DIR/export)")
    names = sorted(p.name for p in out_dir.iterdir())
    known = {MANIFEST, *(n for names_ in _exported(out_dir).values() for n in names_)}
    foreign = [n for n in names if n not in known]
    if foreign and not force:
        shown = ", ".join(foreign[:3]) + (f" and {len(foreign) - 3} more" if len(foreign) > 3 else "")
        raise RlgenError(f"{out_dir} already holds files that are not an rlgen export ({shown}): give -o a new or "
                         "empty folder, or --force to write into it anyway")
    return [n for n in names if n in known], foreign


def export(path: str | Path, fmt: str, out: str | Path | None = None, *, checkpoint: str | None = None,
           trust: bool = False, force: bool = False) -> list[Path]:
    """Export a run (its directory, or one checkpoint directory such as checkpoints/best) to
    `out` (default RUN_DIR/export/); returns the files written. The run is opened as
    `rlgen.load_run(path, checkpoint=checkpoint, trust=trust)` opens it (a finished run: its best
    checkpoint): nothing in it runs unless `trust`. `out` must be new, empty, or a folder of
    earlier exports (whose files of this format are replaced), unless `force`; never a run directory."""
    from rlgen.api import _bool_arg, load_run
    from rlgen.api_args import _path_arg

    force = _bool_arg("rlgen.export.export", "force", force)
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise RlgenError(f"unknown export format {fmt!r}; choose one of {', '.join(FORMATS)}")
    if out is not None:
        out = _path_arg("rlgen.export.export", "out", out, "the folder to export into")
        check_out_dir(out, force)  # before the run is opened
    with load_run(path, checkpoint=checkpoint, trust=trust) as run:
        hook = getattr(run.experiment, "export", None)
        if hook is None:
            raise RlgenError(f"kind {run.config.kind!r} has no export; its torch modules are in "
                             f"rlgen.load_run(...).modules(): {', '.join(run.modules()) or 'none'}")
        out_dir = Path(out) if out is not None else run.run_dir / "export"
        known, foreign = check_out_dir(out_dir, force)
        earlier = [n for n in known if n in _exported(out_dir)[fmt]]
        if earlier:
            from rich.markup import escape

            from rlgen.logging import console

            console.print(f"replacing the earlier {fmt} export in {escape(str(out_dir))} "
                          f"({escape(', '.join(earlier))})", highlight=False)
        made = [p for p in (out_dir, *out_dir.parents) if not p.exists()]
        out_dir.mkdir(parents=True, exist_ok=True)
        try:
            files = _paths(hook(fmt, out_dir), run.config.kind)
        except BaseException:
            if made:  # a failed export leaves no folder it made, nor what it wrote there
                shutil.rmtree(made[-1], ignore_errors=True)  # the outermost folder it made
            raise
        if not foreign:  # an export folder: the earlier export's files this one did not write are not its own
            _remove_stale(out_dir, earlier, files)
            _write_manifest(out_dir, fmt, files)  # a folder of other files (--force) is not made an export's
        return files


def _paths(files: Any, kind: str) -> list[Path]:
    """What a kind's export returned, as paths: an iterable of str / PathLike, not one str or Path
    (which would be read one character, or one path part, per file)."""
    if isinstance(files, (str, bytes, os.PathLike)) or not isinstance(files, Iterable):
        raise RlgenError(f"kind {kind!r}: export(fmt, out_dir) returned {reprlib.repr(files)}, not a list of paths "
                         "(the files it wrote)")
    files = list(files)
    if bad := [f for f in files if not isinstance(f, (str, os.PathLike))]:
        raise RlgenError(f"kind {kind!r}: export(fmt, out_dir) returned a list holding {reprlib.repr(bad[0])}, "
                         "not a list of paths (the files it wrote)")
    return [Path(f) for f in files]


def _manifest(out_dir: Path) -> dict[str, list[str]]:
    """The manifest's top-level names by format; none where there is no readable manifest."""
    try:
        listed = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(listed, dict):
        return {}
    return {fmt: [n for n in names if isinstance(n, str) and Path(n).name == n and n not in ("", ".", "..")]
            for fmt, names in listed.items() if fmt in FORMATS and isinstance(names, list)}


def _exported(out_dir: Path) -> dict[str, set[str]]:
    """The names in `out_dir` each format's export writes: rlgen's own (EXPORT_NAMES) and those
    its manifest lists (a plugin kind's files)."""
    listed = _manifest(out_dir)
    return {fmt: {*EXPORT_NAMES[fmt], *listed.get(fmt, ())} for fmt in FORMATS}


def _write_manifest(out_dir: Path, fmt: str, files: list[Path]) -> None:
    """Record the top-level names of `files` (those inside `out_dir`) as what the `fmt` export
    wrote, beside the other formats' entries still there."""
    root = out_dir.resolve()
    top = set()
    for f in files:
        try:
            top.add(f.resolve().relative_to(root).parts[0])
        except (ValueError, IndexError):  # a file outside the folder, or the folder itself
            continue
    listed = {**_manifest(out_dir), fmt: sorted(top)}
    listed = {k: [n for n in names if (out_dir / n).exists()] for k, names in listed.items()}
    (out_dir / MANIFEST).write_text(json.dumps(listed, indent=1, sort_keys=True) + "\n", encoding="utf-8")


def _remove_stale(out_dir: Path, names: list[str], written: list[Path]) -> None:
    """Remove what an earlier export of the same format left under `names` and this one did not
    write (a vecnormalize.pkl the new run has none of would be loaded with the new model.zip)."""
    keep = {Path(p).resolve() for p in written}

    def kept(p: Path) -> bool:  # written, or inside a folder written whole (a plugin may return a folder)
        return p.resolve() in keep or any(parent in keep for parent in p.resolve().parents)

    for name in names:
        top = out_dir / name
        if top.is_symlink() or top.is_file():
            if not kept(top):
                top.unlink()
        elif top.is_dir() and not kept(top):
            for p in sorted(top.rglob("*"), key=lambda q: -len(q.parts)):  # deepest first
                if (p.is_file() or p.is_symlink()) and not kept(p):
                    p.unlink()
                elif p.is_dir() and not any(p.iterdir()):
                    p.rmdir()


def save_module(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor], output: str, path: Path,
                fmt: str, probes: Sequence[Mapping[str, torch.Tensor]] = ()) -> Path:
    """`module(**inputs)` as `path` in `fmt` (onnx or torchscript), its first dimension (the batch)
    free, verified against torch on the example inputs, on a batch of another size and on each of
    `probes`: inputs that take the other side of a branch `module` makes on its data (full history
    windows where the examples hold partial ones), which a trace fixes at the side the examples take."""
    module = module.eval()
    if fmt not in ("onnx", "torchscript"):
        raise RlgenError(f"{fmt!r} is not a module format; use onnx or torchscript")
    written = path.with_name(path.name + ".tmp")  # `path` is replaced only by a file that passed its check
    try:
        if fmt == "onnx":
            to_onnx(module, inputs, output, written)
            check = onnx_difference
        else:
            with torch.no_grad(), no_distribution_checks(), frozen(module), warnings.catch_warnings():
                # the tracer warns at each Python value it reads off a tensor; rlgen's own are input checks
                # (shape, window length: fixed by the space traced; a history window keeps its mask under a
                # trace, BackboneExtractor); a plugin's branches still warn, and `probes` check their other side
                warnings.filterwarnings("ignore", category=torch.jit.TracerWarning, module=r"rlgen\.")
                torch.jit.trace(module, tuple(inputs.values())).save(str(written))
            check = torchscript_difference
        for batch in (inputs, _rebatch(inputs, 1), *probes):
            if (diff := check(written, module, batch)) > TOLERANCE:
                raise RlgenError(f"{path} would give outputs {diff:.3g} away from torch's (more than {TOLERANCE}); "
                                 "not exported")
        os.replace(written, path)
    finally:
        written.unlink(missing_ok=True)
    return path


@contextlib.contextmanager
def frozen(module: torch.nn.Module) -> Iterator[None]:
    """Parameters that require no grad while the module is traced: TorchScript saves the flag with
    them, and a loaded module whose parameters require grad returns outputs that do (`.numpy()`
    then fails). The module's own flags are restored after."""
    flags = [(p, p.requires_grad) for p in module.parameters()]
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)


def to_onnx(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor], output: str, path: Path) -> Path:
    """torch.onnx's exporter (torch.export based), every input's first dimension dynamic."""
    try:
        import onnxscript  # noqa: F401 - torch.onnx's exporter is built on it
    except ImportError:
        raise RlgenError(ONNX_HINT) from None
    batch = torch.export.Dim("batch")
    quiet = logging.getLogger("torch.onnx")
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()), no_distribution_checks():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, tuple(inputs.values()), str(path), input_names=list(inputs), output_names=[output],
                              dynamic_shapes=tuple({0: batch} for _ in inputs), dynamo=True, external_data=False)
    except Exception as e:  # noqa: BLE001 - the exporter's many error types: one readable message
        message = _ANSI.sub("", str(e)).strip().splitlines()
        raise RlgenError(f"ONNX export of {type(module).__name__} failed: {type(e).__name__}: "
                         f"{message[0][:300] if message else ''}") from None
    finally:
        quiet.setLevel(level)
    return path


def onnx_difference(path: Path, module: torch.nn.Module, inputs: Mapping[str, torch.Tensor]) -> float:
    """Largest absolute difference between onnxruntime's and torch's outputs for `inputs`."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise RlgenError(ONNX_HINT) from None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {k: v.cpu().numpy() for k, v in inputs.items()})[0]
    return _difference(got, _torch_output(module, inputs))


def torchscript_difference(path: Path, module: torch.nn.Module, inputs: Mapping[str, torch.Tensor]) -> float:
    loaded = torch.jit.load(str(path))
    with torch.no_grad():
        got = loaded(*inputs.values()).cpu().numpy()
    return _difference(got, _torch_output(module, inputs))


def _torch_output(module: torch.nn.Module, inputs: Mapping[str, torch.Tensor]) -> np.ndarray:
    with torch.no_grad():
        return module(*inputs.values()).cpu().numpy()


def _difference(a: Any, b: Any) -> float:
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max(initial=0.0))


def _rebatch(inputs: Mapping[str, torch.Tensor], n: int) -> dict[str, torch.Tensor]:
    return {k: v[:n] for k, v in inputs.items()}
