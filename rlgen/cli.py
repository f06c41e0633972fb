"""`rlgen train | eval | inspect | export | import-zoo | record | compare | sweep | tournament | play |
list`: argument parsing on top of `rlgen.api`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Sequence

from rlgen.cli_help import (COMPARE_EXAMPLES, EVAL_EXAMPLES, EXAMPLES, EXPORT_EXAMPLES, IMPORT_ZOO_EXAMPLES,
                            INSPECT_EXAMPLES, LIST_EXAMPLES, PLAY_EXAMPLES, RECORD_EXAMPLES, SWEEP_EXAMPLES,
                            TOURNAMENT_EXAMPLES)
from rlgen.config import MAX_COUNT, MAX_SEED, is_study_name
from rlgen.errors import ConfigError, RlgenError, shell_line
from rlgen.logging import console


def main(argv: Sequence[str] | None = None) -> int:
    _one_line_warnings()
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not _take_late_positionals(args, extra):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RlgenError as e:  # ConfigError included: one readable message, no traceback
        console.print(f"[red]error:[/] {_esc(str(e))}")
        return 2
    except OSError as e:  # a path that cannot be read or written: say which, in one line
        console.print(f"[red]error:[/] {_esc(_os_error(e))}")
        return 2
    except KeyboardInterrupt as e:
        console.print("[yellow]aborted[/]")
        return 128 + getattr(e, "signum", 2)  # 130 after Ctrl-C, 143 after SIGTERM


def _take_late_positionals(args: argparse.Namespace, extra: list[str]) -> bool:
    """Positionals after an option (`tournament runs/a --checkpoint best runs/b`, `train CONFIG --seeds
    0,1 a.b=c`), which argparse leaves over, appended to the command's list positional (its `late`
    default; overrides must be key=value). False when they are not that. (argparse's
    parse_intermixed_args would do it, but refuses a parser with subcommands.)"""
    dest = getattr(args, "late", None)
    if dest is None or any(e.startswith("-") for e in extra):
        return False
    if dest == "overrides" and any("=" not in e for e in extra):
        return False
    setattr(args, dest, [*getattr(args, dest), *extra])
    return True


def _one_line_warnings() -> None:
    """rlgen's own warnings (a plugin left out) as `warning: ...` lines; any other as Python prints it."""
    import warnings

    from rlgen.errors import RlgenWarning

    show = warnings.showwarning
    if getattr(show, "rlgen", False):
        return

    def showwarning(message, category, filename, lineno, file=None, line=None):  # noqa: ANN001
        if issubclass(category, RlgenWarning):
            console.print(f"[yellow]warning:[/] {_esc(str(message))}")
        else:
            show(message, category, filename, lineno, file, line)

    showwarning.rlgen = True  # type: ignore[attr-defined]
    warnings.showwarning = showwarning


def _os_error(e: OSError) -> str:
    """One line for a path that cannot be read or written; a file in the way of a folder is named."""
    if isinstance(e, (FileExistsError, NotADirectoryError)) and e.filename:
        if (blocking := _file_in_the_way(Path(e.filename))) is not None:
            return f"{blocking} is a file, so no folder can be made there or under it: give another path"
    return f"{e.strerror or e}{f': {e.filename}' if e.filename else ''}"


def _file_in_the_way(folder: Path) -> Path | None:
    """The file at `folder` or at one of its parents, if any."""
    return next((p for p in (folder, *folder.parents) if p.is_file()), None)


def cmd_train(args: argparse.Namespace) -> int:
    from rlgen.api import train

    if args.seeds is not None:
        return train_seeds(args)
    if args.resume is not None and args.run_dir is not None:
        raise RlgenError("--resume continues a run in its own directory; --run-dir is for a new run")
    if args.parallel != 1:
        raise RlgenError("--parallel N runs seeds side by side: use it with --seeds, e.g. --seeds 0,1,2 --parallel 2")
    if args.storage is not None or args.study is not None:
        raise RlgenError("--storage/--study make a queue of seeds: use them with --seeds, e.g. --seeds 0-19 --storage URL")
    if args.resume is not None:
        if args.config is not None:  # argparse reads a first override as CONFIG
            if "=" not in args.config:
                raise RlgenError(f"--resume continues with the config saved in {args.resume}; give overrides only "
                                 f"(key=value), not a CONFIG ({args.config!r})")
            args.overrides, args.config = [args.config, *args.overrides], None
    elif args.config is None:
        raise RlgenError("rlgen train needs a CONFIG (a YAML path or a bundled name; see `rlgen list`)")
    run = train(args.config, args.overrides, resume=args.resume, run_dir=args.run_dir, trust=args.trust)
    if os.environ.get("RANK", "0") == "0":  # under torchrun, one report: rank 0's (the others log nothing either)
        _report(run.summary, run.run_dir)
    return run.exit_code


def train_seeds(args: argparse.Namespace) -> int:
    """`--seeds 0,1,2`: one run per seed, in this process one after another or `--parallel N` at a time."""
    from rlgen.api import load_config, train
    from rlgen.seeds import parse_seeds, print_seeds_table, run_in_processes

    if args.resume or args.config is None:
        raise RlgenError("--seeds starts new runs from a CONFIG; resume each run with --resume RUN_DIR")
    if args.run_dir is not None:
        raise RlgenError("--run-dir names one run's directory; --seeds makes one directory per seed")
    if given := [o for o in args.overrides if o.partition("=")[0].strip() == "seed"]:
        raise RlgenError(f"--seeds {args.seeds} and {given[0]} both set the seed; drop one")
    seeds = parse_seeds(args.seeds)
    if args.study is not None and args.storage is None:
        raise RlgenError("--study names a shared queue of seeds: give it with --storage URL (or drop --study)")
    if args.storage is not None:
        return _train_seed_queue(args, seeds)
    cfgs = {s: load_config(args.config, [*args.overrides, f"seed={s}"]) for s in seeds}  # every problem first
    if args.parallel > 1:
        results = run_in_processes(args.config, args.overrides, cfgs, args.parallel)
        run_dirs = [r.run_dir for r in results if (r.run_dir / "metrics.jsonl").is_file()]
        code = next((r.exit_code for r in results if r.exit_code), 0)
    else:
        run_dirs, code = [], 0
        for i, s in enumerate(seeds, 1):
            console.print(f"[bold]seed {s}[/] ({i} of {len(seeds)})")
            run = train(cfgs[s])
            _report(run.summary, run.run_dir)
            run_dirs.append(run.run_dir)
            if (code := run.exit_code) != 0:
                break  # interrupted: the remaining seeds do not start
    stop = cfgs[seeds[0]].train.early_stop
    print_seeds_table(run_dirs, stop.metric, stop.target, stop.mode)
    return code


def _train_seed_queue(args: argparse.Namespace, seeds: list[int]) -> int:
    """`--seeds 0-19 --storage URL`: this process is one of any number of workers on one queue."""
    from rlgen.seeds_queue import train_seed_queue

    if args.parallel != 1:
        raise RlgenError("--storage makes this process one worker of a shared queue: start more workers "
                         "(the same command, here or on other machines) instead of --parallel")
    return train_seed_queue(args.config, args.overrides, seeds, args.storage, study=args.study)


def cmd_eval(args: argparse.Namespace) -> int:
    """The figures go to stdout (`rlgen eval RUN > scores.txt`); warnings and progress to stderr."""
    from rich.console import Console
    from rich.table import Table as RichTable

    from rlgen.api import load_run
    from rlgen.logging import Table as LogTable

    with load_run(args.run_dir, checkpoint=args.checkpoint, trust=args.trust) as run:
        video_dir = None
        if args.video:  # a folder per checkpoint step, as training's step_N: another eval replaces none of them
            run.experiment  # opened now: its step names the folder
            video_dir = run.run_dir / "media" / "videos" / f"eval_step_{run.global_step}"
        metrics = run.evaluate(episodes=args.episodes, video_dir=video_dir)  # a refused video leaves no folder
        out = Console(highlight=False)
        out.print(f"[bold]{run.config.name}[/] at step {run.global_step:,} ({run.checkpoint} checkpoint):")
    tables = {k: v for k, v in metrics.items() if isinstance(v, LogTable)}
    for k, v in metrics.items():
        if k not in tables:
            shown = f"{v:.4g}" if isinstance(v, float) else getattr(v, "path", None) or v  # a picture: its file
            out.print(f"  {k:<22} {shown}")
    for k, t in tables.items():
        grid = RichTable(*map(str, t.columns), title=k)
        for row in t.rows:
            grid.add_row(*(f"{c:.4g}" if isinstance(c, float) else str(c) for c in row))
        out.print(grid)
    if video_dir is not None:  # a kind that records none (selfplay, teams) says so, rather than naming an empty folder
        from rlgen.logging import Video

        written = any(isinstance(v, Video) for v in metrics.values())
        out.print(f"  video in {video_dir}" if written else f"  no video: kind {run.config.kind!r} records none")
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """A run's roles (its torch modules by name), each with the backbone transfer would take from it."""
    from rich.console import Console

    from rlgen.api import load_run
    from rlgen.transfer import resolve_run, roles_table

    out = Console(highlight=False)
    with load_run(resolve_run(args.run_dir), checkpoint=args.checkpoint, trust=args.trust) as run:
        rows = roles_table(run.modules())
        out.print(f"[bold]{_esc(run.config.name)}[/] ({run.config.kind}) at step {run.global_step:,} "
                  f"({run.checkpoint} checkpoint): {_esc(str(run.run_dir))}")
    for role, whole, backbone, tensors in rows:
        out.print(f"  [bold cyan]{role}[/]  {_esc(whole)}")
        out.print(f"    backbone: {_esc(backbone)}")
        for name, shape in tensors if args.tensors else ():
            out.print(f"      {name:<40} {shape}")
    out.print("use one as a backbone's init: {run: RUN_DIR, role: ROLE, freeze: true}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from rlgen.api import record
    from rlgen.envs.demos import read_demos, written_format

    path = record(args.run_dir, args.episodes, args.out, seed=args.seed, deterministic=not args.stochastic,
                  fmt=args.format, checkpoint=args.checkpoint, trust=args.trust)
    demos = read_demos(path, fmt=written_format(path, args.format))  # read back as written, not guessed
    meta = demos.metadata
    console.print(f"{demos.n_episodes} episodes, {len(demos.observations):,} steps of {meta.get('env_id')} -> {path}")
    console.print(f"  expert return {meta['expert_return']:.4g} (mean), random policy {meta['random_return']:.4g}")
    return 0


def cmd_tournament(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rlgen.agents.selfplay.play import ratings_table, restore, tournament

    exps = []
    try:
        for p in args.run_dirs:
            which = None if Path(p).parent.name == "checkpoints" else args.checkpoint  # a checkpoint dir: itself
            exps.append(restore(Path(p), trust=args.trust, checkpoint=which))
        rows = tournament(exps, games_per_pair=args.games, snapshots=args.snapshots)
    finally:
        for exp in exps:
            exp.close()
    Console().print(ratings_table(rows))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from rlgen.agents.selfplay.play import Quit, play_human, restore

    exp = restore(Path(args.run_dir), trust=args.trust, checkpoint=args.checkpoint)
    console.print(f"playing {exp.label} ({exp.checkpoint} checkpoint)")
    try:
        play_human(exp, seat=args.seat)
    except Quit:  # typed q: a choice, not an interruption
        console.print("game left unfinished (you quit)")
    finally:
        exp.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rlgen.listing import listing, plain_listing

    out = Console(highlight=False)  # the listing is the result: stdout, so that it can be piped
    if out.is_terminal:
        out.print(listing(show_all_envs=args.all))
    else:  # a pipe or a file: whole lines, no padding, no cut descriptions
        sys.stdout.write(plain_listing(show_all_envs=args.all))
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from rlgen.export import export

    files = export(args.run_dir, args.format, args.out, checkpoint=args.checkpoint, trust=args.trust, force=args.force)
    for f in files:
        print(f)  # the result: stdout, one path a line
    return 0


def cmd_import_zoo(args: argparse.Namespace) -> int:
    from rlgen.agents.rl import zoo
    from rlgen.api import load_config

    if args.out not in (None, "-") and not args.force and (Path(args.out).exists() or Path(args.out).is_symlink()):
        raise RlgenError(f"-o {args.out} exists already: give a new file name, or --force to replace it")
    conversion = zoo.convert(args.algo, args.env, Path(args.file) if args.file else None)
    load_config(conversion.config)  # it must validate before it is written
    text = conversion.yaml()
    if args.out in (None, "-"):
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text)
        console.print(f"wrote {_esc(args.out)} ({_esc(conversion.source)}); "
                      f"train it: {_command('rlgen', 'train', args.out)}")
    if conversion.fallback:
        console.print(f"[yellow]warning:[/] {_esc(conversion.fallback)}")
    for item in conversion.unsupported:
        console.print(f"[yellow]not converted:[/] {_esc(item)}")
    return 0


def _zoo_export_parsers(sub: Any) -> None:
    x = sub.add_parser("export", help="write a trained run as SB3 model.zip, ONNX or TorchScript",
                       description="RL runs: --format sb3 writes model.zip (+ vecnormalize.pkl) for PPO.load / the "
                       "algorithm's load and rl-zoo3's enjoy; onnx and torchscript write the deterministic policy "
                       "(observation -> action). GAN runs: onnx and torchscript write the generator.",
                       epilog=EXPORT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("--format", required=True, choices=["sb3", "onnx", "torchscript"])
    x.add_argument("-o", "--out", type=_nonempty, help="output folder, new or empty or an earlier export's "
                   "(default: RUN_DIR/export)")
    x.add_argument("--force", action="store_true", help="write into an output folder that holds other files")
    _checkpoint_arg(x)
    x.add_argument("--trust", action="store_true", help=TRUST_HELP)
    x.set_defaults(func=cmd_export)

    z = sub.add_parser("import-zoo", help="convert rl-zoo3's tuned hyperparameters into an rlgen config",
                       description="Read rl-zoo3's hyperparameter file for ALGO (from the installed rl_zoo3 package, "
                       "or --file) and write the entry for ENV as an rlgen config. What does not convert is listed.",
                       epilog=IMPORT_ZOO_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    z.add_argument("algo", metavar="ALGO", help="rl-zoo3's algorithm name: ppo, a2c, dqn, sac, td3, ppo_lstm, ...")
    z.add_argument("env", metavar="ENV", help="the env id, e.g. LunarLander-v3")
    z.add_argument("-o", "--out", type=_nonempty, help="the YAML to write, a new file (default: stdout)")
    z.add_argument("--force", action="store_true", help="replace the -o file when it exists")
    z.add_argument("--file", type=_nonempty,
                   help="an rl-zoo3-format hyperparameter YAML of your own instead of rl_zoo3's")
    z.set_defaults(func=cmd_import_zoo)


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rlgen.compare import compare, read_runs, shared_early_stop
    from rlgen.compare_report import default_png, figure_path, link_wandb_runs, log_to_wandb, plot_curves, stats_table

    runs = read_runs(args.runs)
    args.metric, args.mode = shared_early_stop(runs, args.metric, args.mode)
    given = figure_path(args.out, args.metric) if args.out is not None else None  # before the table
    if given is not None and (blocking := _file_in_the_way(given.parent)) is not None:
        raise RlgenError(f"--out {args.out}: {blocking} is a file, so the figure cannot go under it")
    if given is not None and args.wandb and given.suffix.lower() != ".png":
        raise RlgenError(f"--out {args.out}: --wandb logs the figure as an image; give --out a .png "
                         "(or leave --wandb out)")
    by = [k.strip() for item in args.by or [] for k in item.split(",") if k.strip()]
    groups, stats = compare(runs, args.metric, by=by or None, threshold=args.threshold, mode=args.mode, method=args.ci,
                            unfinished=args.include_unfinished, repeats=args.include_repeats)
    out = Console(highlight=False)  # the table is the result: stdout, so that it can be redirected
    if not out.is_terminal:
        out.width = 1000  # a file or pipe gets the whole table at its own width, no fold
    out.print(stats_table(stats, args.metric, args.threshold))
    png = plot_curves(groups, args.metric, given or default_png([r.path for r in runs], args.metric),
                      threshold=args.threshold, method=args.ci)
    console.print(f"{sum(len(g.runs) for g in groups)} run(s) in {len(groups)} group(s); learning curves: {png}")
    if args.leet:
        workspace = Path(args.leet)
        n = link_wandb_runs([r.path for r in runs], workspace)
        console.print(f"{n} offline W&B run(s) linked into {_esc(str(workspace))}; browse them: "
                      f"{_command('wandb', 'leet', workspace)}")
    if args.wandb:
        where = log_to_wandb(groups, stats, args.metric, png, args.threshold, project=args.project, mode=args.wandb)
        console.print(f"W&B comparison run: {where}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    from rlgen.sweep import Sweep, read_sweep

    spec = read_sweep(args.sweep, args.overrides)
    for key in ("storage", "study"):
        if getattr(args, key):
            setattr(spec, key, getattr(args, key))
    from rlgen.api import load_config, make_experiment

    sweep = Sweep(spec, load=load_config, make_experiment=make_experiment)
    if args.status:
        from rich.console import Console

        Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(sweep.status())
        return 0
    sweep.run(args.n_trials)
    return 0


def _sweep_parser(sub: Any) -> None:
    s = sub.add_parser("sweep", help="hyperparameter sweep with Optuna (pruning, best config as YAML)",
                       description="Run an Optuna study: every trial a full run under runs/<study>/ in one W&B group, "
                       "poor trials pruned from their eval metric, the best trial's config written to "
                       "runs/<study>/best.yaml. See the README (Sweeps) for the sweep file.",
                       epilog=SWEEP_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("sweep", metavar="SWEEP.yaml", help="the sweep file: base config, search space, pruner")
    s.add_argument("overrides", nargs="*", help="dotted overrides of the base config for every trial")
    s.add_argument("--n-trials", type=_positive, metavar="N",
                   help="finished trials the study should hold (default: the file's n_trials)")
    s.add_argument("--storage", type=_nonempty, help="an Optuna database URL (default: SQLite next to the trials)")
    s.add_argument("--study", type=_study, help="the study name (default: the file's study, else its file name)")
    s.add_argument("--status", action="store_true", help="print the study's trials, states and best value; run none")
    s.set_defaults(func=cmd_sweep, late="overrides")


def _compare_parser(sub: Any) -> None:
    c = sub.add_parser("compare", help="compare runs: table of final/best values, curves PNG",
                       description="Group runs by their config differences (or --by keys) and compare them: mean ± std "
                       "over runs with a 95% interval of the mean (a t-interval, or --ci bca with 10 runs or more; "
                       "fewer runs than the method needs print no number), the interquartile mean (IQM), steps and "
                       "wall time to a threshold, and a PNG of the learning curves (the mean per group, evaluation "
                       "points marked, in a band of the same interval, cut to the metric's range where the env has one).",
                       epilog=COMPARE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("runs", nargs="+", metavar="RUNS", help="run directories, folders of runs, or globs")
    c.add_argument("--metric", type=_nonempty,
                   help="the metric to compare (default: the runs' train.early_stop.metric when they share one, "
                   "else eval/return_mean)")
    c.add_argument("--by", action="append", metavar="KEY[,KEY]",
                   help="group by these dotted config keys (default: by every key in which the configs differ)")
    c.add_argument("--threshold", type=_finite, help="report steps and wall time until the metric first reaches this")
    c.add_argument("--mode", choices=["max", "min"], help="is higher better (max) or lower (min) (default: the "
                   "runs' train.early_stop.mode for their early-stop metric, else max)")
    c.add_argument("--ci", choices=["t", "bca"], default="t",
                   help="95%% interval of the mean: t (Student's, from 2 runs) or bca (scipy's BCa bootstrap, from 10 runs)")
    c.add_argument("--include-unfinished", action="store_true",
                   help="also count runs that did not finish (failed, interrupted, or no summary.json: killed or "
                   "still running), marked in the runs column; by default they are left out and named")
    c.add_argument("--include-repeats", action="store_true",
                   help="also count every run of a seed that a group holds more than once with the same config (a "
                   "rerun, or a copy); by default only the newest counts, and the others are named")
    c.add_argument("--out", metavar="PNG", type=_nonempty,
                   help="where to write the curves: a .png, .pdf or .svg file, or a folder (existing, or ending in /) "
                   "for compare_<metric>.png in it (default: RUNS_ROOT/compare_<metric>.png)")
    c.add_argument("--wandb", nargs="?", const="offline", choices=["offline", "online"],
                   help="also log the comparison to W&B as a table and a plot (default mode: offline)")
    c.add_argument("--project", default="rlgen", help="W&B project for --wandb (default: %(default)s)")
    c.add_argument("--leet", metavar="DIR", type=_nonempty,
                   help="link the runs' offline W&B logs into DIR, for `wandb leet DIR`")
    c.set_defaults(func=cmd_compare, late="runs")


def _report(summary: dict[str, Any], run_dir: Path) -> None:
    status = summary["status"]
    color = {"completed": "green", "stopped_early": "green", "interrupted": "yellow"}.get(status, "red")
    console.print(f"\n[{color}]{status}[/] at step {summary['global_step']:,} in {summary['wall_time_s']:.1f} s")
    final = {k: v for k, v in summary["final"].items() if k.startswith("eval/") and isinstance(v, float)}
    if final:
        console.print("  " + "  ".join(f"{k}={v:.4g}" for k, v in final.items()))
    if summary.get("target_reached"):
        t = summary["target_reached"]
        console.print(f"  target {summary['target']} reached at step {t['global_step']:,} after {t['wall_time_s']:.1f} s")
    console.print(f"  run directory: {_esc(str(run_dir))}")
    if status == "interrupted":
        world, local = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
        nodes = ["--nnodes", world // max(local, 1)] if world != local else []
        # the same job size
        launcher = ["rlgen"] if world == 1 else ["torchrun", *nodes, "--nproc_per_node", local, "-m", "rlgen"]
        console.print(f"  resume with:   {_command(*launcher, 'train', '--resume', run_dir)}")
    wandb_dir = run_dir / "wandb"
    offline = sorted(wandb_dir.glob("offline-run-*"))  # one per start: a resumed run has several
    if offline:  # none when W&B ran online, was disabled, or did not start (its debug logs alone)
        console.print(f"  look at it:    {_command('wandb', 'leet', wandb_dir)}")
        # several: the shell's glob names them all, so it stays outside the quotes
        sync = _command("wandb", "sync", offline[0]) if len(offline) == 1 else \
            _command("wandb", "sync", wandb_dir) + "/offline-run-*"
        console.print(f"  upload later:  {sync}")


def _command(*parts: object) -> str:
    """A command line to print for pasting into a shell: each part quoted as the shell needs
    (a path with spaces or `$`), then escaped for rich's markup."""
    return _esc(shell_line(*parts))


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line like every other rlgen error (no usage block)."""

    def error(self, message: str) -> NoReturn:
        console.print(f"[red]error:[/] {_esc(message)} (see `{self.prog} -h`)")
        sys.exit(2)


TRUST_HELP = ("open a run whose checkpoint is in the old pickled format (only its numpy, gymnasium and SB3 objects "
              "are read) or whose config names code by import path (which imports and runs that code): only for "
              "runs you trust (other runs never need it)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="rlgen", description="Train RL agents and GANs on shared torch backbones.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train from a YAML config", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("config", nargs="?", help="a YAML file or a bundled config name")
    t.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=1e-3 env.n_envs=16")
    t.add_argument("--resume", metavar="RUN_DIR", type=_nonempty,
                   help="continue the run in RUN_DIR from its latest checkpoint")
    t.add_argument("--seeds", metavar="0,1,2", help="one run per seed (lists and ranges: 0-4), one W&B group")
    t.add_argument("--parallel", type=_positive, default=1, metavar="N",
                   help="with --seeds: N runs at a time, as processes")
    t.add_argument("--storage", metavar="URL", type=_nonempty,
                   help="with --seeds: take seeds from a queue in this Optuna database "
                   "(e.g. postgresql://user@host/db), shared by every worker started with the same command")
    t.add_argument("--study", type=_nonempty,
                   help="with --storage: the queue's name (default: from the config and the seeds)")
    t.add_argument("--run-dir", metavar="DIR", type=_nonempty,
                   help="put the new run in DIR (new or empty) instead of logging.dir/NAME/ID")
    t.add_argument("--trust", action="store_true", help=TRUST_HELP)
    t.set_defaults(func=cmd_train, late="overrides")

    e = sub.add_parser("eval", help="evaluate a run (a finished run: its best checkpoint)",
                       epilog=EVAL_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=_positive, default=None, help="default: the config's train.eval_episodes")
    e.add_argument("--video", action="store_true", help="also record one episode to RUN_DIR/media/videos")
    _checkpoint_arg(e)
    e.add_argument("--trust", action="store_true", help=TRUST_HELP)
    e.set_defaults(func=cmd_eval)

    i = sub.add_parser("inspect", help="a run's roles (encoder, discriminator, policy, ...) and their backbones' shapes",
                       epilog=INSPECT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("run_dir", help="a run directory (or one checkpoints/step_N), or runs/<name> for its newest "
                   "finished run")
    i.add_argument("--tensors", action="store_true", help="also list every tensor of each backbone with its shape")
    _checkpoint_arg(i)
    i.add_argument("--trust", action="store_true", help=TRUST_HELP)
    i.set_defaults(func=cmd_inspect)
    r = sub.add_parser("record", help="record a run's agent as demonstrations (a Minari dataset or .npz)",
                       description="Play the run's agent in its env and write the episodes as demonstrations for "
                       "kind: bc and kind: imitation: a Minari dataset directory (or a .npz when OUT ends in .npz) "
                       "with the expert's and a random policy's mean returns in its metadata.",
                       epilog=RECORD_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (or one checkpoints/step_N)")
    r.add_argument("--episodes", type=_positive, default=10, help="episodes to record (default: %(default)s)")
    r.add_argument("--out", required=True, type=_nonempty, help="the dataset directory to create, or FILE.npz")
    r.add_argument("--seed", type=_seed, default=0,
                   help="episode i is seeded seed + i, a seed 0 to 4,294,967,295 (default: %(default)s)")
    r.add_argument("--stochastic", action="store_true", help="sample actions instead of the deterministic ones")
    r.add_argument("--format", default="auto", help="auto (npz for .npz, else minari) or a demo format")
    r.add_argument("--trust", action="store_true", help=TRUST_HELP)
    _checkpoint_arg(r)
    r.set_defaults(func=cmd_record)

    _compare_parser(sub)
    _sweep_parser(sub)
    _zoo_export_parsers(sub)

    tn = sub.add_parser("tournament", help="Elo ratings of self-play runs against each other and the references",
                        epilog=TOURNAMENT_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    tn.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories or checkpoints/step_N directories")
    tn.add_argument("--games", type=_positive, default=20, help="games per pair, seats alternating")
    tn.add_argument("--snapshots", action="store_true", help="also rate each run's snapshot pool")
    _checkpoint_arg(tn, "of each run directory")
    tn.add_argument("--trust", action="store_true", help=TRUST_HELP)
    tn.set_defaults(func=cmd_tournament, late="run_dirs")

    pl = sub.add_parser("play", help="play a trained self-play agent in the terminal",
                        epilog=PLAY_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    pl.add_argument("run_dir", metavar="RUN_DIR")
    pl.add_argument("--seat", choices=["first", "second"], default="first", help="your seat (first moves first)")
    _checkpoint_arg(pl)
    pl.add_argument("--trust", action="store_true", help=TRUST_HELP)
    pl.set_defaults(func=cmd_play)

    ls = sub.add_parser("list", help="bundled configs, kinds, data sources, games, backbones, wrappers, envs",
                        epilog=LIST_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("--all", action="store_true", help="list every registered env id")
    ls.set_defaults(func=cmd_list)
    return p


def _checkpoint_arg(parser: argparse.ArgumentParser, of: str = "of the run") -> None:
    parser.add_argument("--checkpoint", metavar="WHICH", type=_nonempty,
                        help=f"which checkpoint {of}: best (by train.early_stop.metric), latest or step_N; "
                        "default: best for a finished run, latest for an interrupted one")


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _positive(text: str) -> int:
    """A count (--episodes, --games, --n-trials, --parallel): 1 to MAX_COUNT."""
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    if value > MAX_COUNT:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_COUNT:,}, got {text.strip()}")
    return value


def _finite(text: str) -> float:
    """A threshold: a number that a metric can reach (nan and inf never are)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def _seed(text: str) -> int:
    value = _whole(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"a seed is 0 to {MAX_SEED:,}, got {text.strip()}")
    return value


def _nonempty(text: str) -> str:
    """A path or name option: an empty one (`--run-dir ''`, an unset shell variable) is a mistake, not a default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty (an unset shell variable?): give a value, or leave the option out "
                                         "for its default")
    return text


def _study(text: str) -> str:
    if not is_study_name(text):  # the sweep's own rule (rlgen.config.STUDY_NAME), before optuna is imported
        raise argparse.ArgumentTypeError(f"{text!r} is not a study name: use letters, digits, _ . - (no / and not "
                                         "only dots), e.g. --study ppo_cartpole_lr")
    return text


if __name__ == "__main__":
    sys.exit(main())
