"""Input checks shared by the public functions.

Every check names the argument and the offending value, so that a wrong call fails loudly instead of
returning a plausible-looking wrong number. Nothing here clips, takes ``abs`` or skips NaNs.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_real_array",
    "check_axis",
    "check_base",
    "check_atol",
    "default_atol",
    "event_layout",
    "format_index",
]


def as_real_array(x: ArrayLike, name: str, *, min_ndim: int = 0) -> NDArray[Any]:
    """Return ``x`` as a real floating (or integer) array, or raise naming ``name``.

    Integer and boolean inputs are accepted (``[1, 0]`` is a fine distribution) and become float64;
    floating inputs keep their dtype so that large float32 batches are not copied up front.
    """
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError) as exc:  # ragged nested lists and the like
        raise TypeError(f"{name} must be an array of real numbers; got {_short(x)} ({exc})") from None
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    elif arr.dtype.kind != "f":
        raise TypeError(f"{name} must contain real numbers; got dtype {arr.dtype} ({_short(x)})")
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s) (an event axis); got a {arr.ndim}-d "
            f"value {_short(x)}"
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); a distribution needs at least one outcome")
    return arr


def check_axis(axis: Any, ndim: int, name: str) -> int:
    """Return ``axis`` as a non-negative index into an array of ``ndim`` dimensions."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
        raise TypeError(f"axis must be an integer; got {axis!r}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"axis {axis} is out of range for {name} with {ndim} dimension(s)")
    return int(axis) % ndim


def check_base(base: Any) -> float:
    """Return the divisor ``log(base)`` that converts nats to the requested unit (1.0 for nats)."""
    if base is None:
        return 1.0
    if isinstance(base, bool) or not isinstance(base, numbers.Real):
        raise TypeError(f"base must be a real number or None; got {base!r}")
    if not math.isfinite(base) or base <= 0 or base == 1:
        raise ValueError(f"base must be positive, finite and not 1; got {base!r}")
    return math.log(base)


_DEFAULT_ATOL: dict[Any, float] = {}


def default_atol(dtype: np.dtype) -> float:
    """The documented tolerance for a row sum: the square root of the dtype's machine epsilon.

    That is 1.5e-8 for float64 and 3.5e-4 for float32: loose enough for a softmax computed in
    float32, tight enough to catch a row that is not a distribution (0.9, or 1.1).
    """
    try:
        return _DEFAULT_ATOL[dtype]  # np.finfo takes microseconds; one small call has few to spare
    except (KeyError, TypeError):
        pass
    eps = np.finfo(dtype if np.dtype(dtype).kind == "f" else np.float64).eps
    value = float(np.sqrt(eps))
    try:
        _DEFAULT_ATOL[dtype] = value
    except TypeError:  # an unhashable dtype-like: just do not cache it
        pass
    return value


def check_atol(atol: Any, dtype: np.dtype) -> float:
    """Return the row-sum tolerance: ``atol`` itself, or :func:`default_atol` when it is None."""
    if atol is None:
        return default_atol(dtype)
    if isinstance(atol, bool) or not isinstance(atol, numbers.Real):
        raise TypeError(f"atol must be a real number or None; got {atol!r}")
    if not math.isfinite(atol) or atol < 0:
        raise ValueError(f"atol must be finite and non-negative; got {atol!r}")
    return float(atol)


def event_layout(
    arrays: dict[str, NDArray[Any]], axis: int
) -> tuple[list[NDArray[Any]], tuple[int, ...], int]:
    """Broadcast named arrays over their batch axes and flatten them to ``(rows, events)``.

    The event axis (``axis``) must have the same length in every array: it is never broadcast, since
    stretching a one-outcome "distribution" over K outcomes is always a mistake. The other (batch)
    axes broadcast by NumPy's rules. Returns the 2-d views, the batch shape and the event length.
    """
    names = list(arrays)
    moved = {}
    for name, arr in arrays.items():
        if arr.ndim == 0:
            raise ValueError(f"{name} must have an event axis; got the scalar {arr!r}")
        ax = check_axis(axis, arr.ndim, name)
        # moveaxis costs microseconds, which matter for one small call (issue 11): skip it when the
        # event axis is already last.
        moved[name] = arr if ax == arr.ndim - 1 else np.moveaxis(arr, ax, -1)
    lengths = {name: arr.shape[-1] for name, arr in moved.items()}
    if len(set(lengths.values())) > 1:
        desc = " and ".join(f"{n} has {k}" for n, k in lengths.items())
        raise ValueError(f"the event axis (axis={axis}) must have the same length in each input; {desc}")
    k = lengths[names[0]]
    shapes = {arr.shape for arr in moved.values()}
    if len(shapes) == 1:  # the common case, without broadcasting's overhead
        batch = next(iter(shapes))[:-1]
        return [arr.reshape(-1, k) for arr in moved.values()], batch, k
    try:
        batch = np.broadcast_shapes(*(arr.shape[:-1] for arr in moved.values()))
    except ValueError:
        desc = ", ".join(f"{n} has shape {arrays[n].shape}" for n in names)
        raise ValueError(f"the inputs' batch shapes do not broadcast: {desc}") from None
    flat = [np.broadcast_to(arr, batch + (k,)).reshape(-1, k) for arr in moved.values()]
    return flat, batch, k


def format_index(row: int, col: int, batch: tuple[int, ...], axis: int, ndim: int) -> tuple[int, ...]:
    """Turn a (row, event) position in the flattened layout back into an index of the input."""
    batch_index = list(np.unravel_index(row, batch)) if batch else []
    ax = axis % ndim
    batch_index.insert(ax, col)
    return tuple(int(i) for i in batch_index)


def _short(x: Any, limit: int = 60) -> str:
    text = repr(x)
    return text if len(text) <= limit else text[: limit - 3] + "..."
