"""The shared console when the reader of its output goes away mid-run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

TRAIN = """
import sys
from rlgen.runner import Runner
from tests.runner.toy import ToyExperiment, toy_config
cfg = toy_config(sys.argv[1])
cfg.logging.console = True  # an eval line at every evaluation
status = Runner(cfg, ToyExperiment(cfg)).run()["status"]
print("a library's note", file=sys.stderr)  # another writer to the same dead pipe: /dev/null takes it too
print(status)
"""


def test_a_reader_gone_silences_the_console_and_training_goes_on(tmp_path):
    """`rlgen train ... 2>&1 | head -1`: rich's own answer to the broken pipe is SystemExit(1)
    from inside the print, which ended the run at its first eval line with no checkpoint."""
    proc = subprocess.Popen([sys.executable, "-c", TRAIN, str(tmp_path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=ROOT)
    proc.stderr.close()  # before the run prints anything: its first eval line meets a closed pipe
    out = proc.stdout.read().decode()
    assert proc.wait() == 0 and out == "completed\n", out
    (run,) = (tmp_path / "toy").iterdir()
    assert json.loads((run / "summary.json").read_text())["status"] == "completed"
    assert (run / "checkpoints" / "latest").read_text().strip() == "step_100"


def test_emoji_codes_in_paths_stay_as_written(tmp_path, capsys):
    """rich turned `:x:` in `--out /tmp/a:x:y.txt` into an emoji; rlgen's lines show paths as given."""
    from rlgen.cli import main
    from rlgen.logging import console, report_console

    console.print("/tmp/a:x:y :ok: :b:")
    report_console().print("/tmp/a:x:y :ok: :b:")
    assert capsys.readouterr() == ("/tmp/a:x:y :ok: :b:\n", "/tmp/a:x:y :ok: :b:\n")
    assert main(["compare", str(tmp_path / "a:x:y")]) == 2
    assert f"{tmp_path / 'a:x:y'}" in capsys.readouterr().err


def test_a_resume_reads_past_rows_it_cannot_take_a_number_from(tmp_path):
    from rlgen.logging import kept_values

    rows = ['{"global_step": 1, "m": 2}', '{"global_step": 2, "m": 1' + "0" * 400 + "}", "[" * 100_000, '{"m": 3}']
    (tmp_path / "metrics.jsonl").write_text("\n".join(rows) + "\n")
    assert kept_values(tmp_path / "metrics.jsonl", "m") == [2.0, 3.0]
