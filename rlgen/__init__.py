"""rlgen: one set of torch backbones for RL agents and GANs, trained by one config-driven runner.

The public API (see rlgen.api):

    import rlgen
    run = rlgen.train("ppo_cartpole")                 # a bundled config, a YAML path or a mapping
    agent = rlgen.load_run(run.run_dir).agent()       # acts on a plain gymnasium env
"""

from __future__ import annotations

import importlib as _importlib
import random as _random
from typing import Any

# rich draws once from Python's `random` when first imported (rich/style.py): imported here, with the
# stream put back, so a script's `random.seed(7)` before its first rlgen call gives the same draws after
_state = _random.getstate()
import rich.style  # noqa: E402, F401
_random.setstate(_state)
del _state

__version__ = "0.1.0"
__all__ = ["Run", "bundled_configs", "load_config", "load_run", "make_experiment", "record", "train"]


def __getattr__(name: str) -> Any:
    # lazy: `import rlgen.nets` (torch only) must not pull in gymnasium, SB3 and pydantic
    if name in __all__:
        from rlgen import api

        return getattr(api, name)
    if not name.startswith("_"):
        # a submodule on first use, as the README's `rlgen.export.export(...)` reads after `import rlgen`
        try:
            return _importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise  # the submodule exists and lacks a dependency: that error, not "no attribute"
    raise AttributeError(f"module 'rlgen' has no attribute {name!r}")
