"""Env ids that two `rlgen.envs` packages register: rlgen's own (between plugins, the distribution
whose name sorts first) keeps the id, the other is ignored with one RlgenWarning, as for every
other table of names; gymnasium's own coloured "Overriding environment" warning never shows."""

from __future__ import annotations

import sys
import warnings
from importlib import metadata
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest

from rlgen import registry
from rlgen.errors import RlgenWarning
from tests.install_helpers import run_python
from tests.test_plugins import EXAMPLE, fake_distribution

SHADOW = """\
import gymnasium as gym

gym.register(id="rlgen/Identity-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
gym.register(id="CartPole-v1", entry_point="gymnasium.envs.classic_control:MountainCarEnv")


def register():  # registers its own id on every call, unguarded, as many packages do
    gym.register(id="aaa_shadow/Own-v0", entry_point="gymnasium.envs.classic_control:CartPoleEnv")
"""

CHECK = """\
import warnings
import gymnasium as gym
import rlgen.registry as r

r.load_env_packages()
for env_id in ("rlgen/Identity-v0", "CartPole-v1", "aaa_shadow/Own-v0"):
    owner = r.env_package_of(env_id)
    print(env_id, gym.spec(env_id).entry_point, owner.origin if owner else None)
r._envs_loaded = False  # load again (as tests do): nothing new, so no warning
with warnings.catch_warnings():
    warnings.simplefilter("error")
    r.load_env_packages()
print(gym.spec("rlgen/Identity-v0").entry_point, r.env_package_of("aaa_shadow/Own-v0").origin)
"""


def test_a_plugin_env_id_never_replaces_rlgens_or_gymnasiums(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The plugin is installed (its dist-info found before rlgen's) and its package is imported after
    rlgen's: rlgen's `rlgen/Identity-v0` and gymnasium's `CartPole-v1` stay, with one plain warning
    each under NO_COLOR; the id only the plugin registers is the plugin's."""
    site = fake_distribution(tmp_path / "site", "aaa-shadow-envs",
                             "[rlgen.envs]\nshadow = rlgen_shadow_envs\nown = rlgen_shadow_envs:register\n",
                             {"rlgen_shadow_envs": SHADOW})
    monkeypatch.setenv("NO_COLOR", "1")
    out = run_python(["-c", CHECK], tmp_path, site)
    assert out.stdout.splitlines() == [
        "rlgen/Identity-v0 rlgen.envs.identity:IdentityEnv rlgen",
        "CartPole-v1 gymnasium.envs.classic_control.cartpole:CartPoleEnv None",  # gymnasium's own: no package
        "aaa_shadow/Own-v0 gymnasium.envs.classic_control:CartPoleEnv aaa-shadow-envs",
        "rlgen.envs.identity:IdentityEnv aaa-shadow-envs",
    ]
    err = " ".join(out.stderr.split())
    for clash in ("env id 'rlgen/Identity-v0' from aaa-shadow-envs ignored: rlgen registers the same name",
                  "env id 'CartPole-v1' from aaa-shadow-envs ignored: it is already registered"):
        assert err.count(clash) == 1, out.stderr
    assert "\x1b[" not in out.stderr and "Overriding environment" not in out.stderr, out.stderr


# --- between two plugins, in process: the order they are found in does not matter --------------------


def _widget_plugin(site: Path, dist: str, entry_point: str) -> list[metadata.EntryPoint]:
    module = f"rlgen_test_{dist.replace('-', '_')}"
    source = f'import gymnasium as gym\ngym.register(id="rlgen_test_clash/Widget-v0", entry_point="{entry_point}")\n'
    # each under its own entry name: the id is what clashes, not the name in the env package table
    fake_distribution(site / dist, dist, f"[rlgen.envs]\n{module} = {module}\n", {module: source})
    (found,) = metadata.distributions(path=[str(site / dist)])
    return list(found.entry_points)


@pytest.fixture
def fresh_env_packages(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty ENV_PACKAGES table, not yet loaded; gymnasium's registry and sys.modules as they were after."""
    monkeypatch.setattr(registry, "ENV_PACKAGES", registry.Registry("env package", "rlgen.envs"))
    monkeypatch.setattr(registry, "_envs_loaded", False)
    monkeypatch.setattr(registry, "_env_id_packages", {})
    specs, modules = dict(gym.registry), set(sys.modules)
    yield
    gym.registry.clear()
    gym.registry.update(specs)
    for name in set(sys.modules) - modules:
        del sys.modules[name]


@pytest.mark.parametrize("order", [("aaa-one", "zzz-two"), ("zzz-two", "aaa-one")])
def test_between_two_plugins_the_first_distribution_name_keeps_the_env_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         fresh_env_packages: None, order: Any) -> None:
    eps = {dist: _widget_plugin(tmp_path, dist, target) for dist, target in
           (("aaa-one", "gymnasium.envs.classic_control:CartPoleEnv"),
            ("zzz-two", "gymnasium.envs.classic_control:MountainCarEnv"))}
    found = [ep for dist in order for ep in eps[dist]]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    for dist in eps:
        monkeypatch.syspath_prepend(str(tmp_path / dist))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.load_env_packages()
    assert [(w.category, str(w.message)) for w in caught] == [
        (RlgenWarning, "env id 'rlgen_test_clash/Widget-v0' from zzz-two ignored: aaa-one registers the same name")]
    assert gym.spec("rlgen_test_clash/Widget-v0").entry_point == "gymnasium.envs.classic_control:CartPoleEnv"
    assert registry.env_package_of("rlgen_test_clash/Widget-v0").origin == "aaa-one"


def test_the_same_registration_again_is_no_clash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 fresh_env_packages: None) -> None:
    """Two plugins that share a registration helper (as minigrid-style packages do) register equal
    specs: no warning, and the first keeps the id."""
    eps = {dist: _widget_plugin(tmp_path, dist, "gymnasium.envs.classic_control:CartPoleEnv")
           for dist in ("aaa-one", "zzz-two")}
    monkeypatch.setattr(metadata, "entry_points",
                        lambda group: [ep for dist in eps for ep in eps[dist] if ep.group == group])
    for dist in eps:
        monkeypatch.syspath_prepend(str(tmp_path / dist))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.load_env_packages()
    assert [str(w.message) for w in caught] == []
    assert registry.env_package_of("rlgen_test_clash/Widget-v0").origin == "aaa-one"



def test_the_example_plugin_registers_its_id_unguarded_so_a_clash_is_said(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                         fresh_env_packages: None) -> None:
    """A plugin found first holds `rlgen_example/Corridor-v0`: the example's module registers it all the
    same (no `if id not in gym.registry` guard), so the clash is warned of, not silently lost."""
    taker = 'import gymnasium as gym\ngym.register(id="rlgen_example/Corridor-v0", entry_point="nowhere:Env")\n'
    fake_distribution(tmp_path / "a", "aaa-one", "[rlgen.envs]\ntaker = rlgen_test_taker\n", {"rlgen_test_taker": taker})
    fake_distribution(tmp_path / "b", "rlgen-plugin-example", "[rlgen.envs]\nrlgen_plugin_example = rlgen_plugin_example.envs\n", {})
    found = [ep for site in ("a", "b") for dist in metadata.distributions(path=[str(tmp_path / site)])
             for ep in dist.entry_points]
    monkeypatch.setattr(metadata, "entry_points", lambda group: [ep for ep in found if ep.group == group])
    monkeypatch.syspath_prepend(str(tmp_path / "a"))
    monkeypatch.syspath_prepend(str(EXAMPLE))  # the example's own envs.py, as its source has it
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        registry.load_env_packages()
    assert [str(w.message) for w in caught if w.category is RlgenWarning] == [
        "env id 'rlgen_example/Corridor-v0' from rlgen-plugin-example ignored: aaa-one registers the same name"]
    assert gym.spec("rlgen_example/Corridor-v0").entry_point == "nowhere:Env"
