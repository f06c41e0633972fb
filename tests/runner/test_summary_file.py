"""summary.json is valid JSON when the run's figures are NaN or infinite, and reads back as they were."""

import json
import math

import pytest

from rlgen import checkpoint, summary_file
from rlgen.run_data import read_run
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config


def _strict(text):
    """json.loads as jq, JavaScript or any strict reader parses: no NaN / Infinity words."""
    def refuse(word):
        raise ValueError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


class Unbounded(ToyExperiment):
    """An evaluation whose scores are infinite and undefined (NaN)."""

    def evaluate(self, episodes=None, video_dir=None):
        super().evaluate(episodes, video_dir)
        return {"eval/score": math.inf, "eval/negated": -math.inf, "eval/ratio": math.nan}


def _same(a, b):
    """Equal, NaN included."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a):
        return math.isnan(b)
    return a == b


def test_a_summary_with_non_finite_figures_is_valid_json_and_reads_back_the_same(tmp_path):
    cfg = toy_config(tmp_path, total_steps=40)
    runner = Runner(cfg, Unbounded(cfg))
    summary = runner.run()
    assert summary["best"]["value"] is None  # an infinite evaluation is never the best (rlgen.scoring)
    assert summary["final"]["eval/score"] == math.inf and math.isnan(summary["final"]["eval/ratio"])
    text = (runner.run_dir / "summary.json").read_text()
    plain = _strict(text)  # a strict reader takes it
    assert plain["final"]["eval/score"] is None and plain["final"]["eval/ratio"] is None  # null where they stand
    assert {tuple(e["path"]): e["value"] for e in plain["non_finite"]} == {
        ("final", "eval/score"): "Infinity", ("final", "eval/negated"): "-Infinity", ("final", "eval/ratio"): "NaN"}
    assert _same(summary_file.from_text(text), summary)  # rlgen's readers get the run's own numbers back
    # the readers of the status see the run as they did
    assert checkpoint.run_status(runner.run_dir) == "completed" and read_run(runner.run_dir).finished


def test_a_resumed_run_marked_running_stays_valid_json(tmp_path):
    runner = Runner(toy_config(tmp_path, total_steps=40), Unbounded(toy_config(tmp_path, total_steps=40)))
    runner.run()
    seen = []

    def read_while_running(step, metrics):
        seen.append((runner.run_dir / "summary.json").read_text())
        return False

    more = toy_config(tmp_path, total_steps=60)
    Runner(more, Unbounded(more), resume_dir=runner.run_dir, on_eval=read_while_running).run()
    assert _strict(seen[0])["status"] == "running"
    assert summary_file.from_text(seen[0])["final"]["eval/score"] == math.inf
    assert _strict((runner.run_dir / "summary.json").read_text())["status"] == "completed"


def test_a_summary_written_before_this_format_reads_as_it_did():
    old = json.dumps({"status": "completed", "best": {"value": math.nan}, "final": {"eval/x": math.inf}})
    assert "NaN" in old  # what rlgen wrote before: bare words
    read = summary_file.from_text(old)
    assert math.isnan(read["best"]["value"]) and read["final"]["eval/x"] == math.inf


@pytest.mark.parametrize("entry", [
    {"path": ["final", "missing"], "value": "NaN"},   # no such key: nothing is added
    {"path": ["final", "eval/x"], "value": "NaN"},    # a number stands there: left as it is
    {"path": ["final", "eval/x", 0], "value": "NaN"},  # through a number
    {"path": [], "value": "NaN"},
    {"path": ["final", "eval/y"], "value": "1e999"},  # not one of the three words
    "garbage",
])
def test_a_hand_edited_non_finite_list_never_breaks_reading(entry):
    text = json.dumps({"final": {"eval/x": 1.5, "eval/y": None}, "non_finite": [entry]})
    assert summary_file.from_text(text) == {"final": {"eval/x": 1.5, "eval/y": None}}


def test_a_summary_with_only_finite_figures_has_no_list():
    summary = {"status": "completed", "best": {"value": 2.5}, "final": {"eval/x": 1, "eval/tag": "NaN"}}
    text = summary_file.to_text(summary)
    assert "non_finite" not in _strict(text) and summary_file.from_text(text) == summary


def test_json_nested_too_deeply_is_a_value_error_as_other_damage_is():
    # someone else's crafted summary.json: every reader of it catches ValueError, none RecursionError
    with pytest.raises(ValueError, match="nested too deeply"):
        summary_file.from_text("[" * 200_000 + "]" * 200_000)
