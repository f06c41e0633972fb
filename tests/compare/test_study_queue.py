"""The study as a work queue, in one process on SQLite: slots, a dead worker's trial resumed from
its checkpoint, Ctrl-C queueing a trial again, per-trial sampler seeds, `--status`, seed queues.
The same code with several processes on PostgreSQL: test_workers_postgres.py."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml
from optuna.trial import TrialState

from rlgen.api import load_config, make_experiment
from rlgen.cli import main
from rlgen.runner import Runner
from rlgen.study_queue import latest_attempts, slot
from rlgen.sweep import Sweep, read_sweep

from .queue_toy import write_config


def fake(number: int, state: str = "COMPLETE", retry_of: int | None = None, surplus: bool = False) -> SimpleNamespace:
    return SimpleNamespace(number=number, state=TrialState[state], user_attrs={"surplus": True} if surplus else {},
                           system_attrs={} if retry_of is None else {"failed_trial": retry_of})


def test_slots_go_to_new_trials_in_order_and_a_retry_keeps_its_first_attempts():
    trials = [fake(0), fake(1, "FAIL"), fake(2), fake(3, "FAIL", surplus=True), fake(4, "RUNNING", retry_of=1),
              fake(5, "FAIL", retry_of=1), fake(6, "WAITING", retry_of=1), fake(7)]
    assert [slot(trials, t) for t in trials] == [0, 1, 2, 3, 1, 1, 1, 3]
    # one trial per slot, its latest attempt; the surplus trial holds none
    assert [t.number for t in latest_attempts(trials)] == [0, 2, 6, 7]


def sweep_file(tmp_path: Path, n_trials: int, max_retry: int = 3, **toy) -> Path:
    base = write_config(tmp_path, **toy)
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump({
        "config": str(base), "study": "q", "n_trials": n_trials, "sampler": {"type": "random", "seed": 0},
        "pruner": {"type": "none"}, "heartbeat": {"interval": 1, "grace_period": 2, "max_retry": max_retry},
        "space": {"x": {"type": "float", "low": 1.0, "high": 10.0}},
    }))
    return path


def make_sweep(path: Path) -> Sweep:
    return Sweep(read_sweep(path), load=load_config, make_experiment=make_experiment)


def loss_steps(run_dir: Path) -> list[int]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["global_step"] for r in rows if "loss/toy" in r]


@pytest.mark.filterwarnings("ignore:Heartbeat of storage:UserWarning")  # the test's own ask() of the dead trial
def test_a_dead_workers_trial_is_retried_here_from_its_checkpoint(tmp_path, capsys):
    """A trial left RUNNING with a silent heartbeat (its worker died at step 20): the next worker
    finds no free slot, waits, sees the heartbeat go stale, and resumes the run directory."""
    sweep = make_sweep(sweep_file(tmp_path, n_trials=1))
    study = sweep.open_study()
    dead = study.ask()
    dead.suggest_float("x", 1.0, 10.0)
    cfg = load_config(sweep.trial_config(dead.params, dead.number, dead.params), ["train.total_steps=20"])
    partial = Runner(cfg, make_experiment(cfg))
    dead.set_user_attr("run_dir", str(partial.run_dir))
    partial.run()  # checkpoints at 10 and 20, then "the worker dies"
    study._storage.record_heartbeat(dead._trial_id)  # its last heartbeat; none follows

    sweep.run()
    trials = {t.number: t for t in sweep.open_study().trials}
    assert trials[0].state == TrialState.FAIL
    retry = trials[1]
    assert retry.state == TrialState.COMPLETE and retry.system_attrs["failed_trial"] == 0
    assert retry.params == trials[0].params and retry.user_attrs["run_dir"] == str(partial.run_dir)
    assert loss_steps(partial.run_dir) == [10, 20, 30, 40, 50]  # continued at 30, not from 0
    assert retry.value == pytest.approx(dead.params["x"] * 5)
    # the retry's run keeps its W&B name: the first attempt's number, which `--status` shows it "retry of"
    resumed = yaml.safe_load((partial.run_dir / "config.yaml").read_text())
    assert resumed["logging"]["wandb"]["name"].startswith("q t0 x=")
    err = capsys.readouterr().err
    assert "waiting for 1 running trial" in err and f"resuming {partial.run_dir}" in err


def test_ctrl_c_queues_the_trial_again_and_the_next_run_resumes_it(tmp_path):
    path = sweep_file(tmp_path, n_trials=2, die_at=30, die_once=str(tmp_path / "once"), die_signal="SIGINT")
    with pytest.raises(KeyboardInterrupt):
        make_sweep(path).run()
    study = make_sweep(path).open_study()
    (first, queued) = study.trials
    assert first.state == TrialState.FAIL and queued.state == TrialState.WAITING
    assert queued.user_attrs["run_dir"] == first.user_attrs["run_dir"] and queued.params == first.params
    make_sweep(path).run()  # the marker file exists now: no second Ctrl-C
    trials = make_sweep(path).open_study().trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE]
    assert loss_steps(Path(first.user_attrs["run_dir"])) == [10, 20, 30, 40, 50]
    assert trials[2].user_attrs["run_dir"] != first.user_attrs["run_dir"]  # the second slot: a run of its own


def test_ctrl_c_counts_toward_max_retry(tmp_path, capsys):
    path = sweep_file(tmp_path, n_trials=1, max_retry=0, die_at=30, die_once=str(tmp_path / "once"), die_signal="SIGINT")
    with pytest.raises(KeyboardInterrupt):
        make_sweep(path).run()
    err = " ".join(capsys.readouterr().err.split())
    assert "trial 0 stays failed: it was retried heartbeat.max_retry=0 times already" in err
    assert [t.state for t in make_sweep(path).open_study().trials] == [TrialState.FAIL]  # no copy queued


def test_a_later_worker_draws_new_parameters(tmp_path):
    """Every worker builds the sampler from the same seed; trials must still differ (a seed fixed per
    worker would give worker 2 the parameters worker 1 already tried)."""
    path = sweep_file(tmp_path, n_trials=2)
    make_sweep(path).run()
    make_sweep(path).run(n_trials=4)  # a second worker, started later, same sweep file
    (tmp_path / "again").mkdir()
    again = sweep_file(tmp_path / "again", n_trials=4)
    make_sweep(again).run()  # one worker alone: the same sequence (reproducible)
    xs = [t.params["x"] for t in make_sweep(path).open_study().trials]
    assert len(set(xs)) == 4
    assert [t.params["x"] for t in make_sweep(again).open_study().trials] == xs


def test_sweep_status_lists_trials_states_and_the_best(tmp_path, capsys):
    path = sweep_file(tmp_path, n_trials=3)
    assert main(["sweep", str(path), "--status"]) == 2  # nothing to show, and nothing created
    assert "no study 'q' yet" in capsys.readouterr().err and not (tmp_path / "runs").exists()
    assert main(["sweep", str(path)]) == 0
    capsys.readouterr()
    assert main(["sweep", str(path), "--status"]) == 0
    out = capsys.readouterr().out
    trials = make_sweep(path).open_study().trials
    best = max(trials, key=lambda t: t.value)
    assert out.count("complete") == 4  # three rows and the caption
    assert f"best: trial {best.number}, eval/return_mean = {best.value:.6g}" in out
    assert "3 finished: 3 complete, 0 pruned, 0 failed; 0 running, 0 queued" in out


def test_seed_queue_runs_each_seed_once_and_a_second_worker_finds_nothing_left(tmp_path, capsys):
    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    assert main(["train", str(config), "--seeds", "0-2", "--storage", url]) == 0
    assert main(["train", str(config), "--seeds", "0-2", "--storage", url]) == 0  # all done: runs nothing
    summaries = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "qtoy").glob("*/summary.json")]
    assert sorted(s["seed"] for s in summaries) == [0, 1, 2]
    assert all(s["status"] == "completed" and s["global_step"] == 50 for s in summaries)
    err = capsys.readouterr().err
    assert "seed queue qtoy-seeds-" in err and err.count("seed 1 complete") == 1
    # the queue's name comes from the config and the seed list; a named queue keeps its seeds
    assert main(["train", str(config), "--seeds", "0-2", "--storage", url, "--study", "mine"]) == 0
    assert main(["train", str(config), "--seeds", "0-3", "--storage", url, "--study", "mine"]) == 2
    assert "holds seeds 0-2, not 0-3" in capsys.readouterr().err
    names = {s.study_name for s in optuna.get_all_study_summaries(url)}
    assert len(names) == 2 and "mine" in names
    assert main(["train", str(config), "--seeds", "0-2", "--study", "mine"]) == 2  # a queue needs its storage
    assert "--study names a shared queue of seeds: give it with --storage URL" in capsys.readouterr().err


def test_a_seed_queue_never_takes_over_a_sweeps_study(tmp_path, capsys):
    path = sweep_file(tmp_path, n_trials=1)
    make_sweep(path).run()
    url = f"sqlite:///{tmp_path / 'runs' / 'q' / 'study.db'}"
    before = make_sweep(path).open_study().user_attrs
    assert main(["train", str(write_config(tmp_path)), "--seeds", "0-1", "--storage", url, "--study", "q"]) == 2
    assert "study 'q' holds trials that are not a seed queue's" in capsys.readouterr().err
    assert make_sweep(path).open_study().user_attrs == before  # nothing written into it


def queue_state(url: str, name: str) -> tuple[dict, int]:
    study = optuna.load_study(study_name=name, storage=url)
    return study.user_attrs, len(study.trials)


def test_a_named_seed_queue_refuses_a_worker_with_another_config_and_writes_nothing(tmp_path, capsys):
    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url, "--study", "mixq"]) == 0
    before, runs = queue_state(url, "mixq"), sorted((tmp_path / "runs" / "qtoy").iterdir())
    capsys.readouterr()
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url, "--study", "mixq", "x=7",
                 "train.total_steps=40"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert ("queue 'mixq' runs another config (train.total_steps: 50 in the queue, 40 here, x: 1 in the queue, 7 "
            "here): its seeds would be reported as one config's runs; give the queue's config and overrides, or "
            "another --study") in err
    assert queue_state(url, "mixq") == before and sorted((tmp_path / "runs" / "qtoy").iterdir()) == runs
    # where and how a worker logs is its own (another machine's logging.dir): it joins the queue
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url, "--study", "mixq",
                 f"logging.dir={tmp_path / 'elsewhere'}", "train.checkpoint_every=20"]) == 0
    assert queue_state(url, "mixq") == before and not (tmp_path / "elsewhere").exists()  # all done: ran nothing


def test_a_seed_queue_made_before_it_kept_its_config_takes_the_first_workers(tmp_path, capsys):
    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    optuna.create_study(study_name="old", storage=url, direction="maximize").set_user_attr("seeds", [0, 1])
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url, "--study", "old"]) == 0
    attrs, trials = queue_state(url, "old")
    assert attrs["seeds"] == [0, 1] and attrs["config"]["x"] == 1.0 and trials == 2
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url, "--study", "old", "x=7"]) == 2
    assert "queue 'old' runs another config (x: 1 in the queue, 7 here)" in capsys.readouterr().err


def test_a_sweep_never_joins_a_seed_queue(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    assert main(["train", str(write_config(tmp_path)), "--seeds", "0-1", "--storage", url, "--study", "q"]) == 0
    before = queue_state(url, "q")
    path = sweep_file(tmp_path, n_trials=3)
    capsys.readouterr()
    for status in ([], ["--status"]):
        assert main(["sweep", str(path), "--storage", url, *status]) == 2
        err = " ".join(capsys.readouterr().err.split())
        assert ("study 'q' is a queue of 2 seeds (rlgen train --seeds), not a sweep: its seed runs would be ranked "
                "as this sweep's trials; give the sweep a study of its own") in err
    assert queue_state(url, "q") == before and not (tmp_path / "runs" / "q").exists()


def test_workers_that_differ_only_in_per_machine_keys_join_one_automatic_queue(tmp_path, capsys):
    from rlgen.seeds_queue import queue_name

    def name(*overrides: str, seeds: tuple[int, ...] = (0, 1)) -> str:
        return queue_name(load_config("ppo_cartpole", list(overrides)), seeds)

    same = {name(o) for o in ("logging.dir=/a", "logging.dir=/b", "train.threads=4", "train.checkpoint_every=999",
                              "seed=5", "train.progress=false")}
    assert same == {name()}
    assert name("optim.lr=0.001") != name() and name(seeds=(0, 2)) != name()  # the runs' config and seeds do count
    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url]) == 0
    # another machine's worker: its own logging.dir and threads, the same command otherwise
    assert main(["train", str(config), "--seeds", "0-1", "--storage", url, f"logging.dir={tmp_path / 'elsewhere'}",
                 "train.threads=1"]) == 0
    assert len(optuna.get_all_study_summaries(url)) == 1  # one queue, its seeds all done: the worker ran nothing
    assert not (tmp_path / "elsewhere").exists()


def test_a_worker_that_finds_a_queue_just_made_waits_for_its_makers_config(tmp_path, capsys):
    """Two workers start one --study at the same instant with other configs: one makes the study
    (Optuna refuses a second study of that name), and the other, finding it made but not yet
    described, waits for the maker's seeds and config and is refused, instead of taking the empty
    queue as its own and running its seeds as the same config's."""
    import threading

    from rlgen.seeds_queue import _check_same_queue, queue_config

    config = write_config(tmp_path)
    url = f"sqlite:///{tmp_path / 'queue.db'}"
    made = optuna.create_study(study_name="race", storage=url, direction="maximize")  # the maker, an instant ahead
    theirs = queue_config(load_config(config, ["train.total_steps=40"]))
    maker = threading.Timer(0.5, _check_same_queue, (made, [0, 1], theirs, True))
    maker.start()
    try:
        assert main(["train", str(config), "--seeds", "0-1", "--storage", url, "--study", "race"]) == 2
    finally:
        maker.join()
    assert "queue 'race' runs another config (train.total_steps: 40 in the queue, 50 here)" in \
        " ".join(capsys.readouterr().err.split())
    attrs, trials = queue_state(url, "race")
    assert attrs == {"config": theirs, "seeds": [0, 1]} and trials == 0 and not (tmp_path / "runs").exists()


def test_a_sweep_worker_that_finds_its_study_just_made_waits_for_its_setup(tmp_path, capsys):
    """The same for a sweep: the maker's setup (here a seed queue's seeds) is read before this
    worker writes or runs anything."""
    import threading

    from rlgen.seeds_queue import _check_same_queue, queue_config

    path = sweep_file(tmp_path, n_trials=1)
    url = f"sqlite:///{tmp_path / 'runs' / 'q' / 'study.db'}"
    (tmp_path / "runs" / "q").mkdir(parents=True)
    made = optuna.create_study(study_name="q", storage=url, direction="maximize")
    queue = queue_config(load_config(write_config(tmp_path), []))
    maker = threading.Timer(0.5, _check_same_queue, (made, [0, 1], queue, True))
    maker.start()
    try:
        with pytest.raises(Exception, match="is a queue of 2 seeds"):
            make_sweep(path).run()
    finally:
        maker.join()
    assert queue_state(url, "q") == ({"config": queue, "seeds": [0, 1]}, 0)


def test_a_trials_value_is_never_nan_or_inf_and_a_run_with_none_says_why(tmp_path):
    """An Infinity in metrics.jsonl became a trial's value (and the study's best); a metric NaN at
    every evaluation was said to be "logged no", and a NaN final value failed with no reason."""
    import json

    import pytest

    from rlgen.errors import RlgenError
    from rlgen.study_queue import run_value

    def summary(*values, final=None):
        (tmp_path / "metrics.jsonl").write_text("".join(json.dumps({"global_step": i, "eval/len": v}) + "\n"
                                                        for i, v in enumerate(values)))
        return {"run_dir": str(tmp_path), "best": {"metric": "eval/return_mean", "value": 1.0},
                "final": {"eval/len": final}}

    assert run_value(summary(5.0, float("inf"), 3.0), "eval/len", "maximize") == 5.0
    with pytest.raises(RlgenError, match="logged 'eval/len', but it was NaN or inf at every evaluation"):
        run_value(summary(float("nan"), float("inf")), "eval/len", "maximize")
    with pytest.raises(RlgenError, match="logged 'eval/len', but its last value was nan"):
        run_value(summary(1.0, float("nan"), final=float("nan")), "eval/len", "maximize", objective="final")
    with pytest.raises(RlgenError, match="the run logged no 'eval/other'"):
        run_value(summary(1.0), "eval/other", "maximize")


def test_a_sweep_keeps_escaped_text_of_its_base_config_as_text(tmp_path):
    """Each trial's config is rebuilt through OmegaConf from the base: `\\${usd}` was resolved again
    there, and the sweep stopped on an interpolation the user had escaped."""
    from rlgen.api import load_config, make_experiment
    from rlgen.sweep import Sweep, read_sweep

    spec = read_sweep("sweeps/ppo_cartpole", [f"logging.dir={tmp_path}", r"logging.wandb.project=p_\${usd}"])
    sweep = Sweep(spec, load=load_config, make_experiment=make_experiment)
    assert sweep.best_config({"optim.lr": 1e-3}).logging.wandb.project == "p_${usd}"


def stopped_in_setup(once: Path):
    """make_experiment, whose run is interrupted while it is set up (before its first unit), once."""
    def make(cfg):
        exp = make_experiment(cfg)
        setup = exp.setup

        def interrupted_setup(ctx):
            if not once.exists():
                once.touch()
                raise KeyboardInterrupt  # Ctrl-C or SIGTERM: the runner discards the new run's directory
            setup(ctx)

        exp.setup = interrupted_setup
        return exp

    return make


def test_a_trial_interrupted_before_its_first_checkpoint_starts_over_and_costs_no_retry(tmp_path, capsys):
    path = sweep_file(tmp_path, n_trials=1, max_retry=1, die_at=30, die_once=str(tmp_path / "sigint"),
                      die_signal="SIGINT")
    with pytest.raises(KeyboardInterrupt):  # in setup: no directory, no checkpoint
        Sweep(read_sweep(path), load=load_config, make_experiment=stopped_in_setup(tmp_path / "setup")).run()
    err = " ".join(capsys.readouterr().err.split())
    assert "trial 0 interrupted before its first checkpoint; queued again: the next worker starts it over" in err
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C at step 30, after a checkpoint: the one retry max_retry allows
        make_sweep(path).run()
    err = " ".join(capsys.readouterr().err.split())
    assert "trial 1: the last attempt was interrupted before its first checkpoint; starting the run over" in err
    assert "not on this machine" not in err and "trial 1 queued again: the next worker resumes it" in err
    make_sweep(path).run()
    trials = make_sweep(path).open_study().trials
    assert [t.state for t in trials] == [TrialState.FAIL, TrialState.FAIL, TrialState.COMPLETE]
    assert f"trial 2: resuming {trials[1].user_attrs['run_dir']}" in capsys.readouterr().err


def test_a_lost_storage_stops_the_worker_with_one_line_naming_the_runs_checkpoint(tmp_path, monkeypatch):
    """The database goes away at step 30 (a PostgreSQL server stopped): every connection is refused."""
    from sqlalchemy.engine import Engine
    from sqlalchemy.exc import OperationalError

    from rlgen.errors import RlgenError
    from rlgen.study_queue import HeartbeatConfig, _storage

    def refused(*_, **__):  # as SQLAlchemy raises a driver's error
        driver = ConnectionRefusedError("connection refused")
        raise OperationalError("SELECT 1", {}, driver) from driver

    def losing(cfg):
        exp = make_experiment(cfg)
        unit = exp.train_unit

        def train_unit():
            metrics = unit()
            if exp.global_step == 30:
                monkeypatch.setattr(Engine, "connect", refused)
            return metrics

        exp.train_unit = train_unit
        return exp

    path = sweep_file(tmp_path, n_trials=1)
    sweep = Sweep(read_sweep(path), load=load_config, make_experiment=losing)
    beating = _storage(sweep.storage, HeartbeatConfig())
    with pytest.raises(RlgenError) as lost:
        sweep.run()
    (run_dir,) = (tmp_path / "runs" / "q").glob("2*")
    said = str(lost.value)
    assert "\n" not in said and said.startswith(f"lost the study storage {sweep.storage} (connection refused); ")
    assert f"trial 0's run keeps its checkpoint in {run_dir}: run the same command again once the database" in said
    beating.record_heartbeat(0)  # Optuna's heartbeat thread would die of the error, with a traceback
