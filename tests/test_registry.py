"""The registries: names from code, entry points and import paths; readable errors; descriptions."""

from __future__ import annotations

import math
import re
import warnings
from contextlib import contextmanager
from importlib import metadata

import pytest
import torch
from pydantic import BaseModel

from rlgen.api import load_config
from rlgen.config import ExperimentConfig
from rlgen.errors import ConfigError, RlgenError, RlgenWarning
from rlgen.experiment import ExperimentBase
from rlgen.registry import (BACKBONES, DEMOS, ENV_PACKAGES, GAMES, KINDS, SOURCES, TABLES, WRAPPERS, Registry, describe,
                            is_import_path, resolve)


def test_builtins_arrive_through_entry_points():
    assert {"rl", "gan", "selfplay", "teams"} <= set(KINDS.names())
    assert {"ring8", "digits", "sine"} <= set(SOURCES.names())
    assert {"mlp", "gru", "transformer"} <= set(BACKBONES.names())
    assert "HideEntries" in WRAPPERS.names() and "connect_four_v3" in GAMES.names()
    origins = {e.origin for e in KINDS.entries() if e.name in ("rl", "gan", "selfplay", "teams")}
    assert origins == {"rlgen"}  # the installed distribution, the same route as a plugin's


def test_register_get_and_decorator():
    reg = Registry("widget", "rlgen.test-widgets")

    @reg.register("square")
    def square(x: int) -> int:
        """Squares a number. More text."""
        return x * x

    reg.register("cube", "math:pow")
    assert reg.get("square")(3) == 9 and reg.get("cube")(2, 3) == 8
    assert reg.get("math:sqrt")(16) == 4  # an import path needs no registration
    assert describe(reg.get("square")) == "Squares a number"
    figures = type("Config", (), {"description": "PPO on CartPole until solved (mean >= 475). 16 envs x 32 steps."})
    assert describe(figures) == "PPO on CartPole until solved (mean >= 475)"  # a sentence may start with a figure
    assert describe(type("Cite", (), {"description": "WGAN (Gulrajani et al. 2017). More."})) == "WGAN (Gulrajani et al. 2017)"
    with pytest.raises(RlgenError, match="already registered"):
        reg.register("square", abs)
    reg.register("square", abs, replace=True)
    assert reg.get("square")(-2) == 2


def test_unknown_names_suggest_and_list():
    reg = Registry("widget", "rlgen.test-widgets")
    reg.register("spiral", dict)
    with pytest.raises(RlgenError, match=r"unknown widget 'spiarl' \(did you mean 'spiral'\?\); known: spiral"):
        reg.get("spiarl")
    assert "cannot import 'nosuchpkg.mod'" in reg.problem("nosuchpkg.mod:thing")
    assert "has no attribute 'nope'" in reg.problem("math:nope")
    assert "spiral" in reg and "spiarl" not in reg


def test_import_path_form():
    assert is_import_path("pkg.mod:Attr.inner") and not is_import_path("pkg.mod") and not is_import_path("a:b:c")
    assert resolve("os.path:join") is __import__("os").path.join


def test_broken_entry_point_is_listed_with_its_reason(monkeypatch):
    eps = metadata.EntryPoints([
        metadata.EntryPoint("good", "math:floor", "rlgen.test-widgets"),
        metadata.EntryPoint("broken", "nosuchpkg.mod:thing", "rlgen.test-widgets"),
    ])
    monkeypatch.setattr(metadata, "entry_points", lambda group: eps.select(group=group))
    reg = Registry("widget", "rlgen.test-widgets")
    assert reg.names() == ["good", "broken"]  # listed, loaded lazily
    assert reg.get("good")(2.5) == 2
    with pytest.raises(RlgenError, match="widget 'broken' .* cannot be loaded: cannot import 'nosuchpkg.mod'"):
        reg.get("broken")
    descriptions = {e.name: e.description for e in reg.entries()}
    assert descriptions["broken"].startswith("(cannot be loaded")


def test_fallbacks_gymnasium_wrappers_and_pettingzoo_games():
    import gymnasium as gym

    assert WRAPPERS.get("TimeLimit") is gym.wrappers.TimeLimit
    assert GAMES.get("rps_v2").__name__ == "pettingzoo.classic.rps_v2"
    assert "any gymnasium.wrappers class" in WRAPPERS.problem("TimeLimt")


def test_a_game_module_that_raises_at_import_is_one_line_naming_it(tmp_path, monkeypatch):
    """As `resolve` says it for an import path: not a traceback, nor "unknown game"."""
    package = tmp_path / "rlgen_test_games"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "g_v0.py").write_text('raise RuntimeError("game module is broken\\nmore")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert GAMES.problem("rlgen_test_games.g_v0") == ("importing 'rlgen_test_games.g_v0' for game 'rlgen_test_games.g_v0' "
                                                      "failed: RuntimeError: game module is broken")
    assert GAMES.problem("rlgen_test_games.g_v0:env") == ("importing 'rlgen_test_games.g_v0' for "
                                                          "'rlgen_test_games.g_v0:env' failed: RuntimeError: game module "
                                                          "is broken")


def test_a_game_module_with_only_parallel_env_is_a_team_game_and_selfplay_refuses_it_in_one_line(tmp_path,
                                                                                                   monkeypatch):
    """An `rlgen.games` entry naming a module with parallel_env() alone was refused for want of env()."""
    from rlgen.envs.games.aec import check_game
    from rlgen.envs.games.teams import sides_of, team_game

    package = tmp_path / "rlgen_test_team_games"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "duel_v0.py").write_text("from tests.envs.games.toy_games import duel as parallel_env\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with registered(GAMES, "test_duel_v0", "rlgen_test_team_games.duel_v0"):
        assert GAMES.problem("test_duel_v0") is None
        assert list(sides_of(team_game("test_duel_v0")())) == ["red", "blue"]
        assert check_game("test_duel_v0") == "game module 'test_duel_v0' has no env() or raw_env()"


def test_a_wrapper_by_import_path_in_an_untrusted_file_asks_for_trust_not_a_known_name():
    from rlgen.envs import resolve_wrapper
    from rlgen.registry import registered_names_only

    with registered_names_only("runs/x/config.yaml"):
        with pytest.raises(RlgenError, match="pass --trust"):
            resolve_wrapper({"gymnasium.wrappers:TimeLimit": {"max_episode_steps": 20}})
        assert resolve_wrapper("TimeLimit")[0].__name__ == "TimeLimit"  # a gymnasium name needs no trust
    with pytest.raises(RlgenError, match="has no attribute 'TimeLimt'"):
        resolve_wrapper("gymnasium.wrappers:TimeLimt")


# --- clashes: rlgen's own names win, whatever order the installed packages are found in -----------


def _dist_entry_points(tmp_path, dist: str, group: str, lines: str) -> list[metadata.EntryPoint]:
    """The entry points of a distribution `dist` installed (its dist-info only) under tmp_path."""
    info = tmp_path / dist / f"{dist.replace('-', '_')}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{lines}\n")
    (found,) = metadata.distributions(path=[str(tmp_path / dist)])
    return [ep for ep in found.entry_points if ep.group == group]


@pytest.mark.parametrize("plugin_first", [True, False], ids=["plugin-found-first", "rlgen-found-first"])
def test_rlgens_own_backbone_wins_a_clash_in_either_order(tmp_path, monkeypatch, plugin_first):
    """A plugin registering `mlp` (a dist whose name sorts before rlgen's, so importlib.metadata finds
    it first in site-packages) is ignored with one warning naming both; every bundled config keeps
    rlgen's MLP."""
    from rlgen.nets.mlp import MLP

    ours = list(metadata.entry_points(group="rlgen.backbones"))
    assert {ep.dist.name for ep in ours} == {"rlgen"}
    theirs = _dist_entry_points(tmp_path, "aaa-shadow", "rlgen.backbones", "mlp = collections:OrderedDict\n"
                                "extra = collections:OrderedDict")
    found = [*theirs, *ours] if plugin_first else [*ours, *theirs]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    reg = Registry("backbone type", "rlgen.backbones")
    clash = r"^backbone type 'mlp' from aaa-shadow ignored: rlgen registers the same name$"
    with pytest.warns(RlgenWarning, match=clash):
        names = reg.names()
    assert reg.get("mlp") is MLP and reg.entry("mlp").origin == "rlgen"
    assert names[:len(ours)] == [ep.name for ep in ours] and names[-1] == "extra"  # the plugin's other names stay


@pytest.mark.parametrize("order", [("aaa-one", "zzz-two"), ("zzz-two", "aaa-one")])
def test_a_clash_between_two_plugins_is_settled_by_distribution_name(tmp_path, monkeypatch, order):
    eps = {dist: _dist_entry_points(tmp_path, dist, "rlgen.test-widgets", f"spiral = {target}")
           for dist, target in (("aaa-one", "math:floor"), ("zzz-two", "math:ceil"))}
    found = [ep for dist in order for ep in eps[dist]]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    reg = Registry("widget", "rlgen.test-widgets")
    with pytest.warns(RlgenWarning, match="widget 'spiral' from zzz-two ignored: aaa-one registers the same name"):
        assert reg.get("spiral") is math.floor


def test_one_distribution_found_twice_is_no_clash(tmp_path, monkeypatch):
    eps = _dist_entry_points(tmp_path, "aaa-one", "rlgen.test-widgets", "spiral = math:floor")
    monkeypatch.setattr(metadata, "entry_points", lambda group: [*eps, *eps])
    reg = Registry("widget", "rlgen.test-widgets")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert reg.names() == ["spiral"]


def test_a_plugin_name_that_gymnasium_or_pettingzoo_has_stays_theirs(tmp_path, monkeypatch):
    """A plugin's `ClipReward` wrapper or `rps_v2` game does not silently replace gymnasium's or
    pettingzoo's, as rlgen's own names and gymnasium's env ids are not replaced; its other names stay."""
    import gymnasium as gym

    found = [*_dist_entry_points(tmp_path / "w", "aaa-plugin", "rlgen.wrappers", "ClipReward = collections:OrderedDict\n"
                                 "Mine = collections:OrderedDict"),
             *_dist_entry_points(tmp_path / "g", "aaa-plugin", "rlgen.games", "rps_v2 = collections:OrderedDict")]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    for table in (WRAPPERS, GAMES):
        monkeypatch.setattr(table, "_entries", {})
        monkeypatch.setattr(table, "_discovered", False)
    with pytest.warns(RlgenWarning) as said:
        assert WRAPPERS.names() == ["Mine"] and GAMES.names() == []
    assert [str(w.message) for w in said if w.category is RlgenWarning] == [
        "wrapper 'ClipReward' from aaa-plugin ignored: gymnasium registers the same name",
        "game 'rps_v2' from aaa-plugin ignored: pettingzoo registers the same name"]
    assert WRAPPERS.get("ClipReward") is gym.wrappers.ClipReward
    assert GAMES.get("rps_v2").__name__ == "pettingzoo.classic.rps_v2"


def test_a_plugin_name_the_fallback_finds_but_cannot_use_stays_the_plugins(tmp_path, monkeypatch):
    """pettingzoo.classic's `tictactoe` is a package, not a game, and gymnasium's `JaxToNumpy`
    imports jax: a plugin's names like these were dropped, or the import failed every lookup."""
    import sys

    found = [*_dist_entry_points(tmp_path / "g", "aaa-plugin", "rlgen.games", "tictactoe = collections:OrderedDict"),
             *_dist_entry_points(tmp_path / "w", "aaa-plugin", "rlgen.wrappers", "JaxToNumpy = collections:OrderedDict")]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    monkeypatch.setitem(sys.modules, "jax", None)  # as where jax is not installed
    for table in (WRAPPERS, GAMES):
        monkeypatch.setattr(table, "_entries", {})
        monkeypatch.setattr(table, "_discovered", False)
    assert GAMES.names() == ["tictactoe"] and WRAPPERS.names() == ["JaxToNumpy"]


# --- the shape of what a name resolves to: one readable line, at validation --------------------------


@contextmanager
def registered(table: Registry, name: str, target: object):
    table.register(name, target)
    try:
        yield
    finally:
        table.unregister(name)


class _NoInShape(torch.nn.Module):
    """A module that takes no in_shape."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.out_dim = width


class _PlainModel(BaseModel):
    name: str
    kind: str


class _Stateful(ExperimentBase):
    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class _PlainModelKind(_Stateful):
    """Every method, but its config is a plain pydantic model."""

    config_model = _PlainModel

    def setup(self, ctx: object) -> None:
        pass

    def train_unit(self) -> dict:
        return {}


class _NoMethods(_Stateful):
    """No setup, no train_unit."""

    config_model = ExperimentConfig


@pytest.mark.parametrize("table, what, needs", [
    (KINDS, "experiment kind", "not a class implementing rlgen.experiment.Experiment"),
    (SOURCES, "data source", "not a data source class or function"),
    (GAMES, "game", "not a game module (with env() or parallel_env()) or a function returning a PettingZoo AECEnv"),
    (BACKBONES, "backbone type", "not a backbone class or function"),
    (WRAPPERS, "wrapper", "not a wrapper class or function"),
    (DEMOS, "demo format", "not a demo format"),
    (ENV_PACKAGES, "env package", "not a module that registers gymnasium ids"),
], ids=lambda v: v.group if isinstance(v, Registry) else None)
def test_a_registered_int_is_refused_in_one_line_naming_what_the_table_needs(table, what, needs):
    with registered(table, "test_int", 42):
        assert table.problem("test_int").startswith(f"{what} 'test_int' registered in code is a int, {needs}")
        assert "test_int" not in table
        with pytest.raises(RlgenError, match="is a int, not"):
            table.get("test_int")
        description = table.entry("test_int").description  # `rlgen list` shows the problem, not int's docstring
        assert description.startswith(f"(cannot be used: it is a int, {needs}")
        assert "Convert a number" not in description


@pytest.mark.parametrize("config, override, table, message", [
    ("gan_ring8", "data.source=test_bad", SOURCES, "data.source: data source 'test_bad' registered in code is a int"),
    ("selfplay_tictactoe", "game.name=test_bad", GAMES, "game.name: game 'test_bad' registered in code is a int"),
    ("ppo_cartpole", "agent.policy.backbone={type: test_bad}", BACKBONES,
     "backbone.type: backbone type 'test_bad' registered in code is a int"),
    ("ppo_cartpole", "env.wrappers=[test_bad]", WRAPPERS, "wrapper 'test_bad' registered in code is a int"),
], ids=["source", "game", "backbone", "wrapper"])
def test_a_config_naming_an_int_fails_validation(config, override, table, message):
    """Not "'int' object is not callable (check data.kwargs)", nor a failure when PPO builds the policy."""
    with registered(table, "test_bad", 42), pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config, [override])


@pytest.mark.parametrize("kind, message", [
    (_PlainModelKind, "has config_model _PlainModel, not an rlgen.config.ExperimentConfig subclass: a kind is a class"),
    (_NoMethods, "has no setup() or train_unit(): a kind is a class with config_model"),
    (lambda cfg: None, "is a function, not a class implementing rlgen.experiment.Experiment"),
], ids=["plain-pydantic-config", "no-methods", "function"])
def test_a_kind_of_the_wrong_shape_fails_validation_before_a_run_directory(tmp_path, kind, message):
    from rlgen import train

    raw = {"name": "bad", "kind": "test_bad_kind", "train": {"total_steps": 10, "eval_every": 10, "progress": False},
           "logging": {"dir": str(tmp_path / "runs"), "console": False, "wandb": {"mode": "disabled"}}}
    with registered(KINDS, "test_bad_kind", kind):
        named = r"kind: experiment kind 'test_bad_kind' registered in code "
        with pytest.raises(ConfigError, match=named + re.escape(message)):
            train(raw)
    assert not (tmp_path / "runs").exists()


def test_a_backbone_that_takes_no_in_shape_fails_validation():
    with registered(BACKBONES, "test_no_in_shape", _NoInShape):
        with pytest.raises(ConfigError, match=r"agent.policy.backbone.type: backbone type 'test_no_in_shape' "
                                              r"registered in code takes no in_shape argument: a backbone is"):
            load_config("ppo_cartpole", ["agent.policy.backbone={type: test_no_in_shape, width: 3}"])


def test_every_builtin_has_the_shape_of_its_table():
    for section, table in TABLES.items():
        for entry in table.entries():
            if entry.origin == "rlgen":
                assert table.problem(entry.name) is None, (section, entry.name)


def test_a_registered_targets_module_path_is_that_entry_and_needs_no_trust():
    """`pettingzoo.classic.tictactoe_v3` (README: the same game as `tictactoe_v3`) asked for --trust."""
    from rlgen.registry import registered_names_only

    with registered_names_only("runs/x/config.yaml"):
        assert GAMES.get("pettingzoo.classic.tictactoe_v3") is GAMES.get("tictactoe_v3")
        with pytest.raises(RlgenError, match="pass --trust"):  # a module no entry registers stays refused
            GAMES.get("pettingzoo.classic.rps_v2")
