"""Several seeds of one config (`rlgen train CONFIG --seeds 0,1,2 [--parallel N]`).

Every seed is the same config with `seed=S`, so the runs share the W&B group (the name and what
differs from the bundled config, rlgen/identity.py; the seed never counts), the job_type (the kind)
and the tags (agent, env, backbone, overrides): the W&B UI groups them with no manual work. Run
directories read `<name>/<date>-<time>-s<seed>-<hex>`, W&B run names `ppo_cartpole lr=3e-4 s1`. With
`--parallel N` the seeds run as N separate `rlgen train` processes, each in a run directory the
parent creates; their output goes to a log each and is shown when they end, and Ctrl-C / SIGTERM
to the parent reaches every child once.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

from rich.markup import escape

from rlgen import rundir, summary_file
from rlgen.api_configs import resume_line
from rlgen.config import MAX_SEED, ExperimentConfig
from rlgen.errors import Interrupted, RlgenError
from rlgen.logging import console

if TYPE_CHECKING:
    from rlgen.compare import Mode


MAX_SEEDS = 10_000  # every seed's config is checked before the first starts
STOPPED = (128 + signal.SIGINT, 128 + signal.SIGTERM)  # a run's exit codes after Ctrl-C / SIGTERM: it can resume


def parse_seeds(text: str) -> list[int]:
    """"0,1,2" -> [0, 1, 2]; "0-4" -> [0, 1, 2, 3, 4]; ranges and lists mix ("0-2,7")."""
    spans: list[range] = []
    for part in (p.strip() for p in text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+))?", part)
        if not m or (m[2] is not None and int(m[2]) < int(m[1])):
            raise RlgenError(f"--seeds {text!r}: expected seeds like 0,1,2 or a range like 0-4")
        spans.append(range(int(m[1]), int(m[2] or m[1]) + 1))
    if (top := max(r[-1] for r in spans)) > MAX_SEED:
        raise RlgenError(f"--seeds {text!r}: seed {top} is too large; a seed is 0 to {MAX_SEED:,} (numpy's range)")
    if (count := sum(len(r) for r in spans)) > MAX_SEEDS:
        raise RlgenError(f"--seeds {text!r} is {count:,} seeds; one command takes at most {MAX_SEEDS:,} "
                         "(split the range over several commands, or workers of one --storage queue)")
    seeds = [s for r in spans for s in r]
    if len(set(seeds)) != len(seeds):
        raise RlgenError(f"--seeds {text!r}: a seed is listed twice")
    return seeds


@dataclass
class SeedResult:
    seed: int
    exit_code: int
    run_dir: Path
    output: str  # the child's console output


def run_in_processes(config: str, overrides: Sequence[str], cfgs: Mapping[int, ExperimentConfig],
                     parallel: int, trust: bool = False) -> list[SeedResult]:
    """Train each seed as its own `rlgen train` process (`--trust` with `trust`), `parallel` at a
    time, each in a run directory this process creates for it. The children run in sessions of
    their own, so a terminal's Ctrl-C reaches only this process, which passes SIGINT / SIGTERM on
    to every child exactly once per signal (a second Ctrl-C aborts them, as for one run), starts no
    more seeds, and waits until every child has written its checkpoint."""
    seeds = list(cfgs)
    console.print(f"training seeds {', '.join(map(str, seeds))} of {escape(str(config))}, "
                  f"{parallel} processes at a time")
    # the folders the runs go in that are not there yet: removed again if no run stays in them
    made = {tuple(rundir.absent(Path(c.logging.dir) / c.name)) for c in cfgs.values()}
    waiting, running, results = list(seeds), {}, {}
    stop: list[int] = []

    def forward(signum: int, frame: Any) -> None:
        stop.append(signum)
        for child in running.values():
            child.proc.send_signal(signum)
        console.print(f"\n[yellow]{signal.Signals(signum).name}[/]: passed to {len(running)} run(s); waiting for "
                      "their checkpoints" + (" (Ctrl-C again aborts them)" if len(stop) == 1 else ""))

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with SeedsProgress(len(seeds), parallel) as bar:
            while waiting or running:
                while waiting and len(running) < parallel and not stop:
                    seed = waiting.pop(0)
                    running[seed] = _Child.start(config, overrides, seed, cfgs[seed], trust)
                for seed, child in list(running.items()):
                    if child.proc.poll() is not None:
                        results[seed] = child.finish()
                        del running[seed]
                        _show(results[seed])
                        bar.finished(results[seed])
                if stop and not running:
                    break
                time.sleep(0.1)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for folders in made:
            rundir.prune(list(folders))
    if stop:
        _report_interrupted([results[s] for s in seeds if s in results], waiting)
    return [results[s] for s in seeds if s in results]


def train_seeds(config: str, overrides: Sequence[str], seeds: Sequence[int], parallel: int = 1) -> list[Path]:
    """`rlgen train CONFIG --seeds ... --parallel N` for scripts (the benchmarks): the run
    directories, in the order of `seeds`; a seed that failed is an error, one stopped by Ctrl-C or
    SIGTERM raises `Interrupted` (exit 130 / 143 for a script, as for `rlgen train`)."""
    from rlgen.api import load_config

    refuse_torchrun()
    cfgs = {s: load_config(config, [*overrides, f"seed={s}"]) for s in seeds}  # every problem first
    results = run_in_processes(config, list(overrides), cfgs, parallel)
    if stopped := [r.exit_code - 128 for r in results if r.exit_code in STOPPED]:
        raise Interrupted(stopped[0])  # Ctrl-C / SIGTERM: the caller was asked to stop, as `rlgen train` is
    if (error := unfinished(config, seeds, results)) is not None:
        raise error
    return [r.run_dir for r in results]


def unfinished(config: str, seeds: Sequence[int], results: Sequence[SeedResult]) -> RlgenError | None:
    """The error naming the seeds that failed or never started; None when every seed completed."""
    if bad := [r.seed for r in results if r.exit_code] + [s for s in seeds if s not in {r.seed for r in results}]:
        return RlgenError(f"{config}: seed(s) {', '.join(map(str, bad))} did not finish; their output is above")
    return None


def refuse_torchrun() -> None:
    """`--seeds` under torchrun with several processes: one line, before anything is written."""
    from rlgen.distributed import refuse_several_processes

    refuse_several_processes("rlgen train --seeds", "one run per seed, each of one process",
                             "to train a seed data-parallel, give it a torchrun job of its own with seed=S "
                             "instead of --seeds")


@dataclass
class _Child:
    seed: int
    proc: subprocess.Popen
    run_dir: Path
    log: Any

    @classmethod
    def start(cls, config: str, overrides: Sequence[str], seed: int, cfg: ExperimentConfig, trust: bool) -> _Child:
        run_dir = rundir.create(Path(cfg.logging.dir) / cfg.name, seed)  # chosen here: no parsing the child's output
        cmd = [*_rlgen_here(), "train", config, *overrides, f"seed={seed}", "train.progress=false",
               "--run-dir", str(run_dir), *(["--trust"] if trust else [])]
        log = tempfile.TemporaryFile("w+", encoding="utf-8")
        env = {**os.environ, "COLUMNS": "1000"}  # rich must not wrap the report's lines
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        return cls(seed, proc, run_dir, log)

    def finish(self) -> SeedResult:
        self.log.seek(0)
        output = self.log.read()
        self.log.close()
        if self.run_dir.is_dir() and all(p.name == rundir.LOCK for p in self.run_dir.iterdir()):
            shutil.rmtree(self.run_dir)  # the child stopped before its run began (a bad config): no empty run left
        return SeedResult(self.seed, exit_status(self.proc.returncode), self.run_dir, output)


def _rlgen_here() -> list[str]:
    """The command line that starts rlgen's CLI in a child with this process's sys.path, so that
    it imports what this process does: the rlgen running here, and the modules a config names by
    import path. `python -m rlgen` would put the working directory first instead, where a folder
    named rlgen (a checkout after a non-editable install) stands in for the rlgen installed."""
    code = f"import sys; sys.path[:] = {[str(p) for p in sys.path]!r}; from rlgen.cli import main; sys.exit(main())"
    return [sys.executable, "-c", code]


def exit_status(returncode: int) -> int:
    """A child's exit status as a shell gives it: killed by signal N (Popen's -N) is 128 + N."""
    return 128 - returncode if returncode < 0 else returncode


def _report_interrupted(done: list[SeedResult], not_started: list[int]) -> None:
    """Every run's directory, and how to go on with it."""
    for r in done:
        state = ("interrupted" if r.exit_code in STOPPED else "completed" if r.exit_code == 0
                 else f"exit code {r.exit_code}")
        console.print(f"seed {r.seed}: {state}, run directory {escape(str(r.run_dir))}", soft_wrap=True)
        if r.exit_code in STOPPED:
            console.print(f"  resume with: {escape(resume_line(r.run_dir))}", soft_wrap=True)
    if not_started:
        console.print(f"not started: seed(s) {', '.join(map(str, not_started))}")


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


def print_seeds_table(run_dirs: Sequence[Path], metric: str, threshold: float | None, mode: Mode) -> None:
    """The seeds side by side, one group: mean ± std of the final and best values (the best and
    the steps to `threshold` in the config's train.early_stop.mode), and the command that shows
    them again."""
    from rlgen.compare import compare, compare_command, read_run
    from rlgen.logging import report_console
    from rlgen.compare_report import stats_table

    if len(run_dirs) < 2:
        return
    try:  # the table's metric is the config's
        _, stats = compare([read_run(p) for p in run_dirs], metric, by=["name"], threshold=threshold, mode=mode,
                           metric_fix="set train.early_stop.metric to one of them")
    except RlgenError as e:  # a run that logged no eval; the runs themselves are fine
        console.print(f"[yellow]no seed table:[/] {escape(str(e))}")
        return
    for s in stats:
        s.label = s.label.removeprefix("name=")
    report_console(stderr=True).print(stats_table(stats, metric, threshold))  # whole off a terminal, as compare's
    console.print(f"compare later with: {escape(compare_command(run_dirs, metric, mode, threshold))}", soft_wrap=True)


class SeedsProgress:
    """A live bar over seeds run side by side, as `rlgen train` shows one run: seeds done of n,
    running, failed, and the mean of the finished runs' best values."""

    def __init__(self, total: int, parallel: int):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.total, self.parallel, self.failed, self.interrupted, self.bests = total, parallel, 0, 0, []
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
        self.interrupted += r.exit_code in STOPPED  # not a failure: it resumes
        self.failed += r.exit_code not in (0, *STOPPED)
        best = _summary(r.run_dir).get("best") or {}
        if isinstance(best.get("value"), (int, float)):
            self.metric = best.get("metric")
            self.bests.append(float(best["value"]))
        done = self._bar.tasks[0].completed + 1
        self._bar.update(self._task, completed=done, description=self._text(int(done)))

    def _text(self, done: int) -> str:
        parts = [f"running {min(self.parallel, self.total - done)}", f"failed {self.failed}"]
        if self.interrupted:
            parts.append(f"interrupted {self.interrupted}")
        if self.bests:
            mean = sum(self.bests) / len(self.bests)
            parts.append(f"best {escape(str(self.metric))}: mean {mean:.4g} over {len(self.bests)}")
        return "seeds  " + " · ".join(parts)


def _summary(run_dir: Path | None) -> dict:
    try:
        if run_dir is None:
            return {}
        return summary_file.from_text((run_dir / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
