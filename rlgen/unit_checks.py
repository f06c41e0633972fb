"""What a kind hands the runner, held to the protocol as training goes: `train_unit()` a mapping of
metrics named by strings and a `global_step` that grows as a whole number, `evaluate()` a mapping of
`eval/...` metrics. A plugin kind that breaks it gets one line naming the kind (a `global_step` that
never grows would loop for ever; a float one would write checkpoints `step_33.0` that no later command
opens; a name that is no string breaks the logger and the scorer, which read names as text), or one
warning per metric name the shared prefixes leave out (logged all the same, but where no W&B panel,
`rlgen compare` or the summary looks for it). `rlgen.testing.check_experiment` checks a kind fully
before it trains; this is the part the runner cannot do without."""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from rlgen.errors import RlgenError, RlgenWarning
from rlgen.experiment import METRIC_PREFIXES

_CHECKER = "rlgen.testing.check_experiment checks a kind"


class UnitChecks:
    """One run's checks; each unprefixed name is warned of once."""

    def __init__(self, kind: str):
        self.kind = kind
        self._warned: set[str] = set()

    def unit(self, out: Any, step0: int, step: int) -> dict[str, Any]:
        """train_unit()'s metrics; `step0` and `step`: global_step before and after the unit."""
        if not isinstance(out, Mapping):
            raise RlgenError(f"kind {self.kind!r}: train_unit() returned {_shown(out)}, not a dict of metrics "
                             f"({{'loss/...': float}}); {_CHECKER}")
        if not is_count(step):
            raise RlgenError(f"kind {self.kind!r}: train_unit() set global_step to {_shown(step)}, not a whole number; "
                             f"count env steps or training iterations in an int; {_CHECKER}")
        if not step > step0:
            raise RlgenError(f"kind {self.kind!r}: train_unit() left global_step at {step0!r} (now {step!r}); it must "
                             f"grow with every unit, or the run never ends; {_CHECKER}")
        self._names(out, "train_unit()")
        self._prefixes(out, METRIC_PREFIXES, "train_unit()")
        return dict(out)

    def evaluation(self, out: Any) -> dict[str, Any]:
        if not isinstance(out, Mapping):
            raise RlgenError(f"kind {self.kind!r}: evaluate() returned {_shown(out)}, not a dict of metrics "
                             f"({{'eval/...': value}}); {_CHECKER}")
        self._names(out, "evaluate()")
        self._prefixes(out, ("eval/",), "evaluate()")
        return dict(out)

    def _names(self, metrics: Mapping[Any, Any], method: str) -> None:
        """Every name a string: the logger, the divergence watch and the scorer read names as text."""
        if odd := [key for key in metrics if not isinstance(key, str)]:
            raise RlgenError(f"kind {self.kind!r}: {method} gives a metric named {_shown(odd[0])}, not a string; "
                             f"name every metric by a str; {_CHECKER}")

    def _prefixes(self, metrics: Mapping[str, Any], prefixes: tuple[str, ...], method: str) -> None:
        for key in metrics:
            if key.startswith(prefixes) or key in self._warned:
                continue
            self._warned.add(key)
            shared = ", ".join(prefixes)
            warnings.warn(f"kind {self.kind!r}: {method} gives metric {key!r}, outside the shared prefixes "
                          f"({shared}): it is logged, but no summary, W&B panel or rlgen compare looks for it "
                          "there; rename it", RlgenWarning, stacklevel=3)


def is_count(step: Any) -> bool:
    """An integer, numpy's too, not a bool: what the runner counts and checkpoints (`checkpoint.count`)."""
    return isinstance(step, numbers.Integral) and not isinstance(step, bool)


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40]}{'...' if len(text) > 40 else ''}"
