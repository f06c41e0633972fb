"""`rlgen list`: every name a config can use, one line each, from the registries and the package."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path

from rich.console import Group
from rich.table import Table

from rich.markup import escape

from rlgen.registry import TABLES, describe, env_package_of, load_env_packages

# gymnasium's own families worth listing by default; the rest with --all
_GYM_SHOWN = ("CartPole", "Acrobot", "MountainCar", "Pendulum", "LunarLander", "BipedalWalker", "CarRacing")


def config_description(path: Path) -> str:
    """The first sentence of a config file's leading comment."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        if not line.startswith(("# smoke:", "# demos:")):
            lines.append(line.lstrip("#").strip())
    return describe(type("Config", (), {"description": " ".join(lines)}))


def rows() -> dict[str, list[tuple[str, str]]]:
    """Section -> (name, one-line description), in the order `rlgen list` prints them."""
    from rlgen.api import bundled_configs

    from rlgen.sweep import bundled_sweeps

    out: dict[str, list[tuple[str, str]]] = {
        "configs": [(name, escape(config_description(path))) for name, path in bundled_configs().items()],
        "sweeps (rlgen sweep NAME)": [(name, escape(config_description(path))) for name, path in bundled_sweeps().items()],
    }
    for section, registry in TABLES.items():
        if section == "env packages":
            continue
        out[section] = [(e.name, _origin(e.description, e.origin)) for e in registry.entries()]
    return out


def env_ids(show_all: bool) -> list[str]:
    """The gymnasium ids a config can name: with `show_all`, every one, ALE's included when ale_py is
    installed (it registers them only when imported, as a config naming one does)."""
    import gymnasium as gym

    load_env_packages()
    if show_all and importlib.util.find_spec("ale_py") is not None:
        try:
            gym.register_envs(importlib.import_module("ale_py"))
        except ImportError:  # installed but broken (a missing system library): listed without ALE's ids
            pass
    ids = sorted(gym.registry)
    # an id an env package registered is listed whatever its form (a plugin's `Corridor-v0` too)
    return [i for i in ids if show_all or i.startswith(_GYM_SHOWN) or env_package_of(i) is not None
            or ("/" in i and not i.startswith("ALE/"))]


def _env_line(show_all: bool) -> str:
    """The ids as one line of markup, each that a plugin's env package registered followed by that
    package's distribution name, as the other tables mark a plugin's names."""
    ids = env_ids(show_all)
    return ", ".join(_origin(i, owner.origin) if (owner := env_package_of(i)) is not None else escape(i) for i in ids)


def listing(show_all_envs: bool = False) -> Group:
    tables = []
    for section, entries in rows().items():
        t = Table(title=section, title_justify="left", show_header=False, box=None, pad_edge=False)
        t.add_column("name", style="bold cyan", no_wrap=True)
        t.add_column("description")
        for name, text in entries:
            t.add_row(escape(name), text)
        tables.append(t)
    envs = Table(title="envs (gymnasium ids)", title_justify="left", show_header=False, box=None)
    envs.add_column("ids")
    note = "" if show_all_envs else escape("  (every id with --all; ALE/... after `pip install 'rlgen[atari]'`)")
    envs.add_row(_env_line(show_all_envs) + note)
    tables.append(envs)
    return Group(*tables)


def plain_listing(show_all_envs: bool = False) -> str:
    """The same listing as plain text: a section's title, then one `name  description` line per
    entry, nothing cut or padded to a terminal's width; what a pipe, a file or `grep` gets."""
    from rich.text import Text

    blocks = []
    for section, entries in rows().items():
        width = max((len(name) for name, _ in entries), default=0)
        lines = [f"{name:<{width}}  {Text.from_markup(text).plain}".rstrip() for name, text in entries]
        blocks.append("\n".join([section, *lines]))
    note = "" if show_all_envs else "  (every id with --all; ALE/... after `pip install 'rlgen[atari]'`)"
    blocks.append("envs (gymnasium ids)\n" + Text.from_markup(_env_line(show_all_envs)).plain + note)
    return "\n\n".join(blocks) + "\n"


def _origin(text: str, origin: str) -> str:
    text = escape(text)
    return text if origin in ("rlgen", "code") else f"{text} [dim]\\[{escape(origin)}][/]"
