"""rlgen/__init__.py: after a plain `import rlgen`, the README's `rlgen.export.export(...)` and the
other submodules are attributes, loaded on first use; `import rlgen` alone stays cheap."""

import subprocess
import sys

SCRIPT = """
import sys
import rlgen
assert "rlgen.api" not in sys.modules and "stable_baselines3" not in sys.modules, "import rlgen is not lazy"
assert callable(rlgen.export.export) and issubclass(rlgen.errors.RlgenError, Exception)
assert callable(rlgen.envs.make_env_fn) and rlgen.testing.check_experiment and rlgen.logging.console
assert rlgen.experiment.ExperimentBase and callable(rlgen.train)
for name in ("nosuch", "random", "__wrapped__"):
    try:
        getattr(rlgen, name)
    except AttributeError as e:
        assert str(e) == f"module 'rlgen' has no attribute {name!r}", e
    else:
        raise AssertionError(f"rlgen.{name} exists")
print("ok")
"""


def test_submodules_are_attributes_of_a_freshly_imported_rlgen():
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout == "ok\n", done.stderr
