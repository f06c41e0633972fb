"""The `rlgen` command line's argument parser: each command's arguments, what they accept (the type
functions turn a bad value into one readable line), and the help `-h` shows (examples:
`rlgen.cli_help`). What each command does is `rlgen.cli`'s."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn, Sequence

from rlgen import __version__
from rlgen.checkpoint_select import Spelling
from rlgen.cli_help import (COMPARE_EXAMPLES, EVAL_EXAMPLES, EXAMPLES, EXPORT_EXAMPLES, IMPORT_ZOO_EXAMPLES,
                            INSPECT_EXAMPLES, LIST_EXAMPLES, PLAY_EXAMPLES, RECORD_EXAMPLES, SWEEP_EXAMPLES,
                            TOURNAMENT_EXAMPLES, TRUST_HELP)
from rlgen.config import MAX_COUNT, MAX_SEED, is_study_name
from rlgen.logging import console

CHECKPOINT = Spelling("--checkpoint", python=False)  # how the commands take rlgen.checkpoint_select's choice


class _Parser(argparse.ArgumentParser):
    """argparse, but a bad argument is one line like every other rlgen error (no usage block)."""

    def error(self, message: str) -> NoReturn:
        _refuse(message, self.prog)


def _refuse(message: str, prog: str) -> NoReturn:
    """A bad argument: one line pointing to `prog`'s help, exit 2."""
    from rich.markup import escape

    console.print(f"[red]error:[/] {escape(message)} (see `{escape(prog)} -h`)")
    sys.exit(2)


def parser() -> argparse.ArgumentParser:
    """`rlgen COMMAND ...`: `args.command` names the command."""
    p = _Parser(prog="rlgen", description="Train RL agents and GANs on shared torch backbones.",
                epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"rlgen {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for add in (_train, _eval, _inspect, _record, _compare, _sweep, _export, _import_zoo, _tournament, _play, _list):
        add(sub)  # in this order in `rlgen -h`
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    argv = list(sys.argv[1:] if argv is None else argv)
    args, extra = p.parse_known_args(argv)
    # argparse leaves an unknown option before the command among the command's extras, or says only
    # "give a COMMAND" when none follows: it is rlgen's, and named first
    before = argv[: argv.index(args.command)] if args.command in argv else argv
    if early := [e for e in extra if e in before]:
        _refuse(f"unrecognized argument {early[0]}: rlgen itself takes only -h and --version; a command's options "
                "go after the command", p.prog)
    if args.command is None:  # argparse's way for a missing subcommand: the usage, then one error line, exit 2
        p.print_usage(sys.stderr)
        commands = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction)).choices
        _refuse(f"give a COMMAND: {', '.join(commands)}", p.prog)
    if extra and not _take_late_positionals(args, extra):  # the command's help lists what it takes
        _refuse(f"unrecognized arguments: {' '.join(extra)}", f"{p.prog} {args.command}" if args.command else p.prog)
    return args


def _take_late_positionals(args: argparse.Namespace, extra: list[str]) -> bool:
    """Positionals after an option (`tournament runs/a --checkpoint best runs/b`, `train CONFIG --seeds
    0,1 a.b=c`), which argparse leaves over, appended to the command's list positional (its `late`
    default; overrides must be key=value). False when they are not that. (argparse's
    parse_intermixed_args would do it, but refuses a parser with subcommands.)"""
    dest = getattr(args, "late", None)
    if extra[0] == "--":  # `train CONFIG --run-dir D -- a.b=c`: argparse keeps the `--` it ends options with
        extra = extra[1:]
    elif any(e.startswith("-") for e in extra):
        return False
    if dest is None:
        return False
    if dest == "overrides" and any("=" not in e for e in extra):
        return False
    setattr(args, dest, [*getattr(args, dest), *extra])
    return True


def _subcommand(sub: Any, name: str, help: str, examples: str, **kwargs: Any) -> argparse.ArgumentParser:
    """One command's parser, its examples under its options as written (`kwargs`: a description)."""
    return sub.add_parser(name, help=help, epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter,
                          **kwargs)


def _trust_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--trust", action="store_true", help=TRUST_HELP)


def _checkpoint_arg(p: argparse.ArgumentParser, of: str = "of the run") -> None:
    p.add_argument("--checkpoint", metavar="WHICH", type=_nonempty,
                   help=f"which checkpoint {of}: best (by train.early_stop.metric), latest or step_N; "
                   "default: best for a finished run, latest for an interrupted one")


def _train(sub: Any) -> None:
    t = _subcommand(sub, "train", "train from a YAML config", EXAMPLES)
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
    _trust_arg(t)
    t.set_defaults(late="overrides")


def _eval(sub: Any) -> None:
    e = _subcommand(sub, "eval", "evaluate a run (a finished run: its best checkpoint)", EVAL_EXAMPLES)
    e.add_argument("run_dir")
    e.add_argument("--episodes", type=_positive, default=None, help="default: the config's train.eval_episodes")
    e.add_argument("--video", action="store_true", help="also record one episode to RUN_DIR/media/videos")
    _checkpoint_arg(e)
    _trust_arg(e)


def _inspect(sub: Any) -> None:
    i = _subcommand(sub, "inspect", "a run's roles (encoder, discriminator, policy, ...) and their backbones' shapes",
                    INSPECT_EXAMPLES)
    i.add_argument("run_dir", help="a run directory (or one checkpoints/step_N), or runs/<name> for its newest "
                   "finished run")
    i.add_argument("--tensors", action="store_true", help="also list every tensor of each backbone with its shape")
    _checkpoint_arg(i)
    _trust_arg(i)


def _record(sub: Any) -> None:
    r = _subcommand(sub, "record", "record a run's agent as demonstrations (a Minari dataset or .npz)",
                    RECORD_EXAMPLES,
                    description="Play the run's agent in its env and write the episodes as demonstrations for "
                    "kind: bc and kind: imitation: a Minari dataset directory (or a .npz when OUT ends in .npz) "
                    "with the expert's and a random policy's mean returns in its metadata.")
    r.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (or one checkpoints/step_N)")
    r.add_argument("--episodes", type=_positive, default=10, help="episodes to record (default: %(default)s)")
    r.add_argument("--out", required=True, type=_nonempty, help="the dataset directory to create, or FILE.npz")
    r.add_argument("--seed", type=_seed, default=0,
                   help="episode i is seeded seed + i, a seed 0 to 4,294,967,295 (default: %(default)s)")
    r.add_argument("--stochastic", action="store_true", help="sample actions instead of the deterministic ones")
    r.add_argument("--format", default="auto", help="auto (npz for .npz, else minari) or a demo format")
    _trust_arg(r)
    _checkpoint_arg(r)


def _compare(sub: Any) -> None:
    c = _subcommand(sub, "compare", "compare runs: table of final/best values, curves PNG", COMPARE_EXAMPLES,
                    description="Group runs by their config differences (or --by keys) and compare them: mean ± std "
                    "over runs with a 95% interval of the mean (a t-interval, or --ci bca with 10 runs or more; "
                    "fewer runs than the method needs print no number), the interquartile mean (IQM), steps and "
                    "wall time to a threshold, and a PNG of the learning curves (the mean per group, evaluation "
                    "points marked, in a band of the same interval, cut to the metric's range where the env has one).")
    c.add_argument("runs", nargs="+", metavar="RUNS", help="run directories, folders of runs, or globs")
    c.add_argument("--metric", type=_nonempty,
                   help="the metric to compare (default: the runs' train.early_stop.metric when they share one, "
                   "else eval/return_mean)")
    c.add_argument("--by", action="append", metavar="KEY[,KEY]", type=_keys,
                   help="group by these dotted config keys, or whole sections (agent.policy.backbone) (default: by "
                        "every key in which the configs differ)")
    c.add_argument("--threshold", type=_finite, help="report steps and wall time until the metric first reaches this")
    c.add_argument("--mode", choices=["max", "min"], help="is higher better (max) or lower (min) (default: the "
                   "runs' train.early_stop.mode for their early-stop metric, else max)")
    c.add_argument("--ci", choices=["t", "bca"], default="t",
                   help="95%% interval of the mean: t (Student's, from 2 runs) or bca (scipy's BCa bootstrap, "
                   "from 10 runs)")
    _compare_outputs(c)
    c.set_defaults(late="runs")


def _compare_outputs(c: argparse.ArgumentParser) -> None:
    """Which runs count, and where the comparison goes besides the table."""
    c.add_argument("--include-unfinished", action="store_true",
                   help="also count runs that did not finish (failed, interrupted, or no summary.json: killed or "
                   "still running), marked in the runs column; by default they are left out and named")
    c.add_argument("--include-repeats", action="store_true",
                   help="also count every run of a seed that a group holds more than once with the same config (a "
                   "rerun, or a copy); by default only the newest counts, and the others are named")
    c.add_argument("--out", metavar="PNG", type=_nonempty,
                   help="where to write the curves: a .png, .pdf or .svg file, or a folder (existing, or ending in /) "
                   "for compare_<metric>.png in it (default: RUNS_ROOT/compare_<metric>.png)")
    # a bare --wandb is True (argparse checks a str const against the choices): WANDB_MODE's mode, else offline
    c.add_argument("--wandb", nargs="?", const=True, choices=["offline", "online"],
                   help="also log the comparison to W&B as a table and a plot (default mode: $WANDB_MODE, else "
                   "offline; a mode given here wins over WANDB_MODE)")
    c.add_argument("--project", type=_nonempty, help="W&B project for --wandb (default: rlgen)")
    c.add_argument("--leet", metavar="DIR", type=_nonempty,
                   help="link the offline W&B logs of the table's runs into DIR, for `wandb leet DIR`")


def _sweep(sub: Any) -> None:
    s = _subcommand(sub, "sweep", "hyperparameter sweep with Optuna (pruning, best config as YAML)", SWEEP_EXAMPLES,
                    description="Run an Optuna study: every trial a full run under runs/<study>/ in one W&B group, "
                    "poor trials pruned from their eval metric, the best trial's config written to "
                    "runs/<study>/best.yaml. See the README (Sweeps) for the sweep file.")
    s.add_argument("sweep", metavar="SWEEP.yaml", help="the sweep file: base config, search space, pruner")
    s.add_argument("overrides", nargs="*", help="dotted overrides of the base config for every trial")
    s.add_argument("--n-trials", type=_positive, metavar="N",
                   help="finished trials the study should hold (default: the file's n_trials)")
    s.add_argument("--storage", type=_nonempty, help="an Optuna database URL (default: SQLite next to the trials)")
    s.add_argument("--study", type=_study, help="the study name (default: the file's study, else its file name)")
    s.add_argument("--status", action="store_true", help="print the study's trials, states and best value; run none")
    _trust_arg(s)  # every trial: the runs a backbone's init names, an old-format checkpoint a retry resumes
    s.set_defaults(late="overrides")


def _export(sub: Any) -> None:
    x = _subcommand(sub, "export", "write a trained run as SB3 model.zip, ONNX or TorchScript", EXPORT_EXAMPLES,
                    description="RL runs: --format sb3 writes model.zip (+ vecnormalize.pkl) for PPO.load / the "
                    "algorithm's load and rl-zoo3's enjoy; onnx and torchscript write the deterministic policy "
                    "(observation -> action). GAN runs: onnx and torchscript write the generator.")
    x.add_argument("run_dir", metavar="RUN_DIR")
    x.add_argument("--format", required=True, choices=["sb3", "onnx", "torchscript"])
    x.add_argument("-o", "--out", type=_nonempty, help="output folder, new or empty or an earlier export's "
                   "(default: RUN_DIR/export)")
    x.add_argument("--force", action="store_true", help="write into an output folder that holds other files")
    _checkpoint_arg(x)
    _trust_arg(x)


def _import_zoo(sub: Any) -> None:
    z = _subcommand(sub, "import-zoo", "convert rl-zoo3's tuned hyperparameters into an rlgen config",
                    IMPORT_ZOO_EXAMPLES,
                    description="Read rl-zoo3's hyperparameter file for ALGO (from the installed rl_zoo3 package, "
                    "or --file) and write the entry for ENV as an rlgen config. What does not convert is listed.")
    z.add_argument("algo", metavar="ALGO", help="rl-zoo3's algorithm name: ppo, a2c, dqn, sac, td3, ppo_lstm, ...")
    z.add_argument("env", metavar="ENV", help="the env id, e.g. LunarLander-v3")
    z.add_argument("-o", "--out", type=_nonempty, help="the YAML to write, a new file; its folder is made if missing "
                   "(default: stdout)")
    z.add_argument("--force", action="store_true", help="replace the -o file when it exists")
    z.add_argument("--file", type=_nonempty,
                   help="an rl-zoo3-format hyperparameter YAML of your own instead of rl_zoo3's")


def _tournament(sub: Any) -> None:
    tn = _subcommand(sub, "tournament", "Elo ratings of self-play runs against each other and the references",
                     TOURNAMENT_EXAMPLES)
    tn.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="run directories or checkpoints/step_N directories")
    tn.add_argument("--games", type=_positive, default=20, help="games per pair, seats alternating")
    tn.add_argument("--snapshots", action="store_true", help="also rate each run's snapshot pool")
    _checkpoint_arg(tn, "of each run directory")
    _trust_arg(tn)
    tn.set_defaults(late="run_dirs")


def _play(sub: Any) -> None:
    pl = _subcommand(sub, "play", "play a trained self-play agent in the terminal", PLAY_EXAMPLES)
    pl.add_argument("run_dir", metavar="RUN_DIR")
    pl.add_argument("--seat", choices=["first", "second"], default="first", help="your seat: the game's first or second player (who moves first is the game's rule; the first line says)")
    _checkpoint_arg(pl)
    _trust_arg(pl)


def _list(sub: Any) -> None:
    ls = _subcommand(sub, "list", "bundled configs, kinds, data sources, games, backbones, wrappers, envs",
                     LIST_EXAMPLES)
    ls.add_argument("--all", action="store_true", help="list every registered env id")


# --- what an option accepts: a bad value is one line naming the option (argparse adds it) ---------


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


def _keys(text: str) -> str:
    """--by's KEY[,KEY]: with no key in it (`--by ''`, `--by ,`) it is refused as an empty --metric is."""
    _nonempty(text.replace(",", " "))
    return text


def _study(text: str) -> str:
    if not is_study_name(text):  # the sweep's own rule (rlgen.config.STUDY_NAME), before optuna is imported
        raise argparse.ArgumentTypeError(f"{text!r} is not a study name: use letters, digits, _ . - (no / and not "
                                         "only dots), e.g. --study ppo_cartpole_lr")
    return text
