"""rlgen: one set of torch backbones for RL agents and GANs, trained by one config-driven runner.

The public API (see rlgen.api):

    import rlgen
    run = rlgen.train("ppo_cartpole")                 # a bundled config, a YAML path or a mapping
    agent = rlgen.load_run(run.run_dir).agent()       # acts on a plain gymnasium env
"""

from __future__ import annotations

from typing import Any

import random as _random

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
    raise AttributeError(f"module 'rlgen' has no attribute {name!r}")
