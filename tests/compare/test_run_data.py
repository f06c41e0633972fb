"""A run directory read back from disk (`rlgen.run_data`): a damaged metrics row or summary.json is
one error naming the file, never a traceback from deep inside `rlgen compare`."""

from __future__ import annotations

import json
import re

import pytest

from rlgen.cli import main
from rlgen.errors import RlgenError
from rlgen.run_data import expand, read_run

EVALS = [(1000, 100.0, 1.0), (2000, 300.0, 2.0)]


@pytest.mark.parametrize("step", ["x", {}, None, True, float("nan"), [1000]])
def test_a_row_whose_global_step_is_not_a_finite_number_is_a_corrupt_row(make_run, step):
    run = make_run("bad", 0, EVALS)
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"global_step": step, "eval/return_mean": 5}) + "\n")  # line 5
    said = f"metrics.jsonl:5: corrupt metrics row (global_step is {json.dumps(step)}, not a finite number)"
    with pytest.raises(RlgenError, match=re.escape(said)):
        read_run(run)


def test_a_float_global_step_is_a_step(make_run):
    run = make_run("float", 0, EVALS)
    with (run / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"global_step": 3000.0, "eval/return_mean": 5}) + "\n")
    assert read_run(run).rows[-1]["global_step"] == 3000.0


@pytest.mark.parametrize("content, why", [
    (b"\xff\xfe{}", "'utf-8' codec can't decode byte 0xff"),
    (b"[1]\n", "'[1]' is not a JSON object"),
    (b"null\n", "'null' is not a JSON object"),
    (b"{\"status\": ", "Expecting value"),
])
def test_a_damaged_summary_is_one_line_saying_to_delete_it(make_run, tmp_path, capsys, content, why):
    run = make_run("damaged", 0, EVALS)
    (run / "summary.json").write_bytes(content)
    with pytest.raises(RlgenError, match="delete it to compare from metrics.jsonl alone") as e:
        read_run(run)
    assert str(e.value).startswith(f"{run / 'summary.json'} is corrupt (") and why in str(e.value)
    assert main(["compare", str(run), "--include-unfinished", "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and "is corrupt" in err
    assert not (tmp_path / "c.png").exists()


DEEP = "[" * 100_000 + "]" * 100_000  # deeper than Python's recursion limit: json and PyYAML raise RecursionError


@pytest.mark.parametrize("file, text, says", [
    ("config.yaml", f"a: {DEEP}\n", "config.yaml cannot be read (nested too deeply to parse)"),
    ("summary.json", DEEP, "summary.json is corrupt (nested too deeply to parse); delete it"),
    ("metrics.jsonl", None, "metrics.jsonl:5: corrupt metrics row (maximum recursion depth exceeded"),
])
def test_a_file_nested_too_deeply_is_one_line_naming_it(make_run, tmp_path, capsys, file, text, says):
    run = make_run("deep", 0, EVALS)
    if text is None:  # a line appended to the rows
        with (run / file).open("a") as f:
            f.write(DEEP + "\n")
    else:
        (run / file).write_text(text)
    with pytest.raises(RlgenError, match=re.escape(says)):
        read_run(run)
    assert main(["compare", str(run), "--include-unfinished", "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and says in err
    assert not (tmp_path / "c.png").exists()


@pytest.mark.parametrize("user_folder", ["run-1", "offline-run-2", "wandb", "wandb/run-1"])
def test_a_users_run_dir_named_like_wandb_is_a_run(make_run, tmp_path, user_folder):
    run = make_run(user_folder, 0, EVALS)
    make_run("mine", 1, EVALS)
    assert run.resolve() in expand([str(tmp_path)])
    assert len(expand([str(tmp_path)])) == 2


def test_wandbs_own_run_folder_is_not_a_run(make_run, tmp_path):
    run = make_run("ppo", 0, EVALS)
    for name, log in [("offline-run-20260101_000000-abc", "abc"), ("run-20260101_000001-abc-1", "abc")]:
        files = run / "wandb" / name / "files"
        files.mkdir(parents=True)
        (files / "config.yaml").write_text("wandb_version: 1\n")  # W&B's own config, next to its log
        (run / "wandb" / name / f"run-{log}.wandb").write_bytes(b"")
    assert expand([str(tmp_path)]) == [run.resolve()]


BIG = "1" + "0" * 400  # an integer JSON holds and no float does


@pytest.mark.parametrize("file, text, says", [
    ("metrics.jsonl", f'{{"global_step": 2000, "eval/return_mean": {BIG}}}\n',
     "metrics.jsonl:5: corrupt metrics row (eval/return_mean is a number too large for a float)"),
    ("metrics.jsonl", f'{{"global_step": {BIG}, "eval/return_mean": 1}}\n',
     "metrics.jsonl:5: corrupt metrics row (global_step is a number too large for a float)"),
    ("summary.json", None, "summary.json is corrupt (wall_time_s is a number too large for a float); delete it"),
])
def test_an_integer_too_large_for_a_float_is_one_line_naming_it(make_run, tmp_path, capsys, file, text, says):
    run = make_run("big", 0, EVALS)
    if text is None:
        (run / file).write_text((run / file).read_text().replace('"wall_time_s": 2.5', f'"wall_time_s": {BIG}'))
    else:
        with (run / file).open("a") as f:
            f.write(text)
    assert main(["compare", str(run), "--include-unfinished", "--out", str(tmp_path / "c.png")]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error: ") and says in err
    assert not (tmp_path / "c.png").exists()
