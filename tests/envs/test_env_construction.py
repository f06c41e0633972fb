"""What `make_env_fn` and `check_env_id` say about a user's module or wrapper that is broken: one
line naming it, never the error it causes further on."""

from __future__ import annotations

import pytest

from rlgen.envs import check_env_id, make_env_fn
from rlgen.errors import RlgenError


def test_an_env_module_that_raises_at_import_is_one_line_naming_it(tmp_path, monkeypatch):
    (tmp_path / "rlgen_test_broken_envs.py").write_text('raise RuntimeError("env module is broken\\nmore")\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    env_id = "rlgen_test_broken_envs:rlgen_test/X-v0"
    assert check_env_id(env_id) == ("importing 'rlgen_test_broken_envs' for env 'rlgen_test_broken_envs:rlgen_test/X-v0' "
                                    "failed: RuntimeError: env module is broken")


def test_a_wrapper_that_returns_no_env_is_named(tmp_path, monkeypatch):
    (tmp_path / "rlgen_test_wrappers.py").write_text("def five(env, **kwargs):\n    return 5\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    thunk = make_env_fn("CartPole-v1", wrappers=["TimeAwareObservation", {"rlgen_test_wrappers:five": {}}])
    with pytest.raises(RlgenError, match=r"^wrapper 'rlgen_test_wrappers:five' returned a int, not a gymnasium env"):
        thunk()
    assert make_env_fn("CartPole-v1", wrappers=["TimeAwareObservation"])().observation_space.shape == (5,)
