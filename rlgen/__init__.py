"""rlgen: one set of torch backbones for RL agents and GANs, trained by one config-driven runner.

The public API (see rlgen.api):

    import rlgen
    run = rlgen.train("ppo_cartpole")                 # a bundled config, a YAML path or a mapping
    agent = rlgen.load_run(run.run_dir).agent()       # acts on a plain gymnasium env
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Run", "bundled_configs", "load_config", "load_run", "make_experiment", "record", "train"]


def __getattr__(name: str) -> Any:
    # lazy: `import rlgen.nets` (torch only) must not pull in gymnasium, SB3 and pydantic
    if name in __all__:
        from rlgen import api

        return getattr(api, name)
    raise AttributeError(f"module 'rlgen' has no attribute {name!r}")
