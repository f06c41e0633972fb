"""A game whose package is missing names what to install: the package, and PettingZoo's extra for
the game's family (butterfly needs pymunk, not classic's rlcard)."""

import sys

import pytest

from rlgen.errors import RlgenError
from rlgen.registry import GAMES


@pytest.mark.parametrize("game, missing, extra", [
    ("pettingzoo.butterfly.pistonball_v6", "pymunk", "pettingzoo[butterfly]"),
    ("pettingzoo.classic.leduc_holdem_v4", "rlcard", "pettingzoo[classic]"),
])
def test_a_missing_package_names_the_extra_of_the_games_family(monkeypatch, game, missing, extra):
    family = game.rsplit(".", 1)[0]
    for name in [m for m in sys.modules if m.startswith(f"{family}.")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, so that the import meets the missing package
    monkeypatch.setitem(sys.modules, missing, None)  # not installed, whatever this machine has
    with pytest.raises(RlgenError) as info:
        GAMES.get(game)
    message = str(info.value)
    assert f"needs the package {missing!r}, which is not installed (pip install {missing}" in message
    assert f"pip install '{extra}'" in message and message.count("pettingzoo[") == 1


def test_only_a_pettingzoo_family_with_an_extra_gets_one():
    from rlgen.registry import _pettingzoo_extra

    assert _pettingzoo_extra("pettingzoo.sisl.pursuit_v4") == "; PettingZoo's own: pip install 'pettingzoo[sisl]'"
    for module in ("mpe2.simple_tag_v3", "mygames.duel", "pettingzoo.utils.nothing"):
        assert _pettingzoo_extra(module) == "", module
