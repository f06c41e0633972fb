"""Several seeds of one config (`rlgen train CONFIG --seeds 0,1,2 [--parallel N]`).

Every seed is the same config with `seed=S`, so the runs share the W&B group (the name and what
differs from the bundled config, rlgen/identity.py; the seed never counts), the job_type (the kind)
and the tags (agent, env, backbone, overrides): the W&B UI groups them with no manual work. Run
directories read `<name>/<date>-<time>-s<seed>-<hex>`, W&B run names `ppo_cartpole lr=3e-4 s1`. With `--parallel N` the seeds run as N separate
`rlgen train` processes; their output goes to a log each and is shown when they end.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rlgen.errors import RlgenError
from rlgen.logging import console


def parse_seeds(text: str) -> list[int]:
    """"0,1,2" -> [0, 1, 2]; "0-4" -> [0, 1, 2, 3, 4]; ranges and lists mix ("0-2,7")."""
    seeds: list[int] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise RlgenError(f"--seeds {text!r}: expected seeds like 0,1,2 or a range like 0-4")
        seeds += range(int(m[1]), int(m[2] or m[1]) + 1)
    if len(set(seeds)) != len(seeds):
        raise RlgenError(f"--seeds {text!r}: a seed is listed twice")
    return seeds


@dataclass
class SeedResult:
    seed: int
    exit_code: int
    run_dir: Path | None
    output: str  # the child's console output


def run_in_processes(config: str, overrides: Sequence[str], seeds: Sequence[int], parallel: int) -> list[SeedResult]:
    """Train each seed as its own `rlgen train` process, `parallel` at a time. Ctrl-C reaches every
    child (one process group), and each ends its unit and writes a checkpoint as usual."""
    console.print(f"training seeds {', '.join(map(str, seeds))} of {config}, {parallel} processes at a time")
    results: list[SeedResult] = []
    with ThreadPoolExecutor(max_workers=parallel) as pool, SeedsProgress(len(seeds), parallel) as bar:
        futures = [pool.submit(_train_one, config, overrides, s) for s in seeds]
        for fut in as_completed(futures):
            r = fut.result()
            results.append(r)
            _show(r)
            bar.finished(r)
    return sorted(results, key=lambda r: seeds.index(r.seed))


def _train_one(config: str, overrides: Sequence[str], seed: int) -> SeedResult:
    cmd = [sys.executable, "-m", "rlgen", "train", config, *overrides, f"seed={seed}", "train.progress=false"]
    env = {**os.environ, "COLUMNS": "1000"}  # rich must not wrap the "run directory:" line
    with tempfile.TemporaryFile("w+", encoding="utf-8") as log:
        code = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
        log.seek(0)
        output = log.read()
    m = re.findall(r"run directory: (\S.*)", output)
    return SeedResult(seed, code, Path(m[-1].strip()) if m else None, output)


def _show(r: SeedResult) -> None:
    lines = r.output.rstrip().splitlines()
    if r.exit_code == 0:
        # The child's closing report: from its status line ("completed at step ...") on.
        start = max((i for i, line in enumerate(lines) if re.match(r"\w+ at step [\d,]+ in", line)), default=len(lines))
        body = "\n".join(lines[start:])
    else:
        body = "\n".join(lines[-20:])
    color = "green" if r.exit_code == 0 else "red"
    console.print(f"[{color}]seed {r.seed}[/] (exit code {r.exit_code}):", highlight=False)
    console.print(body, markup=False, highlight=False)


def print_seeds_table(run_dirs: Sequence[Path], metric: str, threshold: float | None) -> None:
    """The seeds side by side, one group: mean ± std of the final and best values."""
    from rlgen.compare import compare, read_run
    from rlgen.compare_report import stats_table

    if len(run_dirs) < 2:
        return
    try:
        _, stats = compare([read_run(p) for p in run_dirs], metric, by=["name"], threshold=threshold)
    except RlgenError as e:  # a run that logged no eval; the runs themselves are fine
        console.print(f"[yellow]no seed table:[/] {e}")
        return
    for s in stats:
        s.label = s.label.removeprefix("name=")
    console.print(stats_table(stats, metric, threshold))
    console.print(f"compare later with: rlgen compare {' '.join(map(str, run_dirs))}", soft_wrap=True)


class SeedsProgress:
    """A live bar over seeds run side by side, as `rlgen train` shows one run: seeds done of n,
    running, failed, and the mean of the finished runs' best values."""

    def __init__(self, total: int, parallel: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.total, self.parallel, self.failed, self.bests = total, parallel, 0, []
        self.metric: str | None = None
        self._bar = Progress(TextColumn("[progress.description]{task.description}"), BarColumn(),
                             MofNCompleteColumn(), TimeElapsedColumn(), console=console)
        self._task = self._bar.add_task(self._text(0), total=total)

    def __enter__(self) -> SeedsProgress:
        self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.stop()

    def finished(self, r: SeedResult) -> None:
        self.failed += r.exit_code != 0
        best = _summary(r.run_dir).get("best") or {}
        if isinstance(best.get("value"), (int, float)):
            self.metric = best.get("metric")
            self.bests.append(float(best["value"]))
        done = self._bar.tasks[0].completed + 1
        self._bar.update(self._task, completed=done, description=self._text(int(done)))

    def _text(self, done: int) -> str:
        parts = [f"running {min(self.parallel, self.total - done)}", f"failed {self.failed}"]
        if self.bests:
            parts.append(f"best {self.metric}: mean {sum(self.bests) / len(self.bests):.4g} over {len(self.bests)}")
        return "seeds  " + " · ".join(parts)


def _summary(run_dir: Path | None) -> dict:
    try:
        return json.loads((run_dir / "summary.json").read_text()) if run_dir is not None else {}
    except (OSError, ValueError):
        return {}
