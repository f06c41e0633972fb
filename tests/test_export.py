"""`rlgen.export`'s manifest, the record of what each format's export wrote in a folder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import rlgen
from rlgen.export import MANIFEST, export
from tests.test_plugin_kind_contract import Coin, _config

ROOT = Path(__file__).resolve().parent.parent


def test_the_manifest_is_read_as_utf8_in_any_locale(tmp_path):
    """A manifest naming a file like café.pt (UTF-8, as JSON is) read in a C locale without UTF-8
    mode (the locale's encoding is ASCII): it was unreadable there, so the export's own q.npy
    counted as someone else's file and exporting again into the folder was refused."""
    run_dir = rlgen.train(_config(Coin, tmp_path / "runs")).run_dir
    out = tmp_path / "out"
    export(run_dir, "onnx", out=out, trust=True)
    listed = {"onnx": ["q.npy"], "torchscript": ["café.pt"]}  # an export whose file was removed since
    (out / MANIFEST).write_text(json.dumps(listed, ensure_ascii=False), encoding="utf-8")
    code = "import sys; from rlgen.export import export; export(sys.argv[1], 'onnx', out=sys.argv[2], trust=True)"
    done = subprocess.run([sys.executable, "-c", code, str(run_dir), str(out)], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0", "LC_ALL": "C",
                                         "PYTHONIOENCODING": "utf-8"})
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "q.npy"]
