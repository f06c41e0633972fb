"""`rlgen train | eval | inspect | export | import-zoo | record | compare | sweep | tournament | play |
list`: each command on top of `rlgen.api` (its arguments: `rlgen.cli_parser`; its output and error lines:
`rlgen.cli_output`)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

from rlgen.cli_help import EXAMPLES, TRUST_HELP  # noqa: F401 (re-exported: what `rlgen -h` shows; --trust's help)
from rlgen.cli_output import (_command, _esc, _one_line_warnings, _out, _pipe_closed, _said, _stdout_gone, _unwritable,
                              file_in_the_way, os_error_text)
from rlgen.cli_parser import parse
from rlgen.cli_parser import parser as _parser
from rlgen.errors import ConfigError, RlgenError
from rlgen.logging import console


def main(argv: Sequence[str] | None = None) -> int:
    _one_line_warnings()
    parser = _parser()
    args = parse(parser, argv)  # a missing command, or a bad argument, exits 2 there
    try:
        code = int(COMMANDS[args.command](args) or 0)
        if sys.stdout is not None:
            sys.stdout.flush()  # a reader gone shows here, not as Python's "Exception ignored" at exit
        return code
    except BrokenPipeError as e:  # print() or a write to stdout; or another pipe (a dead env worker's)
        if _stdout_gone():
            return _pipe_closed()
        console.print(f"[red]error:[/] {_esc(os_error_text(e))}")
        return 2
    except SystemExit as e:  # rich's Console.on_broken_pipe ends the program with 1 from its except clause, once it
        if not isinstance(e.__context__, BrokenPipeError):  # has pointed stdout at /dev/null (rlgen's own console,
            raise  # on stderr, falls silent instead: rlgen.logging), so only a stdout console's reader gone ends here
        return _pipe_closed()
    except UnicodeEncodeError as e:
        if (said := _unwritable(e)) is None:
            raise
        console.print(f"[red]error:[/] {_esc(said)}")
        return 2
    except RlgenError as e:  # ConfigError included: one readable message, no traceback
        console.print(f"[red]error:[/] {_esc(_said(e))}")
        return 2
    except OSError as e:  # a path that cannot be read or written: say which, in one line
        console.print(f"[red]error:[/] {_esc(os_error_text(e))}")
        return 2
    except KeyboardInterrupt as e:
        console.print("[yellow]aborted[/]")
        return 128 + getattr(e, "signum", 2)  # 130 after Ctrl-C, 143 after SIGTERM


def cmd_train(args: argparse.Namespace) -> int:
    from rlgen.api import train

    given = [*([args.config] if args.config is not None and "=" in args.config else []), *args.overrides]
    _warn_repeated(given)
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
    from rlgen.distributed import requested_world_size

    # under torchrun, one report: rank 0's (the others log nothing either); a RANK left in the
    # environment of a run of one process (no WORLD_SIZE) hid it
    if requested_world_size() == 1 or os.environ.get("RANK", "0").strip() == "0":
        _report(run.summary, run.run_dir)
    return run.exit_code


def train_seeds(args: argparse.Namespace) -> int:
    """`--seeds 0,1,2`: one run per seed, in this process one after another or `--parallel N` at a time."""
    from rlgen.api import load_config, train
    from rlgen.seeds import parse_seeds, print_seeds_table, refuse_torchrun, run_in_processes, unfinished

    if args.resume or args.config is None:
        raise RlgenError("--seeds starts new runs from a CONFIG; resume each run with --resume RUN_DIR")
    if args.run_dir is not None:
        raise RlgenError("--run-dir names one run's directory; --seeds makes one directory per seed")
    if given := [o for o in args.overrides if o.partition("=")[0].strip() == "seed"]:
        raise RlgenError(f"--seeds {args.seeds} and {given[0]} both set the seed; drop one")
    seeds = parse_seeds(args.seeds)
    refuse_torchrun()
    if args.study is not None and args.storage is None:
        raise RlgenError("--study names a shared queue of seeds: give it with --storage URL (or drop --study)")
    if args.storage is not None:
        return _train_seed_queue(args, seeds)
    cfgs = {s: load_config(args.config, [*args.overrides, f"seed={s}"]) for s in seeds}  # every problem first
    error = None
    if args.parallel > 1:
        results = run_in_processes(args.config, args.overrides, cfgs, args.parallel, trust=args.trust)
        run_dirs = [r.run_dir for r in results if (r.run_dir / "metrics.jsonl").is_file()]
        # a seed a signal ended (Ctrl-C, SIGTERM, SIGKILL) exits as `rlgen train` would: 128 + N
        code = next((r.exit_code for r in results if r.exit_code > 128), 0)
        error = None if code else unfinished(args.config, seeds, results)
    else:
        run_dirs, code = [], 0
        for i, s in enumerate(seeds, 1):
            console.print(f"[bold]seed {s}[/] ({i} of {len(seeds)})")
            run = train(cfgs[s], trust=args.trust)
            _report(run.summary, run.run_dir)
            run_dirs.append(run.run_dir)
            if (code := run.exit_code) != 0:
                break  # interrupted: the remaining seeds do not start
    stop = cfgs[seeds[0]].train.early_stop
    print_seeds_table(run_dirs, stop.metric, stop.target, stop.mode)
    if error is not None:
        raise error
    return code


def _train_seed_queue(args: argparse.Namespace, seeds: list[int]) -> int:
    """`--seeds 0-19 --storage URL`: this process is one of any number of workers on one queue."""
    from rlgen.seeds_queue import train_seed_queue

    if args.parallel != 1:
        raise RlgenError("--storage makes this process one worker of a shared queue: start more workers "
                         "(the same command, here or on other machines) instead of --parallel")
    return train_seed_queue(args.config, args.overrides, seeds, args.storage, study=args.study, trust=args.trust)


def cmd_eval(args: argparse.Namespace) -> int:
    """The figures go to stdout (`rlgen eval RUN > scores.txt`); warnings and progress to stderr."""
    from rich.table import Table as RichTable

    from rlgen.api import load_run
    from rlgen.logging import Table as LogTable

    out = _out()  # before the episodes: a closed stdout is refused before they are played
    with load_run(args.run_dir, checkpoint=args.checkpoint, trust=args.trust) as run:
        video_dir = None
        if args.video:  # a folder per checkpoint step, as training's step_N: another eval replaces none of them
            run.experiment  # opened now: its step names the folder
            video_dir = run.run_dir / "media" / "videos" / f"eval_step_{run.global_step}"
        metrics = run.evaluate(episodes=args.episodes, video_dir=video_dir)  # a refused video leaves no folder
        out.print(f"[bold]{_esc(run.config.name)}[/] at step {run.global_step:,} ({run.checkpoint} checkpoint):")
    tables = {k: v for k, v in metrics.items() if isinstance(v, LogTable)}
    for k, v in metrics.items():
        if k not in tables:
            shown = f"{v:.4g}" if isinstance(v, float) else getattr(v, "path", None) or v  # a picture: its file
            out.print(_esc(f"  {k:<22} {shown}"))
    for k, t in tables.items():
        grid = RichTable(*map(_esc, map(str, t.columns)), title=_esc(k))
        for row in t.rows:
            grid.add_row(*(f"{c:.4g}" if isinstance(c, float) else _esc(str(c)) for c in row))
        out.print(grid)
    if video_dir is not None:  # a kind that records none (selfplay, teams) says so, rather than naming an empty folder
        from rlgen.logging import Video

        written = any(isinstance(v, Video) for v in metrics.values())
        out.print(_esc(f"  video in {video_dir}" if written else f"  no video: kind {run.config.kind!r} records none"))
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    """A run's roles (its torch modules by name), each with the backbone transfer would take from it."""
    from rlgen.api import load_run
    from rlgen.transfer import resolve_run, roles_table

    out = _out()
    with load_run(resolve_run(args.run_dir), checkpoint=args.checkpoint, trust=args.trust) as run:
        rows = roles_table(run.modules())
        out.print(f"[bold]{_esc(run.config.name)}[/] ({run.config.kind}) at step {run.global_step:,} "
                  f"({run.checkpoint} checkpoint): {_esc(str(run.run_dir))}")
    for role, whole, backbone, tensors in rows:
        out.print(f"  [bold cyan]{role}[/]  {_esc(whole)}")
        out.print(f"    backbone: {_esc(backbone)}")
        for name, shape in tensors if args.tensors else ():
            out.print(_esc(f"      {name:<40} {shape}"))
    out.print("use one as a backbone's init: {run: RUN_DIR, role: ROLE, freeze: true}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from rlgen.api import record
    from rlgen.checkpoint_select import select
    from rlgen.envs.demos import read_demos, written_format
    from rlgen.run_data import read_config

    path = record(args.run_dir, args.episodes, args.out, seed=args.seed, deterministic=not args.stochastic,
                  fmt=args.format, checkpoint=args.checkpoint, trust=args.trust)
    demos = read_demos(path, fmt=written_format(path, args.format))  # read back as written, not guessed
    meta = demos.metadata
    # Minari keeps no env id for an env registered with a class (no spec it could rebuild): the run's config has it
    env_id = meta.get("env_id") or read_config(select(Path(args.run_dir), args.checkpoint)[0])["env"]["id"]
    console.print(f"{demos.n_episodes} episodes, {len(demos.observations):,} steps of "
                  f"{_esc(str(env_id))} -> {_esc(str(path))}")
    console.print(f"  expert return {meta['expert_return']:.4g} (mean), random policy {meta['random_return']:.4g}")
    return 0


def cmd_tournament(args: argparse.Namespace) -> int:
    from rlgen.agents.selfplay.play import ratings_table, restore, tournament

    out = _out()  # before the games: a closed stdout is refused before they are played
    exps = []
    try:
        in_ckpts = [Path(p).parent.name == "checkpoints" for p in args.run_dirs]
        if args.checkpoint is not None and all(in_ckpts):  # it would pick in none of them
            raise RlgenError(f"--checkpoint {args.checkpoint} picks a checkpoint of each run directory given, and every "
                             "path given is a checkpoint directory; drop --checkpoint or give run directories")
        for p, in_ckpt in zip(args.run_dirs, in_ckpts):  # a checkpoint directory is itself
            exps.append(restore(Path(p), trust=args.trust, checkpoint=None if in_ckpt else args.checkpoint))
        rows = tournament(exps, games_per_pair=args.games, snapshots=args.snapshots)
    finally:
        for exp in exps:
            exp.close()
    out.print(ratings_table(rows))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from rlgen.agents.selfplay.play import Quit, play_human, restore

    exp = restore(Path(args.run_dir), trust=args.trust, checkpoint=args.checkpoint)
    console.print(f"playing {_esc(exp.label)} ({exp.checkpoint} checkpoint)")
    try:
        play_human(exp, seat=args.seat)
    except Quit:  # typed q: a choice, not an interruption
        console.print("game left unfinished (you quit)")
    finally:
        exp.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from rlgen.listing import listing, plain_listing

    out = _out()  # the listing is the result: stdout, so that it can be piped
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

    to_file = args.out not in (None, "-")
    if to_file and not args.force and (Path(args.out).exists() or Path(args.out).is_symlink()):
        raise RlgenError(f"-o {args.out} exists already: give a new file name, or --force to replace it")
    if to_file and (blocking := file_in_the_way(Path(args.out).parent)) is not None:
        raise RlgenError(f"-o {args.out}: {blocking} is a file, so no folder can hold the config: give another path")
    conversion = zoo.convert(args.algo, args.env, Path(args.file) if args.file else None)
    source = f"rl-zoo3's {args.algo} hyperparameters for {args.env} ({conversion.source})"  # a mapping has no file name
    try:
        cfg = load_config(conversion.config)  # it must validate before it is written
    except ConfigError as e:
        raise ConfigError(source, e.problems) from None
    if problem := zoo.action_space_problem_of(cfg):  # one `rlgen train` would refuse as it sets up
        raise ConfigError(source, [problem])
    text = conversion.yaml()
    if not to_file:
        _out().file.write(text)
    else:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)  # as export makes its -o folder
        Path(args.out).write_text(text, encoding="utf-8")  # as OmegaConf reads a config
        console.print(f"wrote {_esc(args.out)} ({_esc(conversion.source)}); "
                      f"train it: {_command('rlgen', 'train', args.out)}")
    if conversion.fallback:
        console.print(f"[yellow]warning:[/] {_esc(conversion.fallback)}")
    for item in conversion.unsupported:
        console.print(f"[yellow]not converted:[/] {_esc(item)}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from rlgen.compare import compare, read_runs, shared_early_stop
    from rlgen.compare_report import default_png, link_wandb_runs, log_to_wandb, plot_curves, stats_table

    out = _out()  # the table is the result: stdout, so that it can be redirected
    mode = _wandb_mode(args)
    runs = read_runs(args.runs)
    args.metric, args.mode = shared_early_stop(runs, args.metric, args.mode)
    given = _figure_path(args)
    by = [k.strip() for item in args.by or [] for k in item.split(",") if k.strip()]
    groups, stats = compare(runs, args.metric, by=by or None, threshold=args.threshold, mode=args.mode, method=args.ci,
                            unfinished=args.include_unfinished, repeats=args.include_repeats)
    out.print(stats_table(stats, args.metric, args.threshold))
    png = plot_curves(groups, args.metric, given or default_png(runs, args.metric),
                      threshold=args.threshold, method=args.ci)
    console.print(f"{sum(len(g.runs) for g in groups)} run(s) in {len(groups)} group(s); "
                  f"learning curves: {_esc(str(png))}")
    if args.leet:
        workspace = Path(args.leet)
        n = link_wandb_runs([r.path for g in groups for r in g.runs], workspace)  # the table's runs alone
        console.print(f"{n} offline W&B run(s) linked into {_esc(str(workspace))}; browse them: "
                      f"{_command('wandb', 'leet', workspace)}")
    if mode is not None:
        where = log_to_wandb(groups, stats, args.metric, png, args.threshold, project=args.project or "rlgen",
                             mode=mode)
        console.print(f"W&B comparison run: {_esc(where)}" if where is not None else "W&B comparison run: none "
                      "(WANDB_MODE=disabled turns W&B off; --wandb offline or --wandb online logs one all the same)")
    return 0


def _wandb_mode(args: argparse.Namespace) -> str | None:
    """compare's W&B mode: --wandb's, else (a bare --wandb) WANDB_MODE's when it is set (empty too, as
    W&B reads it), else offline; None without --wandb. Checked here, before any work, with --project:
    W&B refused a bad one after the table."""
    from rlgen.compare_report import check_wandb

    if not args.wandb:
        if args.project is not None:
            raise RlgenError("--project names the W&B project of --wandb: give --wandb, or drop --project")
        return None
    mode = args.wandb if isinstance(args.wandb, str) else os.environ.get("WANDB_MODE", "offline")
    check_wandb(args.project or "rlgen", mode)
    return mode


def _figure_path(args: argparse.Namespace) -> Path | None:
    """The figure --out names (None: the default), and --out and --leet refused before the table
    where their files could not go: a refused command writes no file."""
    from rlgen.compare_report import figure_path

    given = figure_path(args.out, args.metric) if args.out is not None else None
    if given is not None and (blocking := file_in_the_way(given.parent)) is not None:
        raise RlgenError(f"--out {args.out}: {blocking} is a file, so the figure cannot go under it")
    if given is not None and args.wandb and given.suffix.lower() != ".png":
        raise RlgenError(f"--out {args.out}: --wandb logs the figure as an image; give --out a .png "
                         "(or leave --wandb out)")
    if args.leet and (blocking := file_in_the_way(Path(args.leet))) is not None:
        raise RlgenError(f"--leet {args.leet}: {blocking} is a file, so the links cannot go in or under it: give "
                         "a folder, new or existing")
    return given


def cmd_sweep(args: argparse.Namespace) -> int:
    from rlgen.sweep import Sweep, read_sweep

    spec = read_sweep(args.sweep, args.overrides)
    for key in ("storage", "study"):
        if getattr(args, key):
            setattr(spec, key, getattr(args, key))
    from rlgen.api import load_config, make_experiment

    sweep = Sweep(spec, load=load_config, make_experiment=make_experiment, trust=args.trust)
    if args.status:
        _out().print(sweep.status())
        return 0
    sweep.run(args.n_trials)
    return 0


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
        from rlgen.api_configs import resume_line
        from rlgen.distributed import launcher

        world = (summary.get("distributed") or {}).get("world_size") or 1  # the run's, not an empty WORLD_SIZE's
        console.print(f"  resume with:   {_esc(resume_line(run_dir, *launcher(world)))}")
    wandb_dir = run_dir / "wandb"
    offline = sorted(wandb_dir.glob("offline-run-*"))  # one per start: a resumed run has several
    if offline:  # none when W&B ran online, was disabled, or did not start (its debug logs alone)
        console.print(f"  look at it:    {_command('wandb', 'leet', wandb_dir)}")
        # several: the shell's glob names them all, so it stays outside the quotes
        sync = _command("wandb", "sync", offline[0]) if len(offline) == 1 else \
            _command("wandb", "sync", wandb_dir) + "/offline-run-*"
        console.print(f"  upload later:  {sync}")


def _warn_repeated(overrides: list[str]) -> None:
    """A key given twice with other values: the last wins (OmegaConf's rule), which a typo hides."""
    values: dict[str, list[str]] = {}
    for o in overrides:
        key, _, value = o.partition("=")
        values.setdefault(key.strip(), []).append(value)
    for key, seen in values.items():
        if len(set(seen)) > 1:
            console.print(f"[yellow]warning:[/] {_esc(key)} is given {len(seen)} times ({_esc(', then '.join(seen))}): "
                          f"the last, {_esc(seen[-1])}, is used", soft_wrap=True)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "train": cmd_train, "eval": cmd_eval, "inspect": cmd_inspect, "record": cmd_record, "compare": cmd_compare,
    "sweep": cmd_sweep, "export": cmd_export, "import-zoo": cmd_import_zoo, "tournament": cmd_tournament,
    "play": cmd_play, "list": cmd_list,
}


if __name__ == "__main__":
    sys.exit(main())
