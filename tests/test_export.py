"""`rlgen.export`: its manifest, the record of what each format's export wrote in a folder, and
`save_module`'s check of a traced file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rlgen
from rlgen.errors import RlgenError
from rlgen.export import MANIFEST, export, save_module
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


class _DoublesPositiveBatches(torch.nn.Module):
    """A plugin's branch on its data: doubles a batch of positive entries, negates any other."""

    def forward(self, x):
        return x * 2 if bool((x > 0).all()) else -x


def test_probes_check_the_side_of_a_branch_the_examples_do_not_take(tmp_path):
    """A trace fixes the side of a branch its example inputs take; `probes` hold the other side,
    and a file that does not follow it is not written. A plugin's branch still warns."""
    module, examples = _DoublesPositiveBatches(), {"x": torch.ones(4, 2)}
    with pytest.warns(torch.jit.TracerWarning):
        assert save_module(module, examples, "y", tmp_path / "m.pt", "torchscript").is_file()
    with pytest.warns(torch.jit.TracerWarning), pytest.raises(RlgenError, match="away from torch's"):
        save_module(module, examples, "y", tmp_path / "p.pt", "torchscript", probes=[{"x": -torch.ones(3, 2)}])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.pt"]
