"""The API's True/False arguments take True or False only: by truthiness `trust="false"` would trust
a run (and import the code its config names) and `deterministic="false"` would act deterministically."""

from __future__ import annotations

import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import rlgen
from rlgen.api import CheckedAgent
from rlgen.errors import RlgenError

NOT_BOOLS = ["false", "no", 0, 1, None]


@pytest.mark.parametrize("value", NOT_BOOLS)
@pytest.mark.parametrize("call, says", [
    (lambda d, v: rlgen.train("ppo_cartpole", [f"logging.dir={d}"], trust=v), "rlgen.train: trust"),
    (lambda d, v: rlgen.train(None, resume=d, trust=v), "rlgen.train: trust"),
    (lambda d, v: rlgen.load_run(d, trust=v), "rlgen.load_run: trust"),
    (lambda d, v: rlgen.record(d, 1, d / "demos.npz", trust=v), "record: trust"),
    (lambda d, v: rlgen.record(d, 1, d / "demos.npz", deterministic=v), "record: deterministic"),
    (lambda d, v: rlgen.load_config("ppo_cartpole", interpolation=v), "rlgen.load_config: interpolation"),
    (lambda d, v: rlgen.Run(rlgen.load_config("ppo_cartpole"), d).predict(np.zeros(4), deterministic=v),
     "Run.predict: deterministic"),
])
def test_a_flag_that_is_not_true_or_false_is_one_rlgen_error(tmp_path, call, says, value):
    with pytest.raises(RlgenError) as e:
        call(tmp_path, value)
    assert str(e.value) == f"{says} must be True or False, not {type(value).__name__} {value!r}"
    assert list(tmp_path.iterdir()) == []  # nothing read, trained or written


def test_an_agents_deterministic_flag_is_checked_before_it_acts():
    class Agent:
        def predict(self, obs, deterministic=True):
            raise AssertionError("acted")

    agent = CheckedAgent(Agent(), gym.spaces.Box(-1.0, 1.0, (2,)))
    with pytest.raises(RlgenError, match=r"^predict: deterministic must be True or False, not str 'false'$"):
        agent.predict(np.zeros(2, dtype=np.float32), deterministic="false")


def test_trust_given_as_text_imports_nothing_a_run_names(tmp_path, monkeypatch):
    """A run whose config names a kind by import path: trust="false" must not import it."""
    marker = tmp_path / "imported"
    (tmp_path / "rlgen_test_marker_kind.py").write_text(f"open({str(marker)!r}, 'w').close()\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "rlgen_test_marker_kind", raising=False)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("name: marker\nkind: rlgen_test_marker_kind:Kind\n")
    with pytest.raises(RlgenError, match=r"^rlgen\.load_run: trust must be True or False, not str 'false'$"):
        rlgen.load_run(run_dir, trust="false")
    assert not marker.exists()
    with pytest.raises(RlgenError):  # trusted, it is imported (then found to be no kind): what "false" must not do
        rlgen.load_run(run_dir, trust=True)
    assert marker.exists()
    monkeypatch.delitem(sys.modules, "rlgen_test_marker_kind", raising=False)


def test_true_and_false_themselves_are_taken(tmp_path):
    assert rlgen.load_config("ppo_cartpole", interpolation=np.bool_(False)).name == "ppo_cartpole"
    with pytest.raises(RlgenError, match="no config.yaml"):  # past the argument checks
        rlgen.load_run(Path(tmp_path), trust=False)


@pytest.mark.parametrize("args, says", [
    (("onnx", 5), "rlgen.export.export: out must be a str or pathlib.Path (the folder to export into), not int 5"),
    ((["onnx"], None), "unknown export format ['onnx']; choose one of sb3, onnx, torchscript"),
])
def test_an_export_argument_of_the_wrong_type_is_one_rlgen_error(tmp_path, args, says):
    """`out=5` was a TypeError from pathlib, and a list for the format one from `in` on a dict."""
    from rlgen.export import export

    with pytest.raises(RlgenError) as e:
        export(tmp_path, *args)
    assert str(e.value) == says
    assert list(tmp_path.iterdir()) == []
