"""How a comparison is shown: a rich table, a PNG of the learning curves, a W&B table and plot.

The numbers come from `rlgen.compare`; this module only lays them out.
"""

from __future__ import annotations

import math
import os
import shlex
import tempfile
from pathlib import Path
from typing import Any, Sequence
from unittest import mock

import numpy as np
import rich.console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from rlgen import stats
from rlgen.compare import GroupStats, Stat, curve, metric_bounds
from rlgen.compare_groups import Group
from rlgen.errors import RlgenError, first_line
from rlgen.run_data import RunData
from rlgen.stats import Method

METHOD_NAMES = {"t": "t-interval", "bca": "BCa bootstrap interval"}


def fmt(x: float) -> str:
    """4 significant digits, thousands separators for big numbers."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.4g}"


def fmt_stat(s: Stat | None, ci: bool = True) -> str:
    if s is None:
        return "—"
    if s.n == 1:
        return fmt(s.mean)  # one run: no spread to show
    text = f"{fmt(s.mean)} ± {fmt(s.std)}"
    if not ci:
        return text
    return f"{text} [{s.note}]" if s.note else f"{text} [{fmt(s.lo)}, {fmt(s.hi)}]"


def table_rows(stats: Sequence[GroupStats], threshold: float | None) -> tuple[list[str], list[list[str]]]:
    """Column names and rows of strings: what the console table and the W&B table both show."""
    per_group = _cut_per_group(stats)
    columns = ["group", "runs", "final", "final IQM", "best", *(["cut to"] if per_group else [])]
    if threshold is not None:
        columns += [f"steps to {fmt(threshold)}", f"time to {fmt(threshold)} (s)"]
    columns.append("wall time (s)")
    rows = []
    for s in stats:
        runs = str(s.n_runs) + (f" ({', '.join(f'{n} {status}' for status, n in s.statuses.items())})"
                                if s.statuses else "")
        row = [s.label, runs, fmt_stat(s.final), fmt(s.final.iqm), fmt_stat(s.best)]
        if per_group:
            row.append(f"[{fmt(s.bounds[0])}, {fmt(s.bounds[1])}]" if s.bounds else "—")
        if threshold is not None:
            reached = f"({s.reached}/{s.n_runs})"
            row += [f"{fmt_stat(s.steps_to, ci=False)} {reached}" if s.steps_to else f"not reached {reached}",
                    fmt_stat(s.time_to_s, ci=False)]
        row.append(fmt_stat(s.wall_time_s, ci=False))
        rows.append(row)
    return columns, rows


def stats_table(stats: Sequence[GroupStats], metric: str,
                threshold: float | None = None) -> rich.console.RenderableType:
    """The title's line, then the table. Not the Table's own title: rich folds that to the
    table's width, where a line of its own is whole in a pipe or a file (`report_console`)."""
    columns, rows = table_rows(stats, threshold)
    table = Table()
    for c in columns:
        table.add_column(c, justify="left" if c == "group" else "right", overflow="fold")
    for row in rows:
        table.add_row(*map(escape, row))  # "[n=2: ...]" is text, not rich markup
    title = Text.from_markup(table_title(stats, metric), style="table.title")
    return rich.console.Group(title, table)  # rich's Group of renderables (rlgen's is a group of runs)


def table_title(groups: Sequence[GroupStats], metric: str) -> str:
    """What the numbers are, as rich markup (the metric's name escaped): the interval's method, IQM,
    and the range intervals were cut to."""
    method = METHOD_NAMES[groups[0].method] if groups else METHOD_NAMES["t"]
    if _cut_per_group(groups):
        cut = "; intervals cut to each group's range of the metric (column 'cut to')"
    elif groups and (b := groups[0].bounds) is not None:
        cut = f"; intervals cut to the metric's range [{fmt(b[0])}, {fmt(b[1])}]"
    else:
        cut = ""
    return (f"{escape(metric)}: mean ± std over runs \\[95% {method} of the mean]; IQM = interquartile mean over runs"
            f"{cut}")


def _cut_per_group(groups: Sequence[GroupStats]) -> bool:
    """Whether the groups' intervals were cut to different ranges (or some to none): then each
    row says its own, rather than one range in the title that fits only some groups."""
    return len({g.bounds for g in groups}) > 1


def _table(group: Group, metric: str) -> tuple[np.ndarray, np.ndarray]:
    """(grid, values (runs, steps)) on the union of the runs' logged steps. Each run holds its last
    value after it ends (a run stopped at its target stays there); before its first row it is NaN."""
    curves = [curve(r, metric)[:2] for r in group.runs]
    grid = np.unique(np.concatenate([s for s, _ in curves]))
    table = np.full((len(curves), len(grid)), np.nan)
    for i, (steps, values) in enumerate(curves):
        order = np.argsort(steps, kind="stable")
        idx = np.searchsorted(steps[order], grid, side="right") - 1
        table[i] = np.where(idx >= 0, values[order][np.clip(idx, 0, None)], np.nan)
    return grid, table


def mean_curve(group: Group, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, std) over a group's runs (see _table for how runs of different lengths line up)."""
    grid, table = _table(group, metric)
    counts = (~np.isnan(table)).sum(axis=0)
    mean = np.nansum(table, axis=0) / np.maximum(counts, 1)
    var = np.nansum((table - mean) ** 2, axis=0) / np.maximum(counts - 1, 1)
    return grid, mean, np.sqrt(var)


def band(group: Group, metric: str, method: Method = "t",
         bounds: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(steps, mean, lo, hi): at each step the same interval of the mean as the table's, over the
    runs that have a value there, cut to `bounds`; NaN where too few runs have one."""
    grid, table = _table(group, metric)
    mean, lo, hi = (np.full(len(grid), np.nan) for _ in range(3))
    for j in range(len(grid)):
        values = table[:, j][~np.isnan(table[:, j])]
        mean[j] = values.mean() if len(values) else np.nan
        iv = stats.clip(stats.interval(values, method), bounds, mean[j])
        lo[j], hi[j] = iv.lo, iv.hi
    return grid, mean, lo, hi


def plot_curves(groups: Sequence[Group], metric: str, path: Path, threshold: float | None = None,
                method: Method = "t") -> Path:
    """`curves_figure` written as a PNG (or the format `path`'s suffix names). The file is written
    beside `path` under a name of its own, then renamed over it: a symbolic link at `path` (planted
    in a folder of runs someone else made) is replaced, never written through."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, written = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            curves_figure(groups, metric, threshold, method).savefig(f, format=path.suffix.lstrip(".").lower() or "png")
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(written, 0o666 & ~umask)  # as an ordinary new file (mkstemp's is private)
        os.replace(written, path)
    finally:
        Path(written).unlink(missing_ok=True)
    return path


def curves_figure(groups: Sequence[Group], metric: str, threshold: float | None = None, method: Method = "t") -> Any:
    """Mean learning curve per group, its evaluation points marked, in a band of the table's 95%
    interval of the mean cut to the metric's range (a matplotlib Figure)."""
    from matplotlib.figure import Figure  # no pyplot: no GUI backend, no global state

    fig = Figure(figsize=(7.5, 4.5), dpi=120)
    ax = fig.add_subplot()
    cuts = set()
    for g in groups:
        bounds = metric_bounds(g.runs, metric)
        cuts.add(bounds)
        steps, mean, lo, hi = band(g, metric, method, bounds)
        (line,) = ax.plot(steps, mean, label=f"{g.label} (n={len(g.runs)})", lw=1.8, marker="o", ms=3)
        ax.fill_between(steps, lo, hi, color=line.get_color(), alpha=0.2, lw=0)
    if threshold is not None:
        ax.axhline(threshold, color="grey", ls="--", lw=1, label=f"threshold {fmt(threshold)}")
    ax.set_xlabel("global_step")
    ax.set_ylabel(metric)
    cut = next(iter(cuts)) if len(cuts) == 1 else None
    note = f", cut to [{fmt(cut[0])}, {fmt(cut[1])}]" if cut else ""
    if len(cuts) > 1:  # groups on different envs: no one range fits them all
        note = ", cut to each group's range where it has one"
    ax.set_title(f"{metric}: mean over runs, band: 95% {METHOD_NAMES[method]}{note}", fontsize="medium")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def log_to_wandb(groups: Sequence[Group], stats: Sequence[GroupStats], metric: str, png: Path,
                 threshold: float | None = None, project: str = "rlgen", mode: str = "offline") -> str | None:
    """One W&B run (job_type "compare") holding the table, the PNG and a line plot; returns its dir,
    or None when `mode` is "disabled" (no run is made). A W&B that cannot start is an RlgenError."""
    if mode == "disabled":
        return None
    import wandb

    columns, rows = table_rows(stats, threshold)
    curves = [mean_curve(g, metric) for g in groups]
    run = _start_wandb(png, project, mode, name=f"compare-{metric.replace('/', '_')}",
                       config={"metric": metric, "threshold": threshold,
                               "runs": [str(r.path) for g in groups for r in g.runs]})
    try:
        run.log({
            "compare/table": wandb.Table(columns=columns, data=rows),
            "compare/curves": wandb.Image(str(png)),
            "compare/plot": wandb.plot.line_series(xs=[c[0].tolist() for c in curves], ys=[c[1].tolist() for c in curves],
                                                   keys=[g.label for g in groups], title=metric, xname="global_step"),
        })
        return str(Path(run.dir).parent)
    finally:
        run.finish()


def _start_wandb(png: Path, project: str, mode: str, name: str, config: dict[str, Any]) -> Any:
    """wandb.init beside the PNG, waiting no longer than training does (logging.wandb.init_timeout's
    default; W&B's own is 90 s). Not starting is one line: the table and the PNG are written already."""
    import wandb

    from rlgen.config import WandbConfig
    from rlgen.logging_wandb import _last_open_run, start_error

    try:
        # W&B reads WANDB_MODE even when given a mode, and refuses the run over a value it refuses
        with mock.patch.dict(os.environ, {"WANDB_MODE": mode}):
            # beside a W&B run the caller has open (compare called from Python), not in place of it
            reinit = "create_new" if _last_open_run(wandb) is not None else "default"
            return wandb.init(project=project, job_type="compare", name=name, dir=str(Path(png).parent), mode=mode,
                              reinit=reinit, config=config, settings=wandb.Settings(console="off", silent=True, x_disable_stats=True,
                                                                     init_timeout=WandbConfig().init_timeout))
    except Exception as e:  # noqa: BLE001 - no key, no network, a bad WANDB_* setting: W&B's error types vary
        fix = ("log in (`wandb login`) and check the network, or log offline (--wandb offline) and `wandb sync` later"
               if mode == "online" else "fix what W&B says, or leave --wandb out")
        raise RlgenError(f"W&B did not start in {mode} mode ({start_error(e)}); the table and "
                         f"{png} are written, the W&B run is not: {fix}") from None


def check_wandb(project: str, mode: str) -> None:
    """W&B's own rules for a project name and a mode (wandb.Settings checks them), applied before any
    work: left to wandb.init, they failed after the table and the PNG were written."""
    import pydantic
    import wandb

    try:
        wandb.Settings(project=project)
    except wandb.errors.UsageError as e:
        raise RlgenError(f"--project {project}: {first_line(e)}; give another name (the project's name alone: W&B "
                         "takes the entity, user or team, from WANDB_ENTITY or your login)") from None
    try:
        wandb.Settings(mode=mode)  # --wandb's choices are W&B's; only WANDB_MODE's can be another
    except pydantic.ValidationError as e:
        raise RlgenError(f"WANDB_MODE={shlex.quote(mode)}: {e.errors()[0]['msg']}; set one of them, or give "
                         "--wandb offline or --wandb online") from None


def default_png(runs: Sequence[RunData], metric: str) -> Path:
    """compare_<metric>.png in the deepest folder that holds every run, a run in the runner's own
    layout (<logging.dir>/<name>/<id>, a sweep's trials too) counting as its logging.dir's (runs/),
    so that the runs of one config and of several put it in one place; a run given a folder of its
    own (--run-dir) counts as the folder that holds it."""
    roots = [r.path.parent.parent if r.path.parent.name == r.config.get("name") else r.path.parent for r in runs]
    common = Path(os.path.commonpath([str(p) for p in roots])) if roots else Path(".")
    return common / png_name(metric)


FIGURE_SUFFIXES = (".png", ".pdf", ".svg")  # matplotlib writes the format the file name ends in


def png_name(metric: str) -> str:
    return f"compare_{metric.replace('/', '_')}.png"


def figure_path(out: str | Path, metric: str) -> Path:
    """The file `--out` names: in a folder (one that exists, or a path ending in /) compare_<metric>.png;
    else the file itself, which must end in .png, .pdf or .svg (refused here, before any work)."""
    text = str(out)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return path / png_name(metric)
    if path.suffix.lower() not in FIGURE_SUFFIXES:
        ending = f"not {path.suffix!r}" if path.suffix else "and this name has no ending"
        raise RlgenError(f"--out {text}: a figure file ends in {', '.join(FIGURE_SUFFIXES[:-1])} or "
                         f"{FIGURE_SUFFIXES[-1]}, {ending}; give such a name, or a folder (ending in /) for "
                         f"{png_name(metric)} in it")
    return path


def link_wandb_runs(run_dirs: Sequence[Path], workspace: Path) -> int:
    """Symlink the offline W&B runs of `run_dirs` (a resumed run has one per start) into one folder,
    so that `wandb leet FOLDER` shows them side by side (each rlgen run keeps its own `wandb/` in
    its run directory); returns how many it linked. The folder then shows these runs alone: links
    to W&B runs that an earlier call left there go (only links: nothing they point to). W&B names a
    folder by its start time and run id, so a run and a copy of it share one name: the second
    gets `-2` after it."""
    workspace.mkdir(parents=True, exist_ok=True)
    for old in workspace.glob("*run-*"):
        if old.is_symlink() and Path(os.readlink(old)).parent.name == "wandb":
            old.unlink()
    linked: dict[Path, str] = {}  # W&B run folder -> its link's name
    for run_dir in run_dirs:
        for src in sorted((Path(run_dir) / "wandb").glob("*run-*")):
            if not src.is_dir() or src.is_symlink() or src.resolve() in linked:
                continue  # the `latest-run` link W&B leaves, or a folder linked already
            name, n = src.name, 1
            while (workspace / name).exists() or (workspace / name).is_symlink():
                n += 1
                name = f"{src.name}-{n}"
            (workspace / name).symlink_to(src.resolve(), target_is_directory=True)
            linked[src.resolve()] = name
    return len(linked)
