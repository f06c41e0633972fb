"""benchmarks/teams.py --run: one column per run, even where two runs' directories share a name
(x/run, y/run: each then labelled by its path). Measuring is replaced by a stand-in: the labels
are what is checked, not the figures."""

import contextlib
import json
import sys
import types

from tests.bench import load


def fake_measure(run_dir, episodes, games_per_pair, checkpoint):
    rows = {label: (float(len(str(run_dir))), 0.5) for label, _, _ in load("teams").MATCHUPS}
    return {"step": 1, "checkpoint": checkpoint, "rows": rows, "elo": {"adversary:random": 1000.0},
            "sides": ["adversary", "agent"], "dir": str(run_dir)}


def measured_runs(runs, tmp_path, monkeypatch, capsys) -> tuple[dict, str]:
    teams = load("teams")
    for run in runs:
        (tmp_path / run).mkdir(parents=True)
    opened = types.SimpleNamespace(config=None)
    monkeypatch.setattr(teams, "api", types.SimpleNamespace(load_run=lambda *a, **k: contextlib.nullcontext(opened)))
    monkeypatch.setattr(teams, "unmeasurable", lambda cfg: None)
    monkeypatch.setattr(teams, "measure", fake_measure)
    out = tmp_path / "out.json"
    monkeypatch.setattr(sys, "argv", ["teams.py", "--run", *(str(tmp_path / r) for r in runs), "--json", str(out)])
    teams.main()
    return json.loads(out.read_text()), capsys.readouterr().out


def test_runs_sharing_a_directory_name_keep_a_column_each(tmp_path, monkeypatch, capsys):
    saved, shown = measured_runs(["x/run", "y/run"], tmp_path, monkeypatch, capsys)
    assert {k: v["dir"] for k, v in saved.items()} == {str(tmp_path / r): str(tmp_path / r) for r in ("x/run", "y/run")}
    assert "seed" not in shown  # a measured run is no training seed


def test_runs_of_distinct_names_are_labelled_by_name(tmp_path, monkeypatch, capsys):
    saved, _ = measured_runs(["a", "b"], tmp_path, monkeypatch, capsys)
    assert list(saved) == ["a", "b"]
