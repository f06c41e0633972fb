"""Checkpoint state as plain data (`rlgen.plain`): a crafted array in someone else's checkpoint is
one RlgenError naming its dotted path, never numpy's own error from deep inside `decode`."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rlgen import plain
from rlgen.errors import RlgenError


def _array(dtype: str, shape, n_bytes: int) -> dict:
    return {"buf": {"obs": {plain.ARRAY: dtype, "shape": shape, "data": torch.zeros(n_bytes, dtype=torch.uint8)}}}


def test_an_array_comes_back_as_it_was_saved():
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert np.array_equal(plain.decode(plain.encode({"a": a}))["a"], a)


@pytest.mark.parametrize("dtype, shape, n_bytes, says", [
    ("|u1", [-1, -4], 4, "its shape [-1, -4] is not a list of non-negative ints"),  # reshape would guess -1
    ("|u1", [2.5, 2], 4, "its shape [2.5, 2] is not a list of non-negative ints"),
    ("|u1", "ab", 2, "its shape is str, not a list"),
    ("|u1", [2**32, 2**32], 0, "array data of 0 bytes does not fit (4294967296, 4294967296) uint8"),  # np.prod: 0
    ("|S0", [3], 0, "itemsize cannot be zero"),
    ("|u1", [1] * 70, 1, "maximum supported dimension"),
])
def test_a_crafted_shape_is_one_error_naming_the_array(dtype, shape, n_bytes, says):
    with pytest.raises(RlgenError, match="^buf.obs: ") as e:
        plain.decode(_array(dtype, shape, n_bytes))
    assert says in str(e.value) and "\n" not in str(e.value)
