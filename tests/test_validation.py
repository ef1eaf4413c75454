"""Direct tests of the kldiv._validation helpers, for what the public functions' tests do not reach.

The error messages of every check are tested through the public functions (test_divergence.py,
test_gaussian.py, test_montecarlo.py); here: tolerances, dtype handling and index bookkeeping.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from kldiv._validation import as_real_array, check_atol, check_axis, check_base, default_atol, event_layout, format_index


def test_default_row_sum_tolerance_is_square_root_of_machine_epsilon():
    assert default_atol(np.dtype(np.float64)) == math.sqrt(2.0**-52)  # 1.49e-8
    assert default_atol(np.dtype(np.float32)) == pytest.approx(math.sqrt(2.0**-23), rel=1e-7)  # 3.45e-4
    assert default_atol(np.dtype(np.float16)) == pytest.approx(math.sqrt(2.0**-10), rel=1e-3)
    # Integer input becomes float64, so it gets float64's tolerance.
    assert default_atol(np.dtype(np.int64)) == math.sqrt(2.0**-52)
    assert f"{default_atol(np.dtype(np.float64)):.2g}" == "1.5e-08"
    assert f"{default_atol(np.dtype(np.float32)):.2g}" == "0.00035"


def test_explicit_atol_overrides_the_default():
    assert check_atol(None, np.dtype(np.float32)) == default_atol(np.dtype(np.float32))
    assert check_atol(0, np.dtype(np.float64)) == 0.0
    assert check_atol(np.float32(1e-3), np.dtype(np.float64)) == pytest.approx(1e-3, rel=1e-7)


def test_base_becomes_the_divisor_that_converts_nats():
    assert check_base(None) == 1.0
    assert check_base(2) == math.log(2)
    assert check_base(np.float32(10)) == pytest.approx(math.log(10), rel=1e-7)
    assert check_base(math.e) == pytest.approx(1.0, rel=1e-15)


def test_axis_is_normalised_to_a_non_negative_index():
    assert [check_axis(a, 3, "p") for a in (-3, -2, -1, 0, 1, 2)] == [0, 1, 2, 0, 1, 2]
    assert check_axis(np.int64(-1), 2, "p") == 1
    assert type(check_axis(np.int8(1), 2, "p")) is int


def test_floating_input_keeps_its_dtype_and_is_not_copied():
    x = np.array([0.25, 0.75], dtype=np.float32)
    out = as_real_array(x, "p")
    assert out.dtype == np.float32 and np.shares_memory(out, x)


@pytest.mark.parametrize("value", [[1, 0], [True, False], np.array([1, 0], dtype=np.uint8)])
def test_integer_and_boolean_input_becomes_float64(value):
    out = as_real_array(value, "p")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 0.0])


def test_event_layout_moves_the_event_axis_last_and_broadcasts_batches():
    rng = np.random.default_rng(61)
    p, q = rng.random((4, 1, 5)), rng.random((3, 5))
    (fp, fq), batch, k = event_layout({"p": p, "q": q}, -1)
    assert batch == (4, 3) and k == 5 and fp.shape == fq.shape == (12, 5)
    np.testing.assert_array_equal(fp[7], p[2, 0])  # row 7 = batch index (2, 1)
    np.testing.assert_array_equal(fq[7], q[1])
    (fr,), batch, k = event_layout({"r": rng.random((2, 5, 3))}, 1)
    assert batch == (2, 3) and k == 5


@st.composite
def _layouts(draw):
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=4))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return shape, axis


@settings(max_examples=50)
@given(_layouts(), st.data())
def test_format_index_finds_the_entry_of_the_flattened_layout_in_the_input(layout, data):
    # Label every entry of the input by its flat position, flatten the labels the way the
    # row-wise functions do, and check that format_index maps each (row, event) back to it.
    shape, axis = layout
    labels = np.arange(math.prod(shape)).reshape(shape)
    (flat,), batch, k = event_layout({"p": labels}, axis)
    row = data.draw(st.integers(0, flat.shape[0] - 1))
    col = data.draw(st.integers(0, k - 1))
    index = format_index(row, col, batch, axis, len(shape))
    assert all(type(i) is int for i in index)
    assert index == tuple(int(i) for i in np.unravel_index(flat[row, col], shape))


def test_format_index_for_a_single_distribution():
    assert format_index(0, 3, (), -1, 1) == (3,)
