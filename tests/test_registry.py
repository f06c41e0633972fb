"""The registries: names from code, entry points and import paths; readable errors; descriptions."""

from __future__ import annotations

from importlib import metadata

import pytest

from rlgen.errors import RlgenError
from rlgen.registry import BACKBONES, GAMES, KINDS, SOURCES, WRAPPERS, Registry, describe, is_import_path, resolve


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


def test_a_wrapper_by_import_path_in_an_untrusted_file_asks_for_trust_not_a_known_name():
    from rlgen.envs import resolve_wrapper
    from rlgen.registry import registered_names_only

    with registered_names_only("runs/x/config.yaml"):
        with pytest.raises(RlgenError, match="pass --trust"):
            resolve_wrapper({"gymnasium.wrappers:TimeLimit": {"max_episode_steps": 20}})
        assert resolve_wrapper("TimeLimit")[0].__name__ == "TimeLimit"  # a gymnasium name needs no trust
    with pytest.raises(RlgenError, match="has no attribute 'TimeLimt'"):
        resolve_wrapper("gymnasium.wrappers:TimeLimt")
