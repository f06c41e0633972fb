"""A run trained from a thread other than the main one (a notebook's, a GUI's worker), and a second
run started in another thread while one trains: refused in one line, before any file."""

import threading

import pytest

from rlgen.errors import RlgenError
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _in_a_thread(work):
    """What `work()` returned, or raised, run in a new thread."""
    out = {}

    def go():
        try:
            out["value"] = work()
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            out["error"] = e

    thread = threading.Thread(target=go)
    thread.start()
    thread.join()
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_a_run_trains_in_a_thread_other_than_the_main_one(tmp_path):
    cfg = toy_config(tmp_path)
    summary = _in_a_thread(lambda: Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "run").run())
    assert summary["status"] == "completed" and summary["global_step"] == 100  # was: signal only works in main thread


def test_a_second_run_in_another_thread_is_refused_while_one_trains(tmp_path):
    second = toy_config(tmp_path)
    refused = []

    def on_eval(step, metrics):
        if step == 20:  # the first run is training: its hook starts the second in another thread
            with pytest.raises(RlgenError, match="another run is training in this process") as e:
                _in_a_thread(lambda: Runner(second, ToyExperiment(second), run_dir=tmp_path / "second").run())
            refused.append(str(e.value))
        return False

    cfg = toy_config(tmp_path)
    assert Runner(cfg, ToyExperiment(cfg), run_dir=tmp_path / "first", on_eval=on_eval).run()["status"] == "completed"
    assert len(refused) == 1 and "\n" not in refused[0]
    assert not (tmp_path / "second").exists()
    # once the first has returned, another thread trains
    assert _in_a_thread(lambda: Runner(second, ToyExperiment(second), run_dir=tmp_path / "second").run())[
        "status"] == "completed"
