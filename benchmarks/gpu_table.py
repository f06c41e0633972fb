"""gpu.py's rows and what it makes of them: a baseline row from an earlier run's JSON (--reference,
checked while the arguments are read), the ratios to each section's first arm, the table, the
issue's targets read off the rows, and the JSON of every figure (--out)."""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class Row:
    section: str
    arm: str
    device: str = ""
    speed: float | None = None          # steps/s (generator steps for GANs, env steps for PPO)
    unit: str = ""
    ratio: float | None = None          # speed / the section's first arm's
    quality: dict[str, Any] = field(default_factory=dict)
    check: str = ""                     # "ok" / "FAIL" for checks, "" for measurements
    note: str = ""
    settings: dict[str, Any] = field(default_factory=dict)


def reference_rows(section: str, settings: dict[str, Any], path: Path | None) -> list[Row]:
    """The fastest CPU arm of an earlier run's JSON for this section, as its first (baseline) row:
    the strictest reading of "N times the CPU"."""
    if path is None:
        return []
    ref = json.loads(Path(path).read_text())
    cpu = [r for r in ref["rows"] if r["section"] == section and r["device"] == "cpu" and r["speed"]]
    if not cpu:
        return []
    r = max(cpu, key=lambda r: r["speed"])
    same = r["settings"] == settings
    return [Row(section, f"reference: {r['arm']} on {ref['host']}", device="cpu", speed=r["speed"], unit=r["unit"],
                quality=r["quality"], settings=r["settings"],
                note="same settings" if same else "SETTINGS DIFFER: ratio not comparable")]


# --- output ---------------------------------------------------------------------------------------


def add_ratios(rows: list[Row]) -> None:
    base: dict[str, float] = {}
    for r in rows:
        if r.speed is None:
            continue
        base.setdefault(r.section, r.speed)
        r.ratio = r.speed / base[r.section]


def fmt_quality(q: dict[str, Any]) -> str:
    parts = []
    for k, v in q.items():
        if k == "best_step":
            continue
        parts.append(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


COLUMNS = ("section", "arm", "device", "speed", "ratio", "quality", "check")


def cells(r: Row) -> list[str]:
    speed = "-" if r.speed is None else f"{r.speed:,.1f} {r.unit}"
    ratio = "-" if r.ratio is None else f"{r.ratio:.2f}x"
    return [r.section, r.arm, r.device, speed, ratio, fmt_quality(r.quality), (r.check + " " + r.note).strip()]


def print_row(r: Row) -> None:
    print("  " + " | ".join(cells(r)), flush=True)


def table(rows: list[Row]) -> str:
    body = [list(COLUMNS)] + [cells(r) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in body]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def targets(rows: list[Row]) -> list[str]:
    """The issue's targets, read off the rows (a measurement, so it never changes the exit code).
    They are GPU targets: on the CPU the line says so instead of met or missed."""
    out = []
    dc = {r.arm: r for r in rows if r.section == "gan_dcgan" and r.speed}
    base = dc.get("fp32 eager")
    for arm, r in dc.items():
        if arm.startswith("bf16 + compile") and r.ratio is not None:
            line = f"DCGAN {arm}: {r.ratio:.2f}x fp32 eager ({verdict(r, 1.5)})"
            q, q0 = r.quality.get("best_frechet"), base.quality.get("best_frechet") if base else None
            out.append(line + (f"; best Fréchet {q:.3g} vs fp32 {q0:.3g}" if q is not None and q0 is not None else ""))
    cnn = [r for r in rows if r.section == "ppo_cnn" and r.speed]
    if len(cnn) >= 2:
        first, dev = cnn[0], cnn[-1]
        against = first.arm if first.arm.startswith("reference") else f"{first.arm} (no --reference given)"
        # a reference run with other settings (another env, other steps) measured another thing
        scored = verdict(dev, 2.0) if first.settings == dev.settings else "not comparable: settings differ"
        out.append(f"PPO CNN on {dev.device}: {dev.ratio:.2f}x {against} ({scored})")
    return out


def verdict(row: Row, target: float) -> str:
    if not row.device.startswith("cuda"):
        return f"target {target:g}x is for a GPU"
    return f"target {target:g}x: {'met' if row.ratio is not None and row.ratio >= target else 'missed'}"


def write_json(path: Path | None, rows: list[Row], args: argparse.Namespace, started: float) -> None:
    if path is None:
        return
    cuda = torch.cuda.is_available()
    doc = {
        "host": args.label or socket.gethostname(), "device": args.device, "quick": args.quick,
        "gpu": torch.cuda.get_device_name(0) if cuda else None, "torch": torch.__version__,
        "cuda": torch.version.cuda, "python": platform.python_version(), "cpu_count": os.cpu_count(),
        "wall_s": round(time.time() - started, 1), "args": {k: str(v) for k, v in vars(args).items()},
        "rows": [asdict(r) for r in rows], "targets": targets(rows),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2, default=str))


# what `reference_rows` reads of each row
REFERENCE_KEYS = ("section", "arm", "device", "speed", "unit", "quality", "settings")


def reference(text: str) -> Path:
    """--reference, read and checked while the arguments are: a missing or broken file was a
    traceback only once the sections before the PPO ones had run."""
    try:
        doc = json.loads(Path(text).read_text())
    except OSError as e:
        raise argparse.ArgumentTypeError(f"{text}: {e.strerror}") from None
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{text} is not JSON ({e}); give the --out file of an earlier run") from None
    rows = doc.get("rows") if isinstance(doc, dict) else None
    readable = isinstance(rows, list) and "host" in doc and all(
        isinstance(r, dict) and set(REFERENCE_KEYS) <= r.keys() for r in rows)
    if not readable:
        raise argparse.ArgumentTypeError(f"{text} is no --out file of this script: it needs a host and rows "
                                         f"with {', '.join(REFERENCE_KEYS)}")
    return Path(text)
