"""Row-wise reductions over large batches, one cache-sized block of rows at a time.

Working on blocks of about 256k elements keeps the float64 temporaries in the processor's cache
instead of allocating several arrays the size of the whole batch, and lets two or more threads work
on different blocks at once (NumPy releases the GIL inside its loops). Each block's result depends
only on its own rows, so the numbers are the same whatever the number of threads.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np
from numpy.typing import NDArray

#: Elements per block: 2 MB per float64 temporary. Smaller blocks fit L2 better but pay more Python
#: overhead per element, which also serialises threads on the GIL; 2**18 was fastest here.
BLOCK_ELEMENTS = 1 << 18
#: Below this many elements (two blocks) a thread pool costs more than it saves.
THREAD_MIN_ELEMENTS = 1 << 19


_local = threading.local()


def scratch(slot: int, shape: tuple[int, ...]) -> NDArray[np.float64]:
    """A float64 work array of ``shape``, reused by the calling thread for every block.

    Allocating fresh block-sized temporaries would map and unmap memory for every block (they are
    above malloc's mmap threshold), and in a multi-threaded process each unmap stalls every core.
    """
    n = 1
    for d in shape:
        n *= d
    bufs: dict[int, NDArray[np.float64]] = getattr(_local, "bufs", None) or {}
    buf = bufs.get(slot)
    if buf is None or buf.size < n:
        buf = bufs[slot] = np.empty(max(n, BLOCK_ELEMENTS), dtype=np.float64)
        _local.bufs = bufs
    return buf[:n].reshape(shape)


def _workers() -> int:
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        n = os.cpu_count() or 1
    return max(1, min(n, 8))


def rowwise(
    kernel: Callable[..., NDArray[np.float64]],
    arrays: list[NDArray[Any]],
) -> NDArray[np.float64]:
    """Apply ``kernel(start, *blocks) -> per-row float64`` over row blocks of 2-d ``arrays``.

    ``start`` is the index of the block's first row, so a kernel can report where bad input is.
    Exceptions propagate from the first failing block in row order, so error messages do not depend
    on thread scheduling.
    """
    n_rows, k = arrays[0].shape
    step = max(1, BLOCK_ELEMENTS // max(k, 1))
    if n_rows <= step:  # one block: no output buffer, no closure (a small call's overhead, issue 11)
        return kernel(0, *arrays)
    out = np.empty(n_rows, dtype=np.float64)
    starts = range(0, n_rows, step)

    def run(start: int) -> None:
        stop = min(start + step, n_rows)
        out[start:stop] = kernel(start, *(a[start:stop] for a in arrays))

    workers = _workers()
    if workers > 1 and n_rows * k >= THREAD_MIN_ELEMENTS and len(starts) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for _ in pool.map(run, starts):
                pass
    else:
        for start in starts:
            run(start)
    return out
