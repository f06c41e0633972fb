"""Extending rlgen from outside: the example plugin package (examples/rlgen-plugin-example), names
by import path, game kwargs, and what a misspelt name or a broken plugin does.

The plugin is installed the way a user's would be (`pip install --target`), into a tmp folder put
on PYTHONPATH of a fresh interpreter, so its entry points come from its own dist-info; the
in-process tests put its source folder on sys.path and use import paths instead.
"""

from __future__ import annotations

import json
import math
import os
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import pytest

import rlgen
from rlgen.errors import ConfigError, RlgenError, RlgenWarning
from tests.install_helpers import ROOT, copy_sources, list_sections, names_in, pip, run_python

EXAMPLE = ROOT / "examples" / "rlgen-plugin-example"
DIST = "[rlgen-plugin-example]"  # how `rlgen list` marks an entry from the plugin's distribution
QUIET = ["logging.wandb.mode=disabled", "train.progress=false"]


@pytest.fixture(scope="module")
def plugin_target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("plugin")
    # built from a copy: an in-tree build would leave build/ and an egg-info in the repository
    source = copy_sources(EXAMPLE, tmp / "src")
    pip("install", "--no-deps", "--no-build-isolation", "--target", str(tmp / "target"), str(source))
    return tmp / "target"


@pytest.fixture
def example_on_path(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The example's source folder on sys.path (not installed: no entry points), for import paths."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    yield
    for name in [m for m in sys.modules if m.split(".")[0] == "rlgen_plugin_example"]:
        del sys.modules[name]


def only_run_dir(runs: Path, name: str) -> Path:
    (run_dir,) = (runs / name).iterdir()
    return run_dir


def metrics(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]


# --- the installed plugin, through the command line ---------------------------------------------


def test_rlgen_list_shows_the_plugin_with_its_distribution_name(plugin_target: Path, tmp_path: Path) -> None:
    sections = list_sections(run_python(["-m", "rlgen", "list"], tmp_path, plugin_target).stdout)
    for section, plugins, builtin in (("kinds", "density", "rl"), ("sources", "spiral", "ring8"),
                                      ("backbones", "fourier", "mlp")):
        rows = names_in(sections[section])
        assert rows[plugins].endswith(DIST), (section, rows[plugins])
        assert not rows[builtin].endswith("]")  # rlgen's own carry no distribution name
    assert "rlgen_example/Corridor-v0" in " ".join(sections["envs (gymnasium ids)"])

    # the control: the same command without the plugin on the path knows none of it
    plain = run_python(["-m", "rlgen", "list"], tmp_path, None).stdout
    assert "density" not in names_in(list_sections(plain)["kinds"]) and "Corridor" not in plain


def _density_learns(run_dir: Path) -> None:
    evals = [row["eval/nll"] for row in metrics(run_dir) if "eval/nll" in row]
    losses = [row["loss/nll"] for row in metrics(run_dir) if "loss/nll" in row]
    assert len(evals) == 2 and len(losses) == 4
    assert evals[1] < evals[0]  # gradient descent on the NLL lowers the held-out NLL


def _gan_uses_the_plugin_backbone(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["global_step"] == 40 and math.isfinite(summary["final"]["eval/mmd"])
    assert "type: fourier" in (run_dir / "config.yaml").read_text()


def _ppo_solves_the_corridor(run_dir: Path) -> None:
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["final"]["eval/return_mean"] == -3.0  # the known answer: 3 steps to either end


@pytest.mark.parametrize("config, overrides, check", [
    ("density_spiral", ["train.total_steps=100", "train.eval_every=50", "model.steps_per_unit=25"], _density_learns),
    ("gan_spiral", ["train.total_steps=40", "train.eval_every=40", "perf.steps_per_unit=20", "eval.samples=200",
                    "eval.pictures=false"], _gan_uses_the_plugin_backbone),
    ("ppo_corridor", [], _ppo_solves_the_corridor),
], ids=["kind", "source-and-backbone", "env"])
def test_rlgen_train_trains_each_plugin_part(plugin_target: Path, tmp_path: Path, config: str,
                                             overrides: list[str], check: Any) -> None:
    path = EXAMPLE / "configs" / f"{config}.yaml"
    run_python(["-m", "rlgen", "train", str(path), *overrides, *QUIET], tmp_path, plugin_target)
    check(only_run_dir(tmp_path / "runs", config))


# --- import paths and kwargs, in process ---------------------------------------------------------


SPIRAL_GAN = """\
name: spiral_by_path
kind: gan
data:
  source: rlgen_plugin_example.shapes:Spiral
  kwargs: {{arms: 3}}
generator: {{backbone: {{type: mlp, hidden: [32]}}, noise_dim: 2}}
discriminator: {{backbone: {{type: mlp, hidden: [32]}}}}
objective: {{batch_size: 64}}
eval: {{samples: 200, pictures: false}}
perf: {{steps_per_unit: 10}}
train: {{total_steps: 20, eval_every: 20, progress: false}}
logging: {{dir: {runs}, console: false, wandb: {{mode: disabled}}}}
"""


def test_a_source_by_import_path_in_a_config_file(example_on_path: None, tmp_path: Path) -> None:
    config = tmp_path / "spiral_gan.yaml"
    config.write_text(SPIRAL_GAN.format(runs=tmp_path / "runs"))
    run = rlgen.train(config)
    assert run.summary["global_step"] == 20
    assert type(run.experiment.source).__module__ == "rlgen_plugin_example.shapes"  # the Run train returns: as trained
    with pytest.raises(RlgenError, match="'rlgen_plugin_example.shapes:Spiral' is an import path.*--trust"):
        rlgen.load_run(run.run_dir)  # a run's config is a file from anyone: importing its names needs trust
    with rlgen.load_run(run.run_dir, trust=True) as loaded:
        source = loaded.experiment.source
        assert type(source).__module__ == "rlgen_plugin_example.shapes" and source.arms == 3  # kwargs arrived
    more = rlgen.train(resume=run.run_dir, overrides=["train.total_steps=40"], trust=True)
    assert more.summary["global_step"] == 40 and more.experiment.source.arms == 3  # trusted as it was asked


def _density(tmp_path: Path, total_steps: int) -> dict[str, Any]:
    # the plugin's kind by import path, on rlgen's 1-D Gaussian: one component has a known answer
    return {
        "name": "density_gaussian", "kind": "rlgen_plugin_example.density:DensityExperiment", "seed": 0,
        "data": {"source": "gaussian", "kwargs": {"mean": 3.0, "std": 0.5}},
        "model": {"components": 1, "batch_size": 256, "steps_per_unit": 100},
        "optim": {"type": "adam", "lr": 0.05, "schedule": "linear"},  # the decay averages out the batches' noise
        "train": {"total_steps": total_steps, "eval_every": 200, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    }


def test_the_plugin_kind_by_import_path_fits_a_gaussian_and_resumes_exactly(example_on_path: None,
                                                                             tmp_path: Path) -> None:
    straight = rlgen.train(_density(tmp_path, 400))
    with rlgen.load_run(straight.run_dir, trust=True) as loaded:  # a kind by import path: trusted
        mixture = loaded.modules()["mixture"]
        assert mixture.means.item() == pytest.approx(3.0, abs=0.02)
        assert mixture.log_stds.exp().item() == pytest.approx(0.5, abs=0.02)
    best_nll = 0.5 * math.log(2 * math.pi * math.e * 0.5**2)  # the entropy of N(3, 0.5^2), in nats
    assert straight.summary["final"]["eval/nll"] == pytest.approx(best_nll, abs=0.03)

    # the same run interrupted at its first evaluation (SIGTERM: it checkpoints there), then resumed
    def interrupt(step: int, _: Any) -> bool:
        if step >= 200:
            os.kill(os.getpid(), signal.SIGTERM)
        return False

    half = rlgen.train(_density(tmp_path, 400), on_eval=interrupt)
    assert half.summary["global_step"] == 200 and half.summary["status"] == "interrupted"
    resumed = rlgen.train(None, resume=half.run_dir, trust=True)
    assert resumed.summary["global_step"] == 400
    assert resumed.summary["final"]["eval/nll"] == straight.summary["final"]["eval/nll"]  # same batches, same steps


def test_game_kwargs_reach_the_game(tmp_path: Path) -> None:
    raw = {
        "name": "go5", "kind": "selfplay", "seed": 0,
        "game": {"name": "go_v5", "kwargs": {"board_size": 5}, "n_envs": 1},  # go_v5's default board is 19x19
        "agent": {"policy": {"backbone": {"type": "mlp", "hidden": [16]}},
                  "hyperparams": {"n_steps": 16, "batch_size": 16, "n_epochs": 1}},
        "ratings": {"references": ["random"], "games_per_pair": 1},
        "train": {"total_steps": 16, "eval_every": 16, "eval_episodes": 1, "progress": False},
        "logging": {"dir": str(tmp_path), "console": False, "wandb": {"mode": "disabled"}},
    }
    run = rlgen.train(raw)
    assert run.summary["global_step"] == 16
    with rlgen.load_run(run.run_dir) as loaded:
        policy = loaded.modules()["policy"]
        assert policy.observation_space.shape == (5, 5, 17)  # 17 feature planes over the board
        assert policy.action_space.n == 5 * 5 + 1  # every point, and pass


# --- mistakes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("config, override, message", [
    ("ppo_cartpole", "kind=rll", r"kind: unknown experiment kind 'rll' \(did you mean 'rl'\?\); known: .*gan"),
    ("gan_ring8", "data.source=ring9",
     r"data.source: unknown data source 'ring9' \(did you mean 'ring8'\?\); known: .*swiss_roll"),
    ("selfplay_tictactoe", "game.name=tictactoe_v4",
     r"game.name: unknown game 'tictactoe_v4' \(did you mean 'tictactoe_v3'\?\); known: .*connect_four_v3"),
], ids=["kind", "source", "game"])
def test_an_unknown_name_suggests_and_lists_the_known_ones(config: str, override: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        rlgen.load_config(config, [override])


BROKEN_ENTRY_POINTS = """\
[rlgen.kinds]
boom = rlgen_broken_plugin:Kind

[rlgen.sources]
missing = rlgen_no_such_module:Shape

[rlgen.envs]
boom = rlgen_broken_plugin
raises = rlgen_broken_register:register

[rlgen.backbones]
boom = rlgen_broken_plugin:Net

[rlgen.wrappers]
Boom = rlgen_broken_plugin:Wrapper
"""


def fake_distribution(site: Path, name: str, entry_points: str, modules: dict[str, str]) -> Path:
    """An installed distribution `name` in the folder `site` (put on PYTHONPATH): its dist-info with
    `entry_points`, and its modules by name -> source."""
    info = site / f"{name.replace('-', '_')}-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text(entry_points)
    for module, source in modules.items():
        (site / f"{module}.py").write_text(source)
    return site


def broken_site(tmp_path: Path) -> Path:
    return fake_distribution(tmp_path / "site", "rlgen-broken-plugin", BROKEN_ENTRY_POINTS, {
        "rlgen_broken_plugin": 'raise RuntimeError("broken on purpose")\n',
        "rlgen_broken_register": 'def register():\n    raise ValueError("no ids today")\n'})


def test_a_broken_plugin_is_reported_and_rlgen_list_still_works(tmp_path: Path) -> None:
    site = broken_site(tmp_path)
    out = run_python(["-m", "rlgen", "list"], tmp_path, site)
    sections = list_sections(out.stdout)
    kinds, sources = names_in(sections["kinds"]), names_in(sections["sources"])
    assert {"rl", "gan"} <= set(kinds) and "ring8" in sources  # rlgen's own are all there
    assert kinds["boom"].startswith("(cannot be loaded: importing 'rlgen_broken_plugin'")
    assert "RuntimeError: broken on purpose" in kinds["boom"] and kinds["boom"].endswith("[rlgen-broken-plugin]")
    assert sources["missing"].startswith("(cannot be loaded: cannot import 'rlgen_no_such_module'")
    warnings = " ".join(out.stderr.split())
    assert "env package 'boom' from rlgen-broken-plugin not loaded" in warnings
    assert "env package 'raises' from rlgen-broken-plugin not loaded: ValueError: no ids today" in warnings
    assert "rlgen/Identity-v0" in " ".join(sections["envs (gymnasium ids)"])  # the good env package still ran


def test_a_broken_plugin_stops_only_the_configs_that_use_it(tmp_path: Path) -> None:
    site, runs = broken_site(tmp_path), f"logging.dir={tmp_path / 'runs'}"
    quiet = ["logging.wandb.mode=disabled", "train.progress=false", runs]
    gan = run_python(["-m", "rlgen", "train", "gan_ring8", "train.total_steps=2", "train.eval_every=2",
                      "perf.steps_per_unit=2", "eval.samples=100", *quiet], tmp_path, site)
    assert gan.returncode == 0, gan.stderr  # its decoder is looked up among the backbones, the broken one too
    for override, name in (("agent.policy.backbone={type: boom}", "backbone type 'boom'"), ("env.wrappers=[Boom]", "wrapper 'Boom'")):
        out = run_python(["-m", "rlgen", "train", "ppo_cartpole", override, *quiet], tmp_path, site, check=False)
        err = " ".join(out.stderr.split())
        assert out.returncode == 2 and f"{name} (from rlgen-broken-plugin) cannot be loaded" in err, err
        assert "RuntimeError: broken on purpose" in err
        assert "warning: env package 'boom' from rlgen-broken-plugin not loaded" in err and "UserWarning" not in err


SHADOW_ENTRY_POINTS = """\
[rlgen.backbones]
mlp = rlgen_shadow_plugin:Net

[rlgen.sources]
intsrc = rlgen_shadow_plugin:NUMBER

[rlgen.demos]
intdemo = rlgen_shadow_plugin:NUMBER
"""


def test_a_plugin_found_before_rlgen_never_replaces_a_builtin_name(tmp_path: Path) -> None:
    """importlib.metadata finds the plugin's dist-info first (PYTHONPATH is ahead of site-packages, as
    a name sorting before `rlgen` is in one site-packages): its `mlp` is still ignored, with one
    warning naming both, and every bundled config builds rlgen's MLP. Its int entries are listed
    with what is wrong with them, not int's docstring."""
    site = fake_distribution(tmp_path / "site", "aaa-shadow-plugin", SHADOW_ENTRY_POINTS, {
        "rlgen_shadow_plugin": "NUMBER = 42\n\nclass Net:\n    '''Not rlgen's MLP.'''\n"
                               "    def __init__(self, in_shape, **kwargs):\n        self.out_dim = 1\n"})
    code = ("import rlgen; from rlgen.registry import BACKBONES; "
            "cfg = rlgen.load_config('ppo_cartpole'); print(BACKBONES.get(cfg.agent.policy.backbone.type).__module__)")
    out = run_python(["-c", code], tmp_path, site)
    assert out.stdout.split() == ["rlgen.nets.mlp"]
    assert "backbone type 'mlp' from aaa-shadow-plugin ignored: rlgen registers the same name" in out.stderr
    listed = run_python(["-m", "rlgen", "list"], tmp_path, site)
    sections = list_sections(listed.stdout)
    assert not names_in(sections["backbones"])["mlp"].endswith("]")  # rlgen's own, not the plugin's
    assert names_in(sections["sources"])["intsrc"] == ("(cannot be used: it is a int, not a data source class or "
                                                       "function (called with data.kwargs, it returns an object with "
                                                       "shape, modality, n_classes and sample(batch, rng))) "
                                                       "[aaa-shadow-plugin]")
    (intdemo,) = [line for line in listed.stdout.splitlines() if line.startswith("intdemo ")]
    assert intdemo.split(None, 1)[1] == "(cannot be used: it is a int, not a demo format) [aaa-shadow-plugin]"


# --- demo formats from plugins ---------------------------------------------------------------------


class _RaisingFormat:
    """Opens the path to read a magic number: a path that is not there raises."""

    def matches(self, path: Path) -> bool:
        with open(path, "rb") as f:
            return f.read(4) == b"MAGI"

    def read(self, path: Path) -> Any: ...

    def write(self, demos: Any, path: Path, **kwargs: Any) -> None: ...


@pytest.mark.parametrize("target, reason", [
    (_RaisingFormat,
     r"demo format 'test_raising' registered in code: its matches\('.*typo'\) raised FileNotFoundError"),
    (42, r"demo format 'test_int_format' registered in code is a int, not a demo format"),
], ids=["matches-raises", "int"])
def test_a_broken_demo_format_is_skipped_with_one_warning(tmp_path: Path, target: Any, reason: str) -> None:
    """A mistyped demos.path gets rlgen's own "demos not found", not the plugin format's error; the
    plugin is named once in a warning."""
    from rlgen.envs.demos import format_of
    from rlgen.registry import DEMOS

    name = "test_raising" if isinstance(target, type) else "test_int_format"
    DEMOS.register(name, target)
    try:
        with pytest.warns(RlgenWarning, match=reason + ".*; skipped when finding a demos path's format"):
            with pytest.raises(RlgenError, match="demos not found: .*typo .*record them with `rlgen record"):
                format_of(tmp_path / "typo")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # once per format: a second warning would raise here
            with pytest.raises(RlgenError, match="demos not found"):
                format_of(tmp_path / "typo again")
    finally:
        DEMOS.unregister(name)


def test_an_int_demo_format_fails_validation() -> None:
    from rlgen.registry import DEMOS

    DEMOS.register("test_intdemo", 42)
    try:
        with pytest.raises(ConfigError, match=r"demos.format: demo format 'test_intdemo' registered in code is a int, "
                                              r"not a demo format: a demo format is a class or object with matches"):
            rlgen.load_config("bc_cartpole", ["demos.format=test_intdemo"])
    finally:
        DEMOS.unregister("test_intdemo")


# --- what a user outside a checkout reads and meets -------------------------------------------------


def test_an_env_whose_extra_is_missing_names_rlgens_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not gymnasium's own advice (`pip install swig`, `gymnasium[box2d]`): rlgen's extra, at
    validation, before a run directory exists."""
    import importlib.util

    from rlgen.envs import check_env_id

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *args: None if name in ("Box2D", "mujoco") else find_spec(name, *args))
    assert check_env_id("LunarLander-v3") == ("env 'LunarLander-v3' needs the Box2D package, which is not installed; "
                                              "pip install 'rlgen[box2d]'")
    assert check_env_id("HalfCheetah-v5").endswith("pip install 'rlgen[mujoco]'")
    assert check_env_id("CartPole-v1") is None
    with pytest.raises(ConfigError, match=r"env.id: env 'LunarLander-v3' needs the Box2D package.*rlgen\[box2d\]"):
        rlgen.load_config("ppo_lunarlander")


def test_train_help_examples_work_outside_a_checkout(tmp_path: Path) -> None:
    """The first example is a bundled name (a `configs/...` path exists only in a checkout); a path
    example is marked as a file of one's own."""
    from rlgen.api import bundled_configs
    from rlgen.cli import EXAMPLES

    train = [line.split()[2] for line in EXAMPLES.splitlines() if line.strip().startswith("rlgen train ")]
    assert train[0] == "ppo_cartpole" and train[0] in bundled_configs()
    assert not [arg for arg in train if arg.startswith("configs/")]
    (own,) = [line for line in EXAMPLES.splitlines() if line.split()[2:3] and line.split()[2].endswith(".yaml")
              and line.strip().startswith("rlgen train ")]
    assert "of your own" in own
