"""`rlgen train | eval | compare | sweep | list` — the composition root: the only place the framework meets agents and envs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

from rlgen.errors import ConfigError, RlgenError
from rlgen.logging import console

CONFIGS_DIR = Path(__file__).resolve().parent.parent / "configs"

EXAMPLES = """\
examples:
  rlgen train configs/ppo_cartpole.yaml                 train the demo (PPO, CartPole-v1)
  rlgen train ppo_cartpole seed=3 train.total_steps=5e4 a bundled config, with overrides
  rlgen train ppo_cartpole agent.policy.backbone.hidden=[128,128] logging.wandb.mode=disabled
  rlgen train --resume runs/ppo_cartpole/20261121-101500-s0-ab12   continue an interrupted run
  rlgen train ppo_cartpole --seeds 0,1,2 --parallel 2   three seeds, two processes at a time, one W&B group
  rlgen compare runs/ppo_cartpole --threshold 475        seeds/configs side by side (see rlgen compare -h)
  rlgen eval runs/ppo_cartpole/20261121-101500-s0-ab12 --episodes 20 --video
  rlgen play runs/selfplay_tictactoe/<id> --seat second   play the trained agent in the terminal
  rlgen tournament runs/selfplay_connect_four/*          Elo ratings of runs against each other
  rlgen list                                            algorithms, backbones, envs, bundled configs
"""


def kinds() -> dict[str, Any]:
    """Experiment kinds by name: each class has `config_model` and `check(cfg)`."""
    from rlgen.agents.gan.experiment import GANExperiment
    from rlgen.agents.rl.experiment import RLExperiment
    from rlgen.agents.selfplay.experiment import SelfPlayExperiment
    from rlgen.agents.selfplay.teams import TeamsExperiment

    return {"rl": RLExperiment, "gan": GANExperiment, "selfplay": SelfPlayExperiment, "teams": TeamsExperiment}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, extra = parser.parse_known_args(argv)
    if extra:  # overrides after an option (`train CONFIG --seeds 0,1 a.b=c`): argparse leaves them over
        if getattr(args, "overrides", None) is None or any("=" not in e or e.startswith("-") for e in extra):
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        args.overrides = [*args.overrides, *extra]
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except RlgenError as e:  # ConfigError included: one readable message, no traceback
        console.print(f"[red]error:[/] {_esc(str(e))}")
        return 2
    except KeyboardInterrupt:
        console.print("[yellow]aborted[/]")
        return 130


def load(config: str | Mapping[str, Any], overrides: Sequence[str]) -> Any:
    """Read, validate and check a config (a path, a bundled name, or a mapping such as a sweep
    trial's): every problem at once, before anything heavy starts."""
    from rlgen.config import load_config

    registry = kinds()
    source = _config_path(config) if isinstance(config, str) else config
    cfg = load_config(source, overrides, kinds={k: v.config_model for k, v in registry.items()})
    problems = registry[cfg.kind].check(cfg)
    if problems:
        raise ConfigError(str(config) if isinstance(config, str) else "<config>", problems)
    return cfg


def cmd_train(args: argparse.Namespace) -> int:
    from rlgen.runner import Runner

    if args.seeds is not None:
        return train_seeds(args)
    if args.parallel != 1:
        raise RlgenError("--parallel N runs seeds side by side: use it with --seeds, e.g. --seeds 0,1,2 --parallel 2")
    resume = Path(args.resume) if args.resume else None
    if resume is not None:
        if args.config is not None:  # argparse reads a first override as CONFIG
            if "=" not in args.config:
                raise RlgenError(f"--resume continues with the config saved in {resume}; give overrides only "
                                 f"(key=value), not a CONFIG ({args.config!r})")
            args.overrides = [args.config, *args.overrides]
        if not (resume / "config.yaml").is_file():
            raise RlgenError(f"cannot resume: {resume} has no config.yaml (is it a run directory?)")
        cfg = load(str(resume / "config.yaml"), args.overrides)
    else:
        if args.config is None:
            raise RlgenError("rlgen train needs a CONFIG (a YAML path or a bundled name; see `rlgen list`)")
        cfg = load(args.config, args.overrides)
    runner = Runner(cfg, kinds()[cfg.kind](cfg), resume_dir=resume)
    summary = runner.run()
    _report(summary, runner)
    return runner.exit_code


def train_seeds(args: argparse.Namespace) -> int:
    """`--seeds 0,1,2`: one run per seed, in this process one after another or `--parallel N` at a time."""
    from rlgen.runner import Runner
    from rlgen.seeds import parse_seeds, print_seeds_table, run_in_processes

    if args.resume or args.config is None:
        raise RlgenError("--seeds starts new runs from a CONFIG; resume each run with --resume RUN_DIR")
    seeds = parse_seeds(args.seeds)
    cfgs = {s: load(args.config, [*args.overrides, f"seed={s}"]) for s in seeds}  # every problem before any run
    if args.parallel > 1:
        results = run_in_processes(args.config, args.overrides, seeds, args.parallel)
        run_dirs = [r.run_dir for r in results if r.run_dir is not None]
        code = next((r.exit_code for r in results if r.exit_code), 0)
    else:
        run_dirs, code = [], 0
        for s in seeds:
            runner = Runner(cfgs[s], kinds()[cfgs[s].kind](cfgs[s]))
            _report(runner.run(), runner)
            run_dirs.append(runner.run_dir)
            if (code := runner.exit_code) != 0:
                break  # interrupted: the remaining seeds do not start
    stop = cfgs[seeds[0]].train.early_stop
    print_seeds_table(run_dirs, stop.metric, stop.target)
    return code


def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    from rich.table import Table as RichTable

    from rlgen import checkpoint
    from rlgen.logging import Logger
    from rlgen.logging import Table as LogTable
    from rlgen.runner import RunContext, choose_device, prefers_accelerator

    run_dir = Path(args.run_dir)
    if not (run_dir / "config.yaml").is_file():
        raise RlgenError(f"{run_dir} is not a run directory (no config.yaml); runs live under runs/<name>/<id>")
    cfg = load(str(run_dir / "config.yaml"), ["logging.wandb.mode=disabled"])
    state = checkpoint.load(Path(args.checkpoint) if args.checkpoint else run_dir)
    exp = kinds()[cfg.kind](cfg)
    device = choose_device(cfg.device, prefers_accelerator(exp))
    torch.set_num_threads(cfg.train.threads or 1)
    exp.setup(RunContext(cfg, run_dir, device, Logger([]), cfg.seed))
    try:
        exp.load_state_dict(state["experiment"])
        video_dir = run_dir / "media" / "videos" if args.video else None
        metrics = exp.evaluate(episodes=args.episodes, video_dir=video_dir)
    finally:
        exp.close()
    console.print(f"[bold]{cfg.name}[/] at step {state['global_step']:,}:")
    tables = {k: v for k, v in metrics.items() if isinstance(v, LogTable)}
    for k, v in metrics.items():
        if k not in tables:
            shown = f"{v:.4g}" if isinstance(v, float) else getattr(v, "path", None) or v  # a picture: its file
            console.print(f"  {k:<22} {shown}")
    for k, t in tables.items():
        grid = RichTable(*map(str, t.columns), title=k)
        for row in t.rows:
            grid.add_row(*(f"{c:.4g}" if isinstance(c, float) else str(c) for c in row))
        console.print(grid)
    if video_dir is not None:
        console.print(f"  video in {video_dir}")
    return 0


def cmd_tournament(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rlgen.agents.selfplay.play import ratings_table, restore, tournament

    exps = [restore(Path(p)) for p in args.run_dirs]
    try:
        rows = tournament(exps, games_per_pair=args.games, snapshots=args.snapshots)
    finally:
        for exp in exps:
            exp.close()
    Console().print(ratings_table(rows))
    return 0


def cmd_play(args: argparse.Namespace) -> int:
    from rlgen.agents.selfplay.play import play_human, restore

    exp = restore(Path(args.run_dir))
    try:
        play_human(exp, seat=args.seat)
    finally:
        exp.close()
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from rich.table import Table

    import rlgen.envs.registration  # noqa: F401 - registers the rlgen/ ids so they are listed
    from rlgen.agents.rl.algos import ALGOS
    from rlgen.nets import BACKBONES

    table = Table(title="rlgen", show_lines=False)
    table.add_column("what", style="bold")
    table.add_column("names")
    table.add_row("kinds", ", ".join(kinds()))
    table.add_row("algorithms", ", ".join(f"{k} ({v.__name__})" for k, v in ALGOS.items()))
    table.add_row("backbones", ", ".join(BACKBONES))
    configs = sorted(p.stem for p in CONFIGS_DIR.glob("*.yaml"))
    table.add_row("configs", ", ".join(configs) or "(none found)")
    ids = sorted(gym.registry)
    shown = [i for i in ids if args.all or "/" not in i or i.startswith("rlgen/")]
    table.add_row("envs", ", ".join(shown) + ("" if args.all else "  (+ ALE/... with --all after `import ale_py`)"))
    console.print(table)
    return 0


COMPARE_EXAMPLES = """\
examples:
  rlgen compare runs/ppo_cartpole                       every run of one config (seeds -> one group)
  rlgen compare 'runs/ppo_cartpole_*/*' --threshold 475 configs against each other, steps/time to 475
  rlgen compare runs/ppo_* --by agent.policy.backbone.type --out docs/backbones.png
  rlgen compare runs/gan_ring --metric gan/loss_d --mode min
  rlgen compare runs/ppo_* --wandb                       also log the table and plot to W&B (offline)
  rlgen compare runs/ppo_* --leet runs/leet && wandb leet runs/leet    browse the same runs in W&B's local UI
"""


def cmd_compare(args: argparse.Namespace) -> int:
    from rich.console import Console

    from rlgen.compare import compare, read_runs
    from rlgen.compare_report import default_png, link_wandb_runs, log_to_wandb, plot_curves, stats_table

    runs = read_runs(args.runs)
    by = [k.strip() for item in args.by or [] for k in item.split(",") if k.strip()]
    groups, stats = compare(runs, args.metric, by=by or None, threshold=args.threshold, mode=args.mode)
    out = Console(highlight=False)  # the table is the result: stdout, so that it can be redirected
    if not out.is_terminal:
        out.width = 160  # a file or pipe gets the whole table, not an 80-column fold
    out.print(stats_table(stats, args.metric, args.threshold))
    png = plot_curves(groups, args.metric, Path(args.out) if args.out else default_png([r.path for r in runs], args.metric),
                      threshold=args.threshold)
    console.print(f"{len(runs)} run(s) in {len(groups)} group(s); learning curves: {png}")
    if args.leet:
        workspace = Path(args.leet)
        n = link_wandb_runs([r.path for r in runs], workspace)
        console.print(f"{n} offline W&B run(s) linked into {workspace}; browse them: wandb leet {workspace}")
    if args.wandb:
        where = log_to_wandb(groups, stats, args.metric, png, args.threshold, project=args.project, mode=args.wandb)
        console.print(f"W&B comparison run: {where}")
    return 0


SWEEP_EXAMPLES = """\
examples:
  rlgen sweep configs/sweeps/ppo_cartpole.yaml          run the study (SQLite in runs/<study>/study.db)
  rlgen sweep configs/sweeps/ppo_cartpole.yaml train.total_steps=20000 --n-trials 10
  rlgen sweep configs/sweeps/ppo_cartpole.yaml --storage postgresql://user@host/optuna   one study, many machines
  rlgen train runs/ppo_cartpole_sweep/best.yaml --seeds 0,1,2   the winner, three seeds
  rlgen compare runs/ppo_cartpole_sweep                 every trial side by side
"""


def cmd_sweep(args: argparse.Namespace) -> int:
    from rlgen.sweep import Sweep, read_sweep

    spec = read_sweep(args.sweep, args.overrides)
    for key in ("storage", "study"):
        if getattr(args, key):
            setattr(spec, key, getattr(args, key))
    sweep = Sweep(spec, load=lambda config, overrides: load(config, overrides),
                  make_experiment=lambda cfg: kinds()[cfg.kind](cfg))
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
    s.add_argument("--n-trials", type=int, help="finished trials the study should hold (default: the file's n_trials)")
    s.add_argument("--storage", help="an Optuna database URL (default: SQLite next to the trials)")
    s.add_argument("--study", help="the study name (default: the file's study, else its file name)")
    s.set_defaults(func=cmd_sweep)


def _compare_parser(sub: Any) -> None:
    c = sub.add_parser("compare", help="compare runs: table of final/best values, curves PNG",
                       description="Group runs by their config differences (or --by keys) and compare them: mean ± std "
                       "over runs with a bootstrap 95% interval of the mean, steps and wall time to a threshold, "
                       "and a PNG of the learning curves (mean with a ± std band per group).",
                       epilog=COMPARE_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("runs", nargs="+", metavar="RUNS", help="run directories, folders of runs, or globs")
    c.add_argument("--metric", default="eval/return_mean", help="the metric to compare (default: %(default)s)")
    c.add_argument("--by", action="append", metavar="KEY[,KEY]",
                   help="group by these dotted config keys (default: by every key in which the configs differ)")
    c.add_argument("--threshold", type=float, help="report steps and wall time until the metric first reaches this")
    c.add_argument("--mode", choices=["max", "min"], default="max", help="is higher better (max) or lower (min)")
    c.add_argument("--out", metavar="PNG", help="where to write the curves (default: RUNS_ROOT/compare_<metric>.png)")
    c.add_argument("--wandb", nargs="?", const="offline", choices=["offline", "online"],
                   help="also log the comparison to W&B as a table and a plot (default mode: offline)")
    c.add_argument("--project", default="rlgen", help="W&B project for --wandb (default: %(default)s)")
    c.add_argument("--leet", metavar="DIR", help="link the runs' offline W&B logs into DIR, for `wandb leet DIR`")
    c.set_defaults(func=cmd_compare)


def _report(summary: dict[str, Any], runner: Any) -> None:
    run_dir = runner.run_dir
    status = summary["status"]
    color = {"completed": "green", "stopped_early": "green", "interrupted": "yellow"}.get(status, "red")
    console.print(f"\n[{color}]{status}[/] at step {summary['global_step']:,} in {summary['wall_time_s']:.1f} s")
    final = {k: v for k, v in summary["final"].items() if k.startswith("eval/") and isinstance(v, float)}
    if final:
        console.print("  " + "  ".join(f"{k}={v:.4g}" for k, v in final.items()))
    if summary.get("target_reached"):
        t = summary["target_reached"]
        console.print(f"  target {summary['target']} reached at step {t['global_step']:,} after {t['wall_time_s']:.1f} s")
    console.print(f"  run directory: {run_dir}")
    if status == "interrupted":
        console.print(f"  resume with:   rlgen train --resume {run_dir}")
    wandb_dir = run_dir / "wandb"
    if wandb_dir.is_dir():
        console.print(f"  look at it:    wandb leet {wandb_dir}")
        console.print(f"  upload later:  wandb sync {next(iter(sorted(wandb_dir.glob('offline-run-*'))), wandb_dir)}")


def _config_path(config: str) -> str:
    """A path, or the name of a bundled config (`ppo_cartpole` -> configs/ppo_cartpole.yaml)."""
    path = Path(config)
    if not path.exists() and path.suffix == "" and (CONFIGS_DIR / f"{config}.yaml").is_file():
        return str(CONFIGS_DIR / f"{config}.yaml")
    return config


def _esc(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rlgen", description="Train RL agents and GANs on shared torch backbones.",
                                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train from a YAML config", epilog=EXAMPLES,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("config", nargs="?", help="a YAML file or a bundled config name")
    t.add_argument("overrides", nargs="*", help="dotted overrides, e.g. optim.lr=1e-3 env.n_envs=16")
    t.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its latest checkpoint")
    t.add_argument("--seeds", metavar="0,1,2", help="one run per seed (lists and ranges: 0-4), one W&B group")
    t.add_argument("--parallel", type=int, default=1, metavar="N", help="with --seeds: N runs at a time, as processes")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("eval", help="evaluate a run's latest checkpoint")
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=int, default=None, help="default: the config's train.eval_episodes")
    e.add_argument("--video", action="store_true", help="also record one episode to RUN_DIR/media/videos")
    e.add_argument("--checkpoint", help="a checkpoints/step_N directory instead of the latest")
    e.set_defaults(func=cmd_eval)

    _compare_parser(sub)
    _sweep_parser(sub)

    tn = sub.add_parser("tournament", help="Elo ratings of self-play runs against each other and the references")
    tn.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories or checkpoints/step_N directories")
    tn.add_argument("--games", type=int, default=20, help="games per pair, seats alternating")
    tn.add_argument("--snapshots", action="store_true", help="also rate each run's snapshot pool")
    tn.set_defaults(func=cmd_tournament)

    pl = sub.add_parser("play", help="play a trained self-play agent in the terminal")
    pl.add_argument("run_dir", metavar="RUN_DIR")
    pl.add_argument("--seat", choices=["first", "second"], default="first", help="your seat (first moves first)")
    pl.set_defaults(func=cmd_play)

    ls = sub.add_parser("list", help="algorithms, backbones, envs and bundled configs")
    ls.add_argument("--all", action="store_true", help="list every registered env id")
    ls.set_defaults(func=cmd_list)
    return p


if __name__ == "__main__":
    sys.exit(main())
