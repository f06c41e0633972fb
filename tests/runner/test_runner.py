"""The runner's loop on a toy kind with known behaviour: eval schedule, early stop, checkpoints,
signals, resume, NaN and disk errors."""

import errno
import json
import os
import signal
import time

import pytest
import torch

from rlgen import checkpoint
from rlgen.errors import RlgenError
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def rows(run_dir):
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


def test_runs_to_total_steps_with_evals_on_schedule(tmp_path):
    runner = Runner(toy_config(tmp_path), exp := ToyExperiment(toy_config(tmp_path)))
    summary = runner.run()
    assert summary["status"] == "completed" and exp.global_step == 100 and exp.units_trained == 10
    eval_steps = [r["global_step"] for r in rows(runner.run_dir) if "eval/score" in r]
    assert eval_steps == [20, 40, 60, 80, 100]
    assert all("global_step" in r for r in rows(runner.run_dir))
    assert (runner.run_dir / "config.yaml").is_file()
    assert json.loads((runner.run_dir / "summary.json").read_text())["global_step"] == 100


def test_early_stop_on_target_records_when_it_was_reached(tmp_path):
    cfg = toy_config(tmp_path, early_stop={"metric": "eval/score", "target": 5.0}, toy={"scores": [1, 3, 6, 9]})
    summary = Runner(cfg, ToyExperiment(cfg)).run()
    assert summary["status"] == "stopped_early" and summary["global_step"] == 60
    assert summary["target_reached"]["global_step"] == 60
    assert summary["best"]["value"] == 6.0


def test_early_stop_on_patience(tmp_path):
    cfg = toy_config(tmp_path, total_steps=1000, early_stop={"metric": "eval/score", "patience": 2},
                     toy={"scores": [5, 4, 4.5]})
    summary = Runner(cfg, ToyExperiment(cfg)).run()
    assert summary["status"] == "stopped_early" and summary["global_step"] == 60  # best at 20, then 2 worse
    assert summary["best"] == {"metric": "eval/score", "value": 5.0, "global_step": 20}


@pytest.mark.parametrize("mode, scores, tolerance, best_at, value", [
    ("max", [5, 9, 8.5, 7, 8.8], 0.0, 40, 9.0),     # no tolerance: the highest reading
    ("max", [5, 9, 8.5, 7, 8.8], 0.5, 100, 8.8),    # 8.8 is within 0.5 of 9: the later checkpoint
    ("max", [5, 9, 8.6, 8.7, 8.4], 0.5, 80, 8.7),   # 8.4 is not within 0.5 of 9 (the best seen, not the kept)
    ("min", [5, 1, 1.2, 3, 1.1], 0.2, 100, 1.1),
])
def test_best_tolerance_keeps_a_later_checkpoint_within_it(tmp_path, mode, scores, tolerance, best_at, value):
    cfg = toy_config(tmp_path, checkpoint_every=20, keep_checkpoints=1,
                     early_stop={"metric": "eval/score", "mode": mode, "best_tolerance": tolerance},
                     toy={"scores": scores})
    runner = Runner(cfg, ToyExperiment(cfg))
    summary = runner.run()
    assert summary["best"] == {"metric": "eval/score", "value": value, "global_step": best_at}
    assert checkpoint.load(runner.run_dir / "checkpoints" / "best")["global_step"] == best_at


def test_patience_counts_from_the_best_value_seen_not_a_later_takeover(tmp_path):
    cfg = toy_config(tmp_path, total_steps=1000, toy={"scores": [5, 4.9, 4.9, 4.9]},
                     early_stop={"metric": "eval/score", "patience": 2, "best_tolerance": 0.5})
    summary = Runner(cfg, ToyExperiment(cfg)).run()
    assert summary["status"] == "stopped_early" and summary["global_step"] == 60
    assert summary["best"]["global_step"] == 60  # the last reading within 0.5 of 5 is the one kept


def test_min_mode_tracks_the_lowest(tmp_path):
    cfg = toy_config(tmp_path, early_stop={"metric": "eval/score", "mode": "min"}, toy={"scores": [3, 1, 2]})
    assert Runner(cfg, ToyExperiment(cfg)).run()["best"]["value"] == 1.0


def test_a_resume_that_changes_early_stop_chooses_its_best_and_target_afresh(tmp_path):
    scores = [9, 7, 3, 6]  # evaluations at 20, 40, 60, 80
    first = toy_config(tmp_path, toy={"scores": scores}, early_stop={"metric": "eval/score", "target": 8})
    runner = Runner(first, ToyExperiment(first))
    assert runner.run()["target_reached"]["global_step"] == 20  # 9 at 20: stopped early
    # resumed for the lowest score: 9 is no best by it, and reaching 8 was another target
    second = toy_config(tmp_path, toy={"scores": scores}, early_stop={"metric": "eval/negated", "target": -4})
    summary = Runner(second, ToyExperiment(second), resume_dir=runner.run_dir).run()
    assert summary["best"] == {"metric": "eval/negated", "value": -3.0, "global_step": 60}
    assert summary["target_reached"]["global_step"] == 60 and summary["status"] == "stopped_early"
    assert checkpoint.load(runner.run_dir / "checkpoints" / "best")["global_step"] == 60


def test_a_resumed_run_is_running_on_disk_until_it_ends_again(tmp_path):
    """So a resume killed outright (no summary written at its end) opens at its newest checkpoint."""
    first = toy_config(tmp_path, total_steps=40)
    runner = Runner(first, ToyExperiment(first))
    runner.run()
    summary_path = runner.run_dir / "summary.json"
    seen = []
    on_eval = lambda step, metrics: seen.append(json.loads(summary_path.read_text())["status"])  # noqa: E731
    more = toy_config(tmp_path, total_steps=80)
    assert Runner(more, ToyExperiment(more), resume_dir=runner.run_dir, on_eval=on_eval).run()["status"] == "completed"
    assert seen == ["running", "running"] and json.loads(summary_path.read_text())["status"] == "completed"


def test_an_early_stop_metric_the_run_never_logs_is_said_once(tmp_path, capsys):
    cfg = toy_config(tmp_path, early_stop={"metric": "eval/scor"})
    summary = Runner(cfg, ToyExperiment(cfg)).run()
    err = capsys.readouterr().err
    assert err.count("train.early_stop.metric 'eval/scor' is not among") == 1 and "did you mean 'eval/score'?" in err
    assert summary["best"]["value"] is None and summary["status"] == "completed"


class CloseFailsSilently(ToyExperiment):
    def close(self) -> None:
        raise EOFError()  # a dead subprocess env's pipe: str() is ''


def test_a_close_that_fails_with_no_message_is_said_by_its_type(tmp_path, capsys):
    cfg = toy_config(tmp_path)
    assert Runner(cfg, CloseFailsSilently(cfg)).run()["status"] == "completed"
    assert "warning: closing the experiment failed: EOFError" in capsys.readouterr().err


def test_checkpoints_keep_the_newest_k_and_point_to_the_latest(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=10, keep_checkpoints=2)
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    ckpts = runner.run_dir / "checkpoints"
    assert sorted(p.name for p in ckpts.glob("step_*")) == ["step_100", "step_90"]
    assert checkpoint.latest(ckpts).name == "step_100"
    assert checkpoint.load(runner.run_dir)["global_step"] == 100


def test_a_half_written_checkpoint_is_never_the_latest(tmp_path):
    ckpts = tmp_path / "checkpoints"
    checkpoint.save(ckpts, 10, {"x": 1})
    (ckpts / "step_20.tmp").mkdir()  # a crash mid-write leaves this behind
    assert checkpoint.load(ckpts)["x"] == 1


def test_missing_checkpoint_is_a_readable_error(tmp_path):
    with pytest.raises(RlgenError, match=r"no checkpoint found at .*has the run saved one yet"):
        checkpoint.load(tmp_path)
    # what the folder is, said as it is: gone, or a finished run whose checkpoints/ went
    with pytest.raises(RlgenError, match=r"no checkpoint found at .*gone: it does not exist \(moved or deleted\?\)$"):
        checkpoint.load(tmp_path / "gone")
    (tmp_path / "summary.json").write_text("{}")
    with pytest.raises(RlgenError, match=r"the run's checkpoints/ folder is gone \(deleted or not copied with the run\)$"):
        checkpoint.load(tmp_path)


def test_nan_loss_stops_with_a_message_and_keeps_the_last_checkpoint(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=20, toy={"nan_at": 50})
    runner = Runner(cfg, ToyExperiment(cfg))
    with pytest.raises(RlgenError, match=r"non-finite loss/total at step 50.*lower optim.lr"):
        runner.run()
    assert checkpoint.load(runner.run_dir)["global_step"] == 40
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "failed"


def test_full_disk_while_checkpointing_is_a_readable_error(tmp_path, monkeypatch):
    cfg = toy_config(tmp_path, checkpoint_every=20)
    runner = Runner(cfg, ToyExperiment(cfg))

    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.os, "fsync", full)
    with pytest.raises(RlgenError, match="disk full while writing a checkpoint .* free some space and start the run "
                                         r"again \(it had written no checkpoint yet\)"):
        runner.run()
    assert not list((runner.run_dir / "checkpoints").glob("step_*"))  # nothing half-written left


def test_a_full_disk_after_a_checkpoint_names_the_run_to_resume(tmp_path, monkeypatch):
    cfg = toy_config(tmp_path, checkpoint_every=20)
    runner = Runner(cfg, ToyExperiment(cfg))
    fsync, calls = checkpoint.os.fsync, []

    def fills_up(fd):
        calls.append(fd)
        if len(calls) > 4:  # the first checkpoint's files went through
            raise OSError(errno.ENOSPC, "No space left on device")
        return fsync(fd)

    monkeypatch.setattr(checkpoint.os, "fsync", fills_up)
    with pytest.raises(RlgenError) as e:
        runner.run()
    assert f"resume with `rlgen train --resume {runner.run_dir}` (its last complete checkpoint is intact)" in str(e.value)
    assert checkpoint.load(runner.run_dir)["global_step"] >= 20


@pytest.mark.parametrize("sig, code", [("sigint", 130), ("sigterm", 143)])
def test_signal_checkpoints_and_resume_continues_exactly(tmp_path, sig, code):
    cfg = toy_config(tmp_path, checkpoint_every=1000, toy={"on_unit": sig, "signal_at": 30})
    runner = Runner(cfg, exp := ToyExperiment(cfg))
    summary = runner.run()
    assert summary["status"] == "interrupted" and summary["global_step"] == 30 and runner.exit_code == code
    saved = checkpoint.load(runner.run_dir)
    assert saved["global_step"] == 30

    resumed_cfg = toy_config(tmp_path)  # same run, no signal this time
    resumed = ToyExperiment(resumed_cfg)
    summary = Runner(resumed_cfg, resumed, resume_dir=runner.run_dir).run()
    assert summary["status"] == "completed" and summary["global_step"] == 100
    assert resumed.units_trained == 7  # 30 -> 100, not from zero

    # the resumed run started from the checkpoint's weights and optimizer state
    fresh = ToyExperiment(resumed_cfg)
    fresh.setup(None)
    fresh.load_state_dict(saved["experiment"])
    assert torch.equal(fresh.model.weight, exp.model.weight)
    assert fresh.opt.state_dict()["state"][0]["step"] == exp.opt.state_dict()["state"][0]["step"] == 3
    eval_steps = [r["global_step"] for r in rows(runner.run_dir) if "eval/score" in r]
    assert eval_steps == [20, 40, 60, 80, 100]  # the schedule carried over the resume


def test_resume_of_a_directory_that_is_not_a_run(tmp_path):
    cfg = toy_config(tmp_path)
    with pytest.raises(RlgenError, match=r"cannot resume: .*nope does not exist; give the run directory to continue"):
        Runner(cfg, ToyExperiment(cfg), resume_dir=tmp_path / "nope").run()


class AbortedInItsFirstEvaluation(ToyExperiment):
    """A second Ctrl-C lands while the first evaluation runs: the run stops at once, without a checkpoint."""

    def evaluate(self, episodes=None, video_dir=None):
        raise KeyboardInterrupt


def test_a_run_stopped_before_its_first_checkpoint_says_so_at_resume(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=100)
    runner = Runner(cfg, AbortedInItsFirstEvaluation(cfg))
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "interrupted"
    with pytest.raises(RlgenError, match=r"the run ended before its first checkpoint: there is nothing to continue "
                                         r"or open; start the run again$"):
        Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()


# --- bad input found at setup leaves nothing behind -------------------------------------------------


class RefusedAtSetup(ToyExperiment):
    """A setting the experiment's library refuses once the experiment is built (PPO's batch_size of 1)."""

    def setup(self, ctx):
        super().setup(ctx)
        raise RlgenError("could not build the toy: toy.unit must be positive")


class RefusedAtFirstUnit(ToyExperiment):
    """Bad input found when the first unit needs it (kind: imitation's demos)."""

    def train_unit(self):
        raise RlgenError("demos.path: demos not found")


class BrokenAtSetup(ToyExperiment):
    def setup(self, ctx):
        raise ZeroDivisionError("a bug, not bad input")


class SignalledAtSetup(ToyExperiment):
    """SIGINT or SIGTERM arrives while the experiment is built (a slow env, a dataset loading)."""

    def setup(self, ctx):
        super().setup(ctx)
        os.kill(os.getpid(), getattr(signal, self.cfg.toy.on_unit.upper()))
        time.sleep(5)  # the signal lands here, at the latest


@pytest.fixture
def python_sigint():
    """Python's own Ctrl-C handler, whatever the suite was started with: a shell starts the commands
    it runs in the background (`make test &`) with SIGINT ignored, and the test would see no signal."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@pytest.mark.parametrize("sig, code", [("sigint", 130), ("sigterm", 143)])
def test_a_new_run_interrupted_at_setup_leaves_no_directory(tmp_path, sig, code, python_sigint):
    cfg = toy_config(tmp_path, toy={"on_unit": sig})
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as e:
        Runner(cfg, SignalledAtSetup(cfg)).run()
    assert list(tmp_path.iterdir()) == []
    assert 128 + getattr(e.value, "signum", 2) == code  # the exit status `rlgen train` returns
    assert signal.getsignal(signal.SIGTERM) is before  # the runner's handler does not outlive it


def test_a_new_run_refused_at_setup_leaves_no_directory(tmp_path):
    cfg = toy_config(tmp_path / "runs" / "nested")  # the parents do not exist yet either
    runner = Runner(cfg, RefusedAtSetup(cfg))
    with pytest.raises(RlgenError, match="toy.unit must be positive"):
        runner.run()
    assert list(tmp_path.iterdir()) == []


def test_a_new_run_refused_at_its_first_unit_leaves_no_directory(tmp_path):
    cfg = toy_config(tmp_path)
    with pytest.raises(RlgenError, match="demos not found"):
        Runner(cfg, RefusedAtFirstUnit(cfg)).run()
    assert list(tmp_path.iterdir()) == []


def test_a_chosen_empty_run_dir_refused_at_setup_stays_empty(tmp_path):
    (chosen := tmp_path / "chosen").mkdir()
    cfg = toy_config(tmp_path / "runs")
    with pytest.raises(RlgenError, match="toy.unit must be positive"):
        Runner(cfg, RefusedAtSetup(cfg), run_dir=chosen).run()
    assert [p.name for p in tmp_path.iterdir()] == ["chosen"] and list(chosen.iterdir()) == []


def test_a_new_run_dir_beside_other_runs_goes_alone(tmp_path):
    cfg = toy_config(tmp_path)
    first = Runner(cfg, ToyExperiment(cfg))
    first.run()
    with pytest.raises(RlgenError):
        Runner(cfg, RefusedAtSetup(cfg)).run()
    assert list((tmp_path / "toy").iterdir()) == [first.run_dir]


def test_a_crash_at_setup_or_a_failure_in_training_keeps_the_run_dir(tmp_path):
    cfg = toy_config(tmp_path)
    broken = Runner(cfg, BrokenAtSetup(cfg))
    with pytest.raises(ZeroDivisionError):
        broken.run()  # a bug: its run directory and summary are the evidence
    assert json.loads((broken.run_dir / "summary.json").read_text())["status"] == "failed"
    cfg = toy_config(tmp_path, toy={"nan_at": 10})
    diverged = Runner(cfg, ToyExperiment(cfg))
    with pytest.raises(RlgenError, match="non-finite loss"):
        diverged.run()
    assert (diverged.run_dir / "summary.json").is_file()


def test_a_refused_run_dir_that_holds_a_run_is_left_as_it_was(tmp_path):
    cfg = toy_config(tmp_path)
    first = Runner(cfg, ToyExperiment(cfg))
    first.run()
    before = sorted(p.name for p in first.run_dir.rglob("*"))
    with pytest.raises(RlgenError, match="already holds files"):
        Runner(cfg, RefusedAtSetup(cfg), run_dir=first.run_dir).run()
    assert sorted(p.name for p in first.run_dir.rglob("*")) == before


def test_a_run_dir_that_holds_no_run_is_not_offered_to_resume(tmp_path):
    """--run-dir on a folder of other files: resuming it would fail (no config.yaml), so only a
    folder that holds a run is offered `rlgen train --resume`."""
    cfg = toy_config(tmp_path)
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("x")
    with pytest.raises(RlgenError) as refused:
        Runner(cfg, ToyExperiment(cfg), run_dir=folder).run()
    assert "already holds files: give a new or empty directory" in str(refused.value)
    assert "--resume" not in str(refused.value)
    assert "--run-dir" not in str(refused.value)  # said from Python too: the CLI's option is not named
    first = Runner(cfg, ToyExperiment(cfg))
    first.run()
    with pytest.raises(RlgenError, match=r"already holds files \(a run\): .* continue that run with `rlgen train --resume"):
        Runner(cfg, ToyExperiment(cfg), run_dir=first.run_dir).run()


def test_a_resume_after_a_cut_off_metrics_row_keeps_every_line_whole(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=1000, toy={"on_unit": "sigterm", "signal_at": 30})
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    metrics = runner.run_dir / "metrics.jsonl"
    with open(metrics, "a") as f:
        f.write('{"global_step": 40, "eval/sco')  # killed mid-write
    Runner(toy_config(tmp_path), ToyExperiment(toy_config(tmp_path)), resume_dir=runner.run_dir).run()
    lines = metrics.read_text().splitlines()
    assert all(json.loads(line) for line in lines)  # no row joined to the cut-off one
    assert [r["global_step"] for r in rows(runner.run_dir) if "eval/score" in r] == [20, 40, 60, 80, 100]


def test_the_summary_names_the_run_directory_from_anywhere(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = toy_config("runs")  # a relative logging.dir
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    written = json.loads((tmp_path / runner.run_dir / "summary.json").read_text())["run_dir"]
    assert written == str(tmp_path / runner.run_dir)


def _files(run_dir):
    return {p: p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file() and p.name != ".lock"}


class SignalledAtItsLastEvaluation(ToyExperiment):
    """SIGTERM arrives while the evaluation that reaches the target runs."""

    def evaluate(self, episodes=None, video_dir=None):
        metrics = super().evaluate(episodes, video_dir)
        if metrics["eval/score"] >= 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return metrics


def test_a_signal_during_the_evaluation_that_stops_the_run_leaves_it_stopped_for_good(tmp_path):
    cfg = toy_config(tmp_path, total_steps=200, early_stop={"metric": "eval/score", "target": 5.0},
                     toy={"scores": [1, 3, 6, 9]})
    runner = Runner(cfg, SignalledAtItsLastEvaluation(cfg))
    summary = runner.run()
    assert summary["status"] == "stopped_early" and summary["global_step"] == 60
    assert runner.exit_code == 143  # the signal still says stop to what runs this run (--seeds, a sweep)
    before = _files(runner.run_dir)
    again = Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir)  # the stop holds: no training after it
    assert again.run()["status"] == "stopped_early" and again.exp.units_trained == 0
    assert _files(runner.run_dir) == before


def test_a_finished_run_resumed_as_it_is_changes_no_file(tmp_path):
    cfg = toy_config(tmp_path, total_steps=40)
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    before = _files(runner.run_dir)
    summary = Runner(cfg, exp := ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    assert summary["status"] == "completed" and summary["global_step"] == 40 and exp.units_trained == 0
    assert _files(runner.run_dir) == before


def test_rows_logged_after_the_checkpoint_a_resume_starts_from_are_not_kept_twice(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=1000, toy={"on_unit": "sigterm", "signal_at": 30})
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()  # checkpointed at 30
    with open(runner.run_dir / "metrics.jsonl", "a") as f:  # a run killed after it logged step 40's row
        f.write('{"global_step": 40, "loss/total": 0.5}\n')
    Runner(toy_config(tmp_path), ToyExperiment(toy_config(tmp_path)), resume_dir=runner.run_dir).run()
    train_steps = [r["global_step"] for r in rows(runner.run_dir) if "loss/total" in r]
    assert train_steps == list(range(10, 101, 10))


@pytest.mark.parametrize("total", [100, 40])  # 40: the killed checkpoint is the run's last
def test_a_best_checkpoint_the_run_was_killed_before_marking_is_marked_on_resume(tmp_path, monkeypatch, total):
    cfg = toy_config(tmp_path, total_steps=total, early_stop={"metric": "eval/score"}, toy={"scores": [1, 5, 2, 2, 2]})
    mark_best, calls = checkpoint.mark_best, []

    def killed_at_the_second(ckpt_dir, step_dir):
        calls.append(step_dir.name)
        if len(calls) == 2:
            raise KeyboardInterrupt  # a second Ctrl-C between the save and the mark
        return mark_best(ckpt_dir, step_dir)

    monkeypatch.setattr(checkpoint, "mark_best", killed_at_the_second)
    runner = Runner(cfg, ToyExperiment(cfg))
    with pytest.raises(KeyboardInterrupt):
        runner.run()
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "interrupted"
    assert checkpoint.step_of(runner.run_dir / "checkpoints" / "best") == 20
    monkeypatch.setattr(checkpoint, "mark_best", mark_best)
    summary = Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    assert summary["best"]["global_step"] == 40
    assert checkpoint.step_of(runner.run_dir / "checkpoints" / "best") == 40


def test_a_run_interrupted_in_its_last_unit_resumes_to_a_completed_summary(tmp_path):
    cfg = toy_config(tmp_path, total_steps=40, toy={"on_unit": "sigterm", "signal_at": 40})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "interrupted"  # evaluated and checkpointed at 40, its budget
    plain = toy_config(tmp_path, total_steps=40)
    summary = Runner(plain, exp := ToyExperiment(plain), resume_dir=runner.run_dir).run()
    assert summary["status"] == "completed" and exp.units_trained == 0
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "completed"
    (runner.run_dir / "summary.json").unlink()  # killed before its summary: written again
    Runner(plain, ToyExperiment(plain), resume_dir=runner.run_dir).run()
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "completed"


def test_a_stopped_run_given_more_steps_says_how_to_continue(tmp_path, capsys):
    cfg = toy_config(tmp_path, early_stop={"metric": "eval/score", "target": 5.0}, toy={"scores": [1, 6]})
    runner = Runner(cfg, ToyExperiment(cfg))
    assert runner.run()["status"] == "stopped_early"
    more = toy_config(tmp_path, total_steps=500, early_stop={"metric": "eval/score", "target": 5.0},
                      toy={"scores": [1, 6]})
    capsys.readouterr()
    assert Runner(more, ToyExperiment(more), resume_dir=runner.run_dir).run()["status"] == "stopped_early"
    assert "change train.early_stop" in capsys.readouterr().err.replace("\n", " ")


class SlowToy(ToyExperiment):
    """Each unit takes a while: the clocks read well above the time a resume takes to set up."""

    def train_unit(self):
        time.sleep(0.25)
        return super().train_unit()


def test_time_elapsed_goes_on_after_a_resume_as_the_eval_clock_does(tmp_path):
    cfg = toy_config(tmp_path, total_steps=50, checkpoint_every=1000, toy={"on_unit": "sigterm", "signal_at": 30})
    runner = Runner(cfg, SlowToy(cfg))
    assert runner.run()["status"] == "interrupted"  # checkpointed at 30, after 0.75 s of units
    before = rows(runner.run_dir)
    Runner(toy_config(tmp_path, total_steps=50), ToyExperiment(toy_config(tmp_path, total_steps=50)),
           resume_dir=runner.run_dir).run()
    after = rows(runner.run_dir)[len(before):]
    assert [r["global_step"] for r in after if "loss/total" in r] == [40, 50]
    last = max(r["time/elapsed_s"] for r in before)
    assert last >= 0.75
    elapsed = [r["time/elapsed_s"] for r in after]
    assert elapsed[0] >= last and elapsed == sorted(elapsed)  # not from 0 again
    walls = [r["eval/wall_time_s"] for r in rows(runner.run_dir) if "eval/wall_time_s" in r]
    assert walls == sorted(walls) and walls[-1] >= 0.75  # the eval clock, which always went on


class SlowSetup(ToyExperiment):
    """Setting up takes a while (envs, datasets): the logger's clock runs well ahead of train_time_s."""

    def setup(self, ctx):
        time.sleep(0.5)
        super().setup(ctx)


def test_time_elapsed_never_goes_back_after_resuming_a_checkpoint_without_its_clock(tmp_path):
    cfg = toy_config(tmp_path, total_steps=50, checkpoint_every=1000, toy={"on_unit": "sigterm", "signal_at": 30})
    runner = Runner(cfg, SlowSetup(cfg))
    assert runner.run()["status"] == "interrupted"
    ckpt = runner.run_dir / "checkpoints"
    state = checkpoint.read(ckpt / "step_30")
    assert state["runner"].pop("elapsed_s") >= 0.5  # as an rlgen that did not keep the logger's clock wrote it
    assert state["runner"]["train_time_s"] < 0.5  # the loop's own clock leaves the setup out
    state.pop("format", None)
    checkpoint.save(ckpt, 30, state)
    before = rows(runner.run_dir)
    Runner(toy_config(tmp_path, total_steps=50), ToyExperiment(toy_config(tmp_path, total_steps=50)),
           resume_dir=runner.run_dir).run()
    elapsed = [r["time/elapsed_s"] for r in rows(runner.run_dir)]
    assert len(elapsed) > len(before) and elapsed == sorted(elapsed)


def test_kept_elapsed_s_reads_only_the_rows_a_resume_keeps(tmp_path):
    from rlgen.logging import kept_elapsed_s

    path = tmp_path / "metrics.jsonl"
    path.write_text('{"global_step": 10, "time/elapsed_s": 2.5}\n{"global_step": 10, "eval/score": 1}\n'
                    '{"global_step": 20, "time/elapsed_s": 4.0}\n{"global_step": 30, "time/el')
    assert kept_elapsed_s(path, 2) == 2.5 and kept_elapsed_s(path, None) == 4.0
    assert kept_elapsed_s(path, 0) is None and kept_elapsed_s(tmp_path / "absent.jsonl", None) is None


class SlowCheckpoint(ToyExperiment):
    """Each checkpoint's state takes 0.1 s to gather; training and evaluating take next to none."""

    def state_dict(self):
        time.sleep(0.1)
        return super().state_dict()


def test_the_loops_clock_counts_its_checkpoints_and_logging_not_only_units_and_evaluations(tmp_path):
    """eval/wall_time_s is the time to target that benchmarks compare with SB3's learn(), whose clock
    counts its callbacks and logging: it summed only units and evaluations, leaving out the
    checkpoints, metrics and checks between them."""
    cfg = toy_config(tmp_path, total_steps=100, eval_every=20, checkpoint_every=10)
    runner = Runner(cfg, SlowCheckpoint(cfg))
    summary = runner.run()
    walls = [r["eval/wall_time_s"] for r in rows(runner.run_dir) if "eval/wall_time_s" in r]
    assert walls[0] >= 0.1  # the checkpoint at step 10 came before the first evaluation, at step 20
    assert walls[-1] >= 0.9 and summary["wall_time_s"] >= 1.0  # 9 checkpoints before the last evaluation; 10 in all
