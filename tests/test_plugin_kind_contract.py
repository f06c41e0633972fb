"""A plugin kind's optional parts are held to what the README's `rlgen.kinds` row says: `check` and
`export` return lists (one str or Path is one line, not a message per character or a TypeError),
`rlgen export` runs again over its own files, `early_stop_default` lives on the config model, and
the row and the protocol error list exactly what `ExperimentBase` gives."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import torch

import rlgen
from rlgen.config import ExperimentConfig
from rlgen.errors import ConfigError, RlgenError
from rlgen.experiment import ExperimentBase, RunContext, protocol_problem
from rlgen.export import export
from rlgen.testing import ExperimentCheckError, check_experiment

README = Path(__file__).resolve().parent.parent / "README.md"
MANIFEST = ".rlgen-export.json"  # the README names it: what each export wrote


class CoinConfig(ExperimentConfig):
    kind: str  # this module's import path
    early_stop_default: ClassVar[tuple[str, str]] = ("eval/p", "max")


class Coin(ExperimentBase):
    """Learns the bias of a coin."""

    config_model = CoinConfig
    extra = False  # its export also writes extra.npy

    def setup(self, ctx: RunContext) -> None:
        self.p = torch.zeros(1)
        self.rng = np.random.default_rng(ctx.seed)

    def train_unit(self) -> dict[str, float]:
        flips = self.rng.random(10) < 0.7
        self.p += (float(flips.mean()) - self.p) / (self.global_step // 10 + 1)
        self.global_step += 10
        return {"loss/gap": float(abs(self.p - 0.7))}

    def evaluate(self, episodes: int | None = None, video_dir: Path | None = None) -> dict[str, float]:
        return {"eval/p": float(self.p)}

    def state_dict(self) -> dict[str, Any]:
        return {"p": self.p.clone(), "rng": self.rng.bit_generator.state, "global_step": self.global_step}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.p.copy_(state["p"])
        self.rng.bit_generator.state = state["rng"]
        self.global_step = int(state["global_step"])

    def export(self, fmt: str, out_dir: Path) -> list[Path]:
        written = [Path(out_dir) / "q.npy"]
        if self.extra:
            written.append(Path(out_dir) / "extra.npy")
        for path in written:
            np.save(path, self.p.numpy())
        return written


class ExportStr(Coin):
    def export(self, fmt, out_dir):
        return str(super().export(fmt, out_dir)[0])


class ExportPath(Coin):
    def export(self, fmt, out_dir):
        return super().export(fmt, out_dir)[0]


class ExportInts(Coin):
    def export(self, fmt, out_dir):
        super().export(fmt, out_dir)
        return [1]


class CheckStr(Coin):
    @classmethod
    def check(cls, cfg):
        return "coin.bias: too large"


class CheckNone(Coin):
    @classmethod
    def check(cls, cfg):
        return None


class CheckTuple(Coin):
    @classmethod
    def check(cls, cfg):
        return ("coin.bias: too large",)


class StopsOnItsOwn(Coin):
    """Sets early_stop_default on the kind class, where nothing reads it."""

    early_stop_default: ClassVar[tuple[str, str]] = ("eval/p", "min")


def _config(kind: type, tmp_path: Path) -> dict[str, Any]:
    return {"name": "coin", "kind": f"{__name__}:{kind.__name__}",
            "train": {"total_steps": 20, "eval_every": 10, "progress": False},
            "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}}}


@pytest.fixture
def coin_run(tmp_path: Path):
    def train(kind: type = Coin) -> Path:
        return rlgen.train(_config(kind, tmp_path / "runs")).run_dir
    return train


# --- 3: a plugin kind's export runs again ---------------------------------------------------------


def test_a_plugin_kinds_export_runs_twice_and_replaces_its_own_files(coin_run, monkeypatch):
    run_dir = coin_run()
    out = run_dir / "export"
    monkeypatch.setattr(Coin, "extra", True)
    assert export(run_dir, "onnx", trust=True) == [out / "q.npy", out / "extra.npy"]
    monkeypatch.setattr(Coin, "extra", False)
    assert export(run_dir, "onnx", trust=True) == [out / "q.npy"]  # not "already holds files ... (q.npy)"
    assert sorted(p.name for p in out.iterdir()) == [MANIFEST, "q.npy"]  # extra.npy was the earlier export's
    assert export(run_dir, "torchscript", trust=True) == [out / "q.npy"]  # another format, same folder


def test_a_folder_of_an_export_without_a_manifest_is_judged_as_before(coin_run):
    run_dir = coin_run()
    export(run_dir, "onnx", trust=True)
    (run_dir / "export" / MANIFEST).unlink()  # as an older rlgen left it
    with pytest.raises(RlgenError, match=r"already holds files that are not an rlgen export \(q.npy\)"):
        export(run_dir, "onnx", trust=True)


def test_a_folder_of_other_files_written_into_with_force_gets_no_manifest(coin_run, tmp_path):
    run_dir, mine = coin_run(), tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("mine\n")
    export(run_dir, "onnx", mine, trust=True, force=True)
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt", "q.npy"]  # not made an export folder


# --- 4: check() and export() return lists -----------------------------------------------------------


@pytest.mark.parametrize("kind, shown", [(CheckStr, "'coin.bias: too large'"), (CheckNone, "None")])
def test_a_check_that_returns_no_list_is_one_line(tmp_path, kind, shown):
    with pytest.raises(RlgenError) as e:
        rlgen.load_config(_config(kind, tmp_path))
    assert str(e.value) == (f"kind '{__name__}:{kind.__name__}': check(cfg) returned {shown}, not a list of strings "
                            "(one line per problem, empty when none)")


def test_a_check_may_return_a_tuple_of_problems(tmp_path):
    with pytest.raises(ConfigError) as e:
        rlgen.load_config(_config(CheckTuple, tmp_path))
    assert e.value.problems == ["coin.bias: too large"]


@pytest.mark.parametrize("kind, shown", [(ExportStr, r"returned '.*q\.npy'"), (ExportPath, r"returned .*Path\("),
                                         (ExportInts, r"returned a list holding 1")])
def test_an_export_that_returns_no_list_of_paths_is_one_line_and_leaves_no_folder(coin_run, kind, shown):
    run_dir = coin_run(kind)
    with pytest.raises(RlgenError, match=rf"^kind '{__name__}:{kind.__name__}': export\(fmt, out_dir\) {shown}.*, "
                                         r"not a list of paths \(the files it wrote\)$"):
        export(run_dir, "onnx", trust=True)
    assert not (run_dir / "export").exists()


# --- 5: early_stop_default is read from the config model only ---------------------------------------


def test_early_stop_default_on_the_kind_class_is_refused(tmp_path):
    said = ("sets early_stop_default ('eval/p', 'min') on the kind class, where nothing reads it: "
            "set it on its config_model")
    assert protocol_problem(StopsOnItsOwn).startswith(said)
    with pytest.raises(ConfigError, match=re.escape(said)):
        rlgen.load_config(_config(StopsOnItsOwn, tmp_path))
    with pytest.raises(ExperimentCheckError, match=re.escape(f"it {said}")):
        check_experiment(StopsOnItsOwn, _config(StopsOnItsOwn, tmp_path))
    assert protocol_problem(Coin) is None and check_experiment(Coin, _config(Coin, tmp_path)).exact


def test_the_readme_puts_early_stop_default_on_the_config_model():
    row = _kinds_row()
    assert "`config_model.early_stop_default: ClassVar[tuple[str, str]]`" in row
    assert ", and `early_stop_default:" not in row


# --- 6: what ExperimentBase gives, said exactly -----------------------------------------------------


def _kinds_row() -> str:
    return next(line for line in README.read_text().splitlines() if line.startswith("| `rlgen.kinds` |"))


def _base_gives() -> set[str]:
    """The methods ExperimentBase defines (`__init__` among them)."""
    return {name for name, value in vars(ExperimentBase).items()
            if (not name.startswith("_") or name == "__init__") and callable(getattr(ExperimentBase, name))}


def test_the_protocol_error_lists_what_experiment_base_gives():
    given = protocol_problem(int).split("ExperimentBase gives ", 1)[1]
    named = set(re.findall(r"(?:^|, | and )(\w+)", given))
    assert _base_gives() <= named, "methods ExperimentBase gives that the error leaves out"
    assert named & {"setup", "train_unit", "state_dict", "load_state_dict", "prefers_accelerator"} == set()


def test_the_readme_lists_what_experiment_base_gives_and_what_agent_returns():
    row = _kinds_row()
    gives = row.split("Subclass `rlgen.experiment.ExperimentBase` for ", 1)[1].split(". Optional:", 1)[0]
    named = set(re.findall(r"`(\w+)", gives))
    assert _base_gives() <= named, "methods ExperimentBase gives that the README row leaves out"
    attributes = {n for n in vars(ExperimentBase) if not n.startswith("_") and not callable(getattr(ExperimentBase, n))}
    assert attributes <= named and named <= _base_gives() | attributes | {"self", "None"}
    assert ("`agent()` for `rlgen.load_run(...).agent()`" in row and "`predict(obs, reward=0.0, deterministic=True)`"
            in row and "`reset()`" in row and "`observation_space`" in row)
