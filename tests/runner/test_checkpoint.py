"""Checkpoints a run can rely on: verified, never non-finite, with a fallback to the newest intact
one; run directories that two runs never share; a resume that fails changes nothing."""

import hashlib
import json
import os
import shutil
from collections import deque
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pytest
import torch

import rlgen.logging as rlog
from rlgen import checkpoint, plain, rundir
from rlgen.errors import RlgenError
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _run(tmp_path, **train):
    cfg = toy_config(tmp_path, **train)
    runner = Runner(cfg, exp := ToyExperiment(cfg))
    runner.run()
    return runner, exp


def _warnings(monkeypatch) -> list[str]:
    said: list[str] = []
    monkeypatch.setattr(rlog.console, "print", lambda msg="", *a, **k: said.append(str(msg)))
    return said


def snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` by its path and content hash: compare two to see that nothing changed."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# --- plain data -----------------------------------------------------------------------------------


def test_plain_state_round_trips_exactly_through_a_weights_only_load(tmp_path):
    rng = np.random.default_rng(3)
    state = {
        "arrays": [np.arange(6).astype(dt).reshape(2, 3) for dt in (np.float32, np.float64, np.int64, np.uint8, bool)],
        "scalars": (np.float64(0.5), np.int64(-3), np.bool_(True), np.float32(2.5)),
        "empty": np.zeros((0, 4), np.float32), "strings": np.array(["a", "bc"]),
        "rng": rng.bit_generator.state, "legacy": np.random.RandomState(1).get_state(),
        "episodes": deque([1.0, 2.0], maxlen=5), "keys": {("a", 1): {3}}, "t": torch.ones(2),
    }
    checkpoint.save(tmp_path, 1, state)
    back = checkpoint.load(tmp_path)
    for a, b in zip(state["arrays"], back["arrays"]):
        assert a.dtype == b.dtype and np.array_equal(a, b) and b.flags.writeable
    assert [type(x) for x in back["scalars"]] == [type(x) for x in state["scalars"]]
    assert back["scalars"] == state["scalars"] and back["empty"].shape == (0, 4)
    assert back["strings"].tolist() == ["a", "bc"] and back["rng"] == state["rng"]
    assert np.array_equal(back["legacy"][1], state["legacy"][1])
    assert back["episodes"] == state["episodes"] and back["episodes"].maxlen == 5
    assert back["keys"] == {("a", 1): {3}} and torch.equal(back["t"], state["t"])


def test_state_holding_an_object_is_refused_when_saved_with_its_path(tmp_path):
    with pytest.raises(plain.UnsafeStateError, match=r"experiment\.buffer is a .*Random object"):
        checkpoint.save(tmp_path, 1, {"experiment": {"buffer": __import__("random").Random()}})
    with pytest.raises(plain.UnsafeStateError, match=r"x is a numpy array of dtype object"):
        checkpoint.save(tmp_path, 1, {"x": np.array([None, 1], dtype=object)})
    assert not list(tmp_path.glob("step_*"))  # nothing half-written


class Payload:
    """Pickles to a call of `Path.touch(marker)`: what a crafted checkpoint would carry."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return Path.touch, (self.marker,)


def _craft(ckpt: Path, obj) -> None:
    """Replace a checkpoint's state with `obj`, pickled, and a checksum that matches (an attacker can)."""
    torch.save(obj, ckpt / checkpoint.STATE)
    digest = hashlib.sha256((ckpt / checkpoint.STATE).read_bytes()).hexdigest()
    (ckpt / checkpoint.CHECKSUM).write_text(f"{digest}  0\n")


def test_a_crafted_reduce_payload_is_refused_and_never_runs(tmp_path):
    checkpoint.save(tmp_path, 10, {"x": 1})
    marker = tmp_path / "marker"
    _craft(tmp_path / "step_10", {"experiment": Payload(marker)})
    with pytest.raises(checkpoint.UnsafeCheckpointError, match=r"refused to open .*step_10/state\.pt.*--trust"):
        checkpoint.load(tmp_path)
    assert not marker.exists()
    with pytest.raises(checkpoint.UnsafeCheckpointError, match=r"never held \(.*pathlib\.Path"):
        checkpoint.load(tmp_path, trust=True)  # --trust reads old numpy / SB3 objects, never a call like this
    assert not marker.exists()


def test_an_object_dtype_array_smuggled_into_plain_data_is_refused(tmp_path):
    checkpoint.save(tmp_path, 10, {"x": np.zeros(2)})
    state = torch.load(tmp_path / "step_10" / checkpoint.STATE, weights_only=True)
    state["x"][plain.ARRAY] = "|O"
    _craft(tmp_path / "step_10", state)
    with pytest.raises(RlgenError, match=r"x: refused a numpy array of dtype object"):
        checkpoint.load(tmp_path / "step_10")


def test_a_pickled_blob_is_unpickled_only_inside_trusted(tmp_path):
    import pickle

    marker = tmp_path / "marker"
    blob = pickle.dumps(Payload(marker))
    with pytest.raises(checkpoint.UnsafeCheckpointError, match="replay buffer.*--trust"):
        checkpoint.unpickle(blob, "replay buffer")
    assert not marker.exists()
    with checkpoint.trusted(), pytest.raises(checkpoint.UnsafeCheckpointError, match="refused pathlib.Path"):
        checkpoint.unpickle(blob, "replay buffer")  # trusted: an old buffer's classes, not this
    assert not marker.exists()
    with checkpoint.trusted():  # what an old checkpoint really held comes back
        rng = checkpoint.unpickle(pickle.dumps(np.random.default_rng(3)), "rng")
    assert rng.integers(1000) == np.random.default_rng(3).integers(1000)


# --- verified, with a fallback --------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["truncate", "flip_a_byte", "delete_dir", "delete_checksum_and_truncate"])
def test_a_damaged_latest_checkpoint_falls_back_to_the_previous_and_resume_is_exact(tmp_path, monkeypatch, damage):
    straight, exp = _run(tmp_path / "a", checkpoint_every=10)
    runner, _ = _run(tmp_path / "b", checkpoint_every=10, total_steps=60)
    latest = runner.run_dir / "checkpoints" / "step_60"
    state = latest / checkpoint.STATE
    if damage == "truncate":
        state.write_bytes(state.read_bytes()[: state.stat().st_size // 2])
    elif damage == "flip_a_byte":
        data = bytearray(state.read_bytes())
        data[len(data) // 2] ^= 0xFF
        state.write_bytes(bytes(data))
    elif damage == "delete_dir":
        shutil.rmtree(latest)
    else:
        (latest / checkpoint.CHECKSUM).unlink()
        state.write_bytes(state.read_bytes()[:100])
    said = _warnings(monkeypatch)
    assert checkpoint.load(runner.run_dir)["global_step"] == 50
    assert any("step_50 instead, 10 steps before step_60" in w for w in said), said

    cfg = toy_config(tmp_path / "b", checkpoint_every=10)
    resumed = ToyExperiment(cfg)
    assert Runner(cfg, resumed, resume_dir=runner.run_dir).run()["global_step"] == 100
    assert resumed.units_trained == 5  # 50 -> 100
    assert torch.equal(resumed.model.weight, exp.model.weight)  # the lost steps trained again, exactly


def test_an_explicit_checkpoint_never_falls_back_and_no_intact_one_is_one_error(tmp_path):
    runner, _ = _run(tmp_path, checkpoint_every=20, keep_checkpoints=2)
    for ckpt in (runner.run_dir / "checkpoints").glob("[sb][te]*"):  # step_* and best
        (ckpt / checkpoint.STATE).unlink()  # not written through: best/ may share the file (a hard link)
        (ckpt / checkpoint.STATE).write_bytes(b"not a checkpoint")
    with pytest.raises(RlgenError, match=r"checkpoint .*step_80 is corrupted or was cut short"):
        checkpoint.load(runner.run_dir / "checkpoints" / "step_80")
    with pytest.raises(RlgenError, match=r"no intact checkpoint in .*step_100 is corrupted.*step_80 is corrupted"):
        checkpoint.load(runner.run_dir)


def test_a_checkpoint_is_complete_before_it_is_named(tmp_path, monkeypatch):
    """The checksum is written after the state, and the directory renamed after both."""
    order = []
    real = checkpoint._write
    monkeypatch.setattr(checkpoint, "_write", lambda path, data: (order.append(path.name), real(path, data)))
    final = checkpoint.save(tmp_path, 7, {"x": 1})
    assert order == [checkpoint.STATE, checkpoint.CHECKSUM, "latest.tmp"]
    assert final.name == "step_7" and not list(tmp_path.glob("*.tmp"))


# --- nothing non-finite is written ----------------------------------------------------------------


def test_a_non_finite_weight_is_never_saved(tmp_path):
    cfg = toy_config(tmp_path, checkpoint_every=20, toy={"weight_nan_at": 60})  # after that unit's loss
    runner = Runner(cfg, ToyExperiment(cfg))
    with pytest.raises(RlgenError, match=r"non-finite values in model\.weight \(1 of 2 elements\) at step 60: training "
                                         r"diverged, and this state was not saved\. The latest checkpoint, step_40, is intact"
                                         r": lower optim\.lr or add normalization, and start again$"):
        runner.run()  # not "then resume": --resume refuses a changed optim.lr, and resumed as it was it diverges again
    assert [p.name for p in (runner.run_dir / "checkpoints").glob("step_*")] == ["step_20", "step_40"]
    assert checkpoint.load(runner.run_dir)["global_step"] == 40
    assert json.loads((runner.run_dir / "summary.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("toy", [{"weight_nan_at": 50}, {"nan_at": 10}])
def test_divergence_before_the_first_checkpoint_says_there_is_none(tmp_path, toy):
    cfg = toy_config(tmp_path, checkpoint_every=50, eval_every=100, toy=toy)  # no evaluation, no best to keep
    runner = Runner(cfg, ToyExperiment(cfg))
    with pytest.raises(RlgenError, match=r"No checkpoint was written before it: .*start again") as e:
        runner.run()
    assert "resume" not in str(e.value)
    assert not list((runner.run_dir / "checkpoints").glob("step_*"))


def test_a_diverging_value_loss_warns_once(tmp_path, monkeypatch):
    said = _warnings(monkeypatch)
    _run(tmp_path, toy={"value_growth": 10.0})  # 10, 100, ..., 1e10
    warned = [w for w in said if "loss/value reached" in w]
    assert len(warned) == 1 and "at step 70" in warned[0] and "probably diverging" in warned[0]
    said.clear()
    _run(tmp_path / "calm", toy={"value_growth": 2.0})  # 2 .. 1024: grows, but does not diverge
    assert not [w for w in said if "loss/value reached" in w]


# --- one run, one directory -----------------------------------------------------------------------


def test_two_runs_that_draw_the_same_id_get_two_directories(tmp_path, monkeypatch):
    drawn = iter(["aaaa0000", "aaaa0000", "bbbb1111"])
    monkeypatch.setattr(rundir.secrets, "token_hex", lambda n: next(drawn))
    monkeypatch.setattr(rundir.time, "strftime", lambda fmt: "20260101-000000")
    first, _ = _run(tmp_path)
    second, _ = _run(tmp_path)
    assert first.run_dir.name == "20260101-000000-s0-aaaa0000" and second.run_dir.name == "20260101-000000-s0-bbbb1111"
    assert len((first.run_dir / "metrics.jsonl").read_text().splitlines()) == \
        len((second.run_dir / "metrics.jsonl").read_text().splitlines())  # neither wrote into the other


def test_a_run_directory_in_use_is_refused(tmp_path):
    runner, _ = _run(tmp_path)
    before = snapshot(runner.run_dir)
    cfg = toy_config(tmp_path, total_steps=200)
    with rundir.locked(runner.run_dir), pytest.raises(RlgenError, match="in use by another rlgen process"):
        Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    assert snapshot(runner.run_dir) == before


def test_a_new_run_refused_the_lock_leaves_the_holders_directory_and_lock(tmp_path):
    chosen = tmp_path / "chosen"
    chosen.mkdir()
    cfg = toy_config(tmp_path / "runs")
    with rundir.locked(chosen), pytest.raises(RlgenError, match="in use by another rlgen process") as refused:
        Runner(cfg, ToyExperiment(cfg), run_dir=chosen).run()
    assert (chosen / rundir.LOCK).is_file()
    assert "give this run a new or empty directory" in str(refused.value) and "resum" not in str(refused.value)


def test_a_new_run_that_lost_the_race_for_its_run_dir_leaves_the_winners(tmp_path, monkeypatch):
    """Both were given the same new --run-dir: the other process made it and locked it between this
    one finding it absent and claiming it."""
    chosen, real_claim = tmp_path / "new" / "chosen", rundir.claim

    def the_other_first(path):
        path.mkdir(parents=True)
        winner.enter_context(rundir.locked(path))
        return real_claim(path)

    monkeypatch.setattr(rundir, "claim", the_other_first)
    cfg = toy_config(tmp_path / "runs")
    with ExitStack() as winner, pytest.raises(RlgenError, match="in use by another rlgen process"):
        Runner(cfg, ToyExperiment(cfg), run_dir=chosen).run()
    assert [p.name for p in chosen.iterdir()] == [rundir.LOCK]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork: POSIX only")
def test_a_process_forked_while_a_run_is_locked_does_not_keep_the_lock(tmp_path):
    """A SubprocVecEnv worker forked by a trainer killed with SIGKILL lives on; the run must not stay
    locked with it."""
    (ready_r, ready_w), (release_r, release_w) = os.pipe(), os.pipe()
    with rundir.locked(tmp_path):
        child = os.fork()
        if child == 0:  # the worker: says it is past the fork, then waits to be released
            try:
                os.close(release_w)
                os.write(ready_w, b"1")
                os.read(release_r, 1)
            finally:
                os._exit(0)
        os.read(ready_r, 1)
    try:
        with rundir.locked(tmp_path):  # the holder has let go; the child it forked still runs
            pass
    finally:
        os.close(release_w)  # EOF: the child exits
        os.waitpid(child, 0)
        for fd in (ready_r, ready_w, release_r):
            os.close(fd)


@pytest.mark.parametrize("name", ["metrics.jsonl", "config.yaml"])
def test_a_resume_that_cannot_rewrite_a_file_of_the_run_changes_none(tmp_path, name):
    runner, _ = _run(tmp_path)
    before = snapshot(runner.run_dir)
    file = runner.run_dir / name
    file.rename(tmp_path / "aside")
    file.mkdir()  # in the way of the run's own file
    cfg = toy_config(tmp_path, total_steps=200)
    with pytest.raises(RlgenError) as refused:
        Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()
    file.rmdir()
    (tmp_path / "aside").rename(file)
    assert snapshot(runner.run_dir) == before  # summary.json still "completed", config.yaml its own budget
    assert f"its {name} cannot be rewritten (it is a directory); put the run's own {name} back" in str(refused.value)
    assert Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()["global_step"] == 200


def test_a_lock_file_that_is_a_directory_says_to_remove_it(tmp_path):
    runner, _ = _run(tmp_path)
    (runner.run_dir / rundir.LOCK).unlink()
    (runner.run_dir / rundir.LOCK).mkdir()
    cfg = toy_config(tmp_path, total_steps=200)
    with pytest.raises(RlgenError, match=r"cannot use run directory .*: its lock file cannot be opened "
                                         r"\(Is a directory\); .*\.lock is a directory, not rlgen's lock file: "
                                         r"remove it \(rmdir\)$"):
        Runner(cfg, ToyExperiment(cfg), resume_dir=runner.run_dir).run()


@pytest.mark.parametrize("where", ["run_dir", "logging.dir"])
def test_a_run_dir_path_too_long_is_one_line(tmp_path, where):
    deep = tmp_path / "deep" / "/".join(["d" * 200] * 25)
    cfg = toy_config(deep if where == "logging.dir" else tmp_path / "runs")
    check = "the run directory's path" if where == "run_dir" else "logging.dir and name"
    with pytest.raises(RlgenError, match=f"^cannot create .*: File name too long \\(check {check}\\)$"):
        Runner(cfg, ToyExperiment(cfg), run_dir=deep if where == "run_dir" else None).run()
    assert list(tmp_path.iterdir()) == []


def test_a_chosen_run_dir_must_be_new_or_empty(tmp_path):
    runner, _ = _run(tmp_path)
    cfg = toy_config(tmp_path)
    with pytest.raises(RlgenError, match="already holds files"):
        Runner(cfg, ToyExperiment(cfg), run_dir=runner.run_dir).run()
    empty = tmp_path / "chosen"
    empty.mkdir()
    assert Runner(cfg, ToyExperiment(cfg), run_dir=empty).run()["run_dir"] == str(empty)


@pytest.mark.parametrize("scores, eval_every", [([1, 2, 3, 4, 5], 20), ([5, 4, 3, 2, 1], 20), ([1, 2, 3], 30)],
                         ids=["best at the end", "best first", "last step checkpointed, not evaluated"])
def test_the_last_checkpoint_is_written_once_and_best_stays_a_link_of_it(tmp_path, monkeypatch, scores, eval_every):
    """A run whose last evaluation is its best: the final step was saved in the loop (linked as
    best/) and again after it, which replaced its folder; best/ then held a second copy of it.
    A last step due a checkpoint but no evaluation was saved in the loop, then again with the
    evaluation the loop ends with."""
    saves = []
    save = checkpoint.save
    monkeypatch.setattr(checkpoint, "save", lambda ckpt_dir, step, *a, **k: saves.append(step) or save(ckpt_dir, step, *a, **k))
    runner, _ = _run(tmp_path, toy={"scores": scores}, checkpoint_every=50, eval_every=eval_every)
    assert saves.count(100) == 1
    assert runner.state.last_eval["global_step"] == 100  # the checkpoint holds the final evaluation
    ckpts = runner.run_dir / "checkpoints"
    best = (ckpts / "best" / checkpoint.STATE).stat()
    kept = (ckpts / f"step_{int((ckpts / 'best' / 'step').read_text())}" / checkpoint.STATE)
    assert not kept.exists() or best.st_ino == kept.stat().st_ino


def test_a_logging_dir_under_a_file_is_one_line(tmp_path):
    (tmp_path / "file").write_text("x")
    cfg = toy_config(tmp_path / "file" / "runs")
    with pytest.raises(RlgenError, match="a part of that path is a file, not a directory"):
        Runner(cfg, ToyExperiment(cfg)).run()


@pytest.mark.parametrize("chosen", [False, True])
def test_a_run_dir_that_cannot_be_made_leaves_none_of_the_parents_it_made(tmp_path, chosen):
    """A name too long for the file system: the refusal left the new parent folders behind (and
    blamed logging.dir for a --run-dir)."""
    long = "n" * 300
    cfg = toy_config(tmp_path / "new" / "runs")
    cfg = cfg if chosen else cfg.model_copy(update={"name": long})
    run_dir = tmp_path / "new" / "sub" / long if chosen else None
    with pytest.raises(RlgenError, match="File name too long") as refused:
        Runner(cfg, ToyExperiment(cfg), run_dir=run_dir).run()
    assert ("the run directory's path" if chosen else "check logging.dir and name") in str(refused.value)
    assert not (tmp_path / "new").exists()


# --- a resume that fails changes nothing ----------------------------------------------------------


class BrokenResume(ToyExperiment):
    def load_state_dict(self, state):
        raise RuntimeError("size mismatch for weight: copying a param with shape [1, 2]\n(forty more lines)")


def test_a_resume_that_fails_leaves_every_file_of_the_run_as_it_was(tmp_path):
    runner, _ = _run(tmp_path, checkpoint_every=20)
    os.utime(runner.run_dir / "summary.json", (0, 0))
    before = snapshot(runner.run_dir)
    cfg = toy_config(tmp_path, total_steps=200)
    with pytest.raises(RlgenError) as e:
        Runner(cfg, BrokenResume(cfg), resume_dir=runner.run_dir).run()
    assert str(e.value).count("\n") == 0 and "does not fit this toy experiment (RuntimeError: size mismatch" in str(e.value)
    assert snapshot(runner.run_dir) == before
    assert (runner.run_dir / "summary.json").stat().st_mtime == 0


def test_a_checkpoint_renamed_before_latest_moved_is_still_used(tmp_path, monkeypatch):
    """A kill between the rename and the pointer's move: the newer, complete checkpoint counts."""
    checkpoint.save(tmp_path, 10, {"x": 1})
    checkpoint.save(tmp_path, 20, {"x": 2})
    (tmp_path / "latest").write_text("step_10\n")
    said = _warnings(monkeypatch)
    assert checkpoint.load(tmp_path)["x"] == 2 and not said


def test_when_every_kept_step_is_damaged_the_best_checkpoint_is_the_fallback(tmp_path, monkeypatch):
    cfg = toy_config(tmp_path, checkpoint_every=20, keep_checkpoints=1, toy={"scores": [1, 5, 2, 3, 4]})
    runner = Runner(cfg, ToyExperiment(cfg))
    runner.run()
    ckpts = runner.run_dir / "checkpoints"
    assert (ckpts / "best" / "step").read_text().strip() == "40"
    state = ckpts / "step_100" / checkpoint.STATE
    state.write_bytes(state.read_bytes()[:100])
    said = _warnings(monkeypatch)
    assert checkpoint.load(runner.run_dir)["global_step"] == 40
    assert any("Using best instead, 60 steps before step_100" in w for w in said), said


def test_a_checkpoint_without_its_checksum_is_read_with_a_warning(tmp_path, capsys):
    checkpoint.save(tmp_path, 10, {"x": 1})
    assert checkpoint.read(tmp_path / "step_10")["x"] == 1 and "warning" not in capsys.readouterr().err
    (tmp_path / "step_10" / checkpoint.CHECKSUM).unlink()
    assert checkpoint.read(tmp_path / "step_10")["x"] == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "step_10 has no state.pt.sha256, so whether state.pt is whole is not checked" in err
