"""Seeds as a queue: `rlgen train CONFIG --seeds 0-19 --storage URL`, on any number of machines.

Each seed is one slot of an Optuna study (`rlgen/study_queue.py`): every worker started with the
same command takes the next seed that no worker holds, so each seed runs exactly once, and a dead
worker's seed is resumed by another from its last checkpoint. The queue's name comes from the
config the runs share (less what each worker may set for its own machine: `queue_config`) and
the seed list (or `--study`), so the same command joins the same queue on every machine, and a
changed config or seed list makes a new one. A queue keeps the seed list and the
config it was made with, and refuses a worker (`--study NAME`) that brings others: its seeds would
be reported as one config's runs.

The runs are ordinary run directories, `<logging.dir>/<name>/<run_id>/` on the machine that trained
them: point `logging.dir` at a shared file system (also what lets a survivor resume a dead worker's
seed), or gather the directories afterwards; `rlgen compare` reads them either way.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Sequence

from rich.markup import escape

from rlgen.compare_groups import IGNORED_KEYS, flatten
from rlgen.errors import RlgenError
from rlgen.identity import show
from rlgen.logging import console
from rlgen.study_queue import HeartbeatConfig, described, latest_attempts, open_or_make_study, shown_url, work
from rlgen.study_trial import run_value, train_trial
from rlgen.study_view import StudyProgress, status_table


def queue_name(cfg: Any, seeds: Sequence[int]) -> str:
    """`<name>-seeds-<hash of queue_config(cfg) and the seed list>`: workers whose configs differ
    only in what each may set for its own machine (logging.dir, train.threads, ...) join one queue."""
    digest = hashlib.sha256(json.dumps({"config": queue_config(cfg), "seeds": list(seeds)}, sort_keys=True).encode())
    return f"{cfg.name}-seeds-{digest.hexdigest()[:8]}"


def train_seed_queue(config: str, overrides: Sequence[str], seeds: Sequence[int], storage: str, *,
                     study: str | None = None, heartbeat: HeartbeatConfig | None = None, trust: bool = False) -> int:
    """Work on the queue until every seed has run (here or on another worker); 0 when every
    seed completed, RlgenError (exit 2) with the last error when one failed. `trust`: as
    `rlgen train --trust`."""
    import optuna

    from rlgen.api import load_config, make_experiment
    from rlgen.logging import report_console
    from rlgen.seeds import print_seeds_table, refuse_torchrun

    refuse_torchrun()
    # every problem first; each worker shows one bar for the whole queue, so the runs' own are off
    cfgs = {s: load_config(config, [*overrides, f"seed={s}", "train.progress=false"]) for s in seeds}
    base = cfgs[seeds[0]]
    stop = base.train.early_stop
    direction = "maximize" if stop.mode == "max" else "minimize"
    name = study or queue_name(base, seeds)
    heartbeat = heartbeat or HeartbeatConfig()
    queue, made = open_or_make_study(name, storage, direction=direction, heartbeat=heartbeat,
                                     sampler=optuna.samplers.RandomSampler(), pruner=optuna.pruners.NopPruner())
    _check_same_queue(queue, seeds, queue_config(base), made)
    console.print(f"[bold]seed queue {escape(name)}[/] in {escape(shown_url(storage))}: seeds {_ranges(seeds)} of "
                  f"{base.name}; start the same command on other machines to share it", soft_wrap=True)

    def run(trial: Any, index: int) -> float:
        seed = seeds[index]
        trial.set_user_attr("seed", seed)
        summary = train_trial(trial, cfgs[seed], make_experiment, trust=trust)
        return run_value(summary, stop.metric, direction, where="train.early_stop.metric")

    def announce(_: Any, trial: Any) -> None:
        seed = trial.user_attrs.get("seed", "?")
        value = "" if trial.value is None else f", {stop.metric} best {trial.value:.4g}"
        error = f": {trial.user_attrs['error']}" if "error" in trial.user_attrs else ""
        console.print(f"seed {seed} [bold]{trial.state.name.lower()}[/]{escape(value)}{escape(error)} "
                      f"({escape(str(trial.user_attrs.get('run_dir', '?')))})", highlight=False, soft_wrap=True)

    with StudyProgress(queue, len(seeds), f"seeds {base.name}") as progress:
        work(queue, len(seeds), run, progress=progress, announce=announce, max_retry=heartbeat.max_retry)
    report_console(stderr=True).print(status_table(queue, stop.metric, attrs=["seed"]))  # whole off a terminal
    done = [Path(t.user_attrs["run_dir"]) for t in queue.trials
            if t.state.name == "COMPLETE" and "run_dir" in t.user_attrs]
    here = [p for p in done if (p / "summary.json").is_file()]
    if len(here) < len(done):
        console.print(f"{len(done) - len(here)} of the runs are on other machines: gather them (or share "
                      "logging.dir) to compare them all")
    print_seeds_table(here, stop.metric, stop.target, stop.mode)
    if failed := [t for t in latest_attempts(queue.trials) if t.state.name == "FAIL"]:
        raise RlgenError(_failed(failed, len(seeds)))
    return 0


def _failed(failed: list[Any], n: int) -> str:
    """One line: which seeds failed (their latest attempts), and the last one's error."""
    last = failed[-1]
    why = last.user_attrs.get("error") or "its worker died (or was stopped) more than heartbeat.max_retry times"
    return (f"{len(failed)} of {n} seeds failed ({', '.join(str(t.user_attrs.get('seed', '?')) for t in failed)}); "
            f"the last, seed {last.user_attrs.get('seed', '?')}: {why}")


def queue_config(cfg: Any) -> dict[str, Any]:
    """What every run of a queue shares: the config as dotted key -> value, less the keys that
    `rlgen compare` never groups by (the seed; where and how a run logs and checkpoints), which each
    worker may set for its own machine. Two configs that differ here are two groups of runs."""
    flat = flatten(cfg.model_dump(mode="json"))
    shared = {k: v for k, v in flat.items() if not any(k == i or k.startswith(f"{i}.") for i in IGNORED_KEYS)}
    return json.loads(json.dumps(shared))  # as the storage gives it back: dict keys str, tuples lists


def _check_same_queue(queue: Any, seeds: Sequence[int], config: dict[str, Any], made: bool = False) -> None:
    """A queue named with --study keeps the seed list and the config it was made with (the
    automatic name changes with either). Every check comes before anything is written. A queue made
    before rlgen kept its config takes the config of the first worker that opens it now. `made`:
    this worker made the study; one that did not waits for its maker's seeds and config first."""
    attrs = described(queue, made)
    held = attrs.get("seeds")
    if held is None and (attrs.get("rlgen_setup") is not None or queue.get_trials(deepcopy=False)):
        raise RlgenError(f"study {queue.study_name!r} holds trials that are not a seed queue's (a sweep's?): "
                         "give --study a name of its own")
    if held is not None and list(held) != list(seeds):
        raise RlgenError(f"queue {queue.study_name!r} holds seeds {_ranges(held)}, not {_ranges(seeds)}: "
                         "give the same --seeds, or another --study")
    changed = [] if attrs.get("config") is None else changed_keys(attrs["config"], config)
    if changed:
        raise RlgenError(_other_config(queue.study_name, attrs["config"], config, changed))
    if attrs.get("config") is None:
        queue.set_user_attr("config", config)
    if held is None:  # last: a worker that finds the seeds finds the config
        queue.set_user_attr("seeds", list(seeds))


def changed_keys(held: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The dotted keys whose values differ (compared as JSON text: a NaN equals a NaN)."""

    def text(flat: dict[str, Any], key: str) -> str | None:
        return json.dumps(flat[key], sort_keys=True) if key in flat else None

    return [k for k in dict.fromkeys([*held, *config]) if text(held, k) != text(config, k)]


def shown_changes(held: dict[str, Any], config: dict[str, Any], keys: list[str], then: str, now: str) -> str:
    """The first three `keys` as `key: <held> <then>, <config> <now>`, and how many more."""

    def value(flat: dict[str, Any], key: str) -> str:
        return show(flat[key]) if key in flat else "(none)"

    shown = ", ".join(f"{k}: {value(held, k)} {then}, {value(config, k)} {now}" for k in keys[:3])
    return shown + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")


def _other_config(name: str, held: dict[str, Any], config: dict[str, Any], keys: list[str]) -> str:
    """One line: the first keys in which this worker's config differs from the queue's."""
    return (f"queue {name!r} runs another config ({shown_changes(held, config, keys, 'in the queue', 'here')}): its "
            "seeds would be reported as one config's runs; give the queue's config and overrides, or another --study")


def _ranges(seeds: Sequence[int]) -> str:
    """[0, 1, 2, 5] -> "0-2,5"."""
    seeds, parts, start = list(seeds), [], None
    for i, s in enumerate(seeds):
        start = s if start is None else start
        if i + 1 == len(seeds) or seeds[i + 1] != s + 1:  # the end of a run of consecutive seeds
            parts.append(str(s) if start == s else f"{start}-{s}")
            start = None
    return ",".join(parts)
