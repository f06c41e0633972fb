"""What rlgen says on its console while it trains, scores, selects and exports shows paths, metric
names and error messages as given: the shared console reads markup, so `[b]` in a name vanished and
`[/x]` (a closing tag with nothing open) raised rich's MarkupError in place of the message."""

from __future__ import annotations

import io

import pytest
import torch
from rich.text import Text

import rlgen
from rlgen import checkpoint
from rlgen.checkpoint_legacy import load_trusted
from rlgen.compare_report import table_title
from rlgen.config import EarlyStopConfig
from rlgen.errors import RlgenError
from rlgen.export import export
from rlgen.logging import ConsoleSink, Logger
from rlgen.run_files import RunFiles
from rlgen.run_state import RunState
from rlgen.scoring import DivergenceWatch, Scorer
from tests.runner.toy import toy_config
from tests.test_plugin_kind_contract import Coin, _config

ODD = "u[/x]v[b]w"  # a closing tag with nothing open, and a tag that would vanish


def _said(capsys: pytest.CaptureFixture[str]) -> str:
    return " ".join(capsys.readouterr().err.split())  # lines joined: a terminal may fold a long one


def test_scoring_warnings_show_metric_names_as_given(tmp_path, capsys, monkeypatch):
    metric = f"eval/{ODD}"
    scorer = Scorer(EarlyStopConfig(metric=metric), RunState(), Logger([]))
    scorer.score({f"eval/s{ODD}": 1.0}, 10)  # the early-stop metric missing: the logged ones are listed
    assert f"train.early_stop.metric '{metric}' is not among" in (said := _said(capsys)) and f"eval/s{ODD}" in said
    scorer.score({metric: 1.0}, 20)
    scorer.score({metric: float("nan")}, 30)
    assert f"train.early_stop.metric '{metric}' is nan" in _said(capsys).lower()
    scorer.rescore({"metric": "eval/other"})
    assert f"early_stop is now {metric} (max)" in _said(capsys)
    watch = DivergenceWatch(tmp_path)
    watch.check({f"loss/value{ODD}": 1.0}, 10)
    watch.check({f"loss/value{ODD}": 1e12}, 20)
    assert f"warning: loss/value{ODD} reached 1e+12 at step 20" in _said(capsys)
    def mark_best(ckpt_dir, source):
        raise RlgenError(f"no room in {ODD}")

    monkeypatch.setattr(checkpoint, "mark_best", mark_best)
    source = tmp_path / "checkpoints" / "step_20"
    source.mkdir(parents=True)
    for name in (checkpoint.STATE, checkpoint.CHECKSUM):
        (source / name).write_bytes(b"x")
    scorer.state.best_step = 20
    scorer.repair_best(tmp_path / "checkpoints")
    assert f"warning: no room in {ODD}" in _said(capsys)


def test_an_unreadable_summary_is_said_with_its_path_as_given(tmp_path, capsys):
    run = tmp_path / ODD
    run.mkdir(parents=True)
    (run / "summary.json").write_text("garbage")
    assert checkpoint.run_status(run) is None
    assert f"warning: {run / 'summary.json'} is unreadable" in _said(capsys)


def test_eval_lines_and_failing_sinks_show_names_and_errors_as_given(capsys):
    ConsoleSink().write({"global_step": 10, f"eval/{ODD}": 1.5})
    assert f"eval step 10 {ODD}=1.5" in _said(capsys)

    class Failing:
        def write(self, row):
            raise OSError(f"cannot reach {ODD}")

        def close(self):
            raise OSError(f"cannot close {ODD}")

    Logger([Failing()]).log({}, 1)
    assert f"Failing failed (OSError: cannot reach {ODD}); training continues" in _said(capsys)
    Logger([Failing()]).close()
    assert f"warning: closing Failing failed: cannot close {ODD}" in _said(capsys)


def test_run_files_warnings_show_paths_and_errors_as_given(tmp_path, capsys, monkeypatch):
    class FailingWandb:
        def watch(self, *args):
            raise RuntimeError(f"cannot watch {ODD}")

        def summary(self, values):
            raise RuntimeError(f"cannot summarize {ODD}")

    def no_wandb(*args, **kwargs):
        raise RuntimeError(f"no W&B at {ODD}")

    cfg = toy_config(tmp_path)
    cfg.logging.wandb.watch = "gradients"
    run_dir = tmp_path / ODD / "run"
    run_dir.mkdir(parents=True)
    files = RunFiles(cfg, run_dir, rank=0)
    monkeypatch.setattr("rlgen.run_files.WandbSink", no_wandb)
    monkeypatch.setenv("WANDB_MODE", "offline")
    files.open(Logger([]), resumed=False)
    assert f"W&B did not start (RuntimeError: no W&B at {ODD})" in _said(capsys)
    (run_dir / "summary.json").mkdir()  # where the file goes: it cannot be written
    files.write_summary({"status": "completed"})
    assert f"error: could not write {run_dir / 'summary.json'} while writing the summary" in _said(capsys)
    files.wandb = FailingWandb()  # one that started, and then fails
    files.watch(Logger([files.wandb]), {})
    assert f"wandb.watch failed (RuntimeError: cannot watch {ODD})" in _said(capsys)
    files._finish_wandb({}, None)
    assert f"W&B summary/artifacts failed (RuntimeError: cannot summarize {ODD})" in _said(capsys)


def test_an_export_replacing_another_names_its_folder_as_given(tmp_path, capsys):
    run_dir = rlgen.train(_config(Coin, tmp_path / "runs")).run_dir
    out = tmp_path / ODD
    export(run_dir, "onnx", out=out, trust=True)
    capsys.readouterr()
    export(run_dir, "onnx", out=out, trust=True)
    assert f"replacing the earlier onnx export in {out} (q.npy)" in _said(capsys)


def test_an_old_format_checkpoint_is_named_as_given(tmp_path, capsys):
    buffer = io.BytesIO()
    torch.save({"global_step": 3}, buffer)
    file = tmp_path / ODD / "state.pt"
    assert load_trusted(file, buffer.getvalue(), "cpu") == {"global_step": 3}
    assert f"warning: {file} is an old-format checkpoint" in _said(capsys)


def test_the_compare_table_title_shows_the_metric_as_given():
    metric = f"eval/{ODD}"
    assert Text.from_markup(table_title([], metric)).plain.startswith(f"{metric}: mean ± std over runs [95% ")
