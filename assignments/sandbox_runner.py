"""Run one submission inside the grading sandbox and answer the grader's questions with plain data.

``assignments/kit.py grade`` starts this file with the course's Python inside a bubblewrap sandbox
(no network, no writable path but a scratch tmpfs, its own PID namespace) and talks to it over
stdin/stdout, one JSON object a line:

1. ``{"op": "run", "cells": [...], "timeout": S}``: execute the submission's code cells in order
   in an IPython shell (magics work, as in Jupyter); a cell that raises is recorded and the next
   one runs; a cell that runs longer than S seconds is interrupted (a timer raises
   :class:`CellTimeout` in it). Answer: the errors and the cells that were stopped.
2. ``{"op": "get", "name": N}``, ``{"op": "call", "handle": H, "args": [...], "kwargs": {...}}``,
   ``{"op": "getattr", ...}``, ``{"op": "getitem", ...}``: look up a name the tests need, call one
   of the submission's functions on inputs the grader sends, and so on. Every answer is *plain
   data* (numbers, strings, NumPy arrays of numbers, lists, tuples and dicts of those) or a handle,
   a number that stands for any other object and stays here.

No test runs here and no test is ever here: the grader compares the answers with the expected ones
in its own process. Whatever the submission does to this process (patching NumPy, this module, the
answers), all it can send back is data, which the grader checks like any other answer.

The same module encodes and decodes that data for the grader (:func:`encode`, :func:`decode`).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import sys
import time
import traceback
from typing import Any

NUMERIC_KINDS = "biufc"  # bool, int, unsigned, float, complex: the array dtypes that may cross
MAX_TEXT = 2000


class _Missing(Exception):
    """A name the tests need is not defined in the submission."""


class CellTimeout(BaseException):
    """Raised inside a cell or a call that ran past its time limit (BaseException: a bare
    ``except Exception`` in the submission does not swallow it)."""


# ------------------------------------------------------------------------------- the wire format


def _array(a: Any) -> dict[str, Any]:
    import numpy as np

    a = np.asarray(a)
    if a.dtype.kind not in NUMERIC_KINDS:
        raise TypeError(f"arrays of dtype {a.dtype} do not cross the sandbox")
    return {"__ndarray__": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode("ascii"),
            "dtype": a.dtype.str, "shape": list(a.shape)}


def encode(value: Any, handles: dict[int, Any] | None = None) -> Any:
    """Plain data as JSON; any other object as a handle (kept in ``handles``) when given one."""
    np = sys.modules.get("numpy")
    if value is None or type(value) in (bool, str):
        return value
    if value is Ellipsis:  # what an untouched hand-out's `x = ...` leaves
        return {"__ellipsis__": True}
    if type(value) is int:
        return value if abs(value) < 2**53 else {"__int__": str(value)}
    if type(value) is float:
        return value if value == value and abs(value) != float("inf") else {"__float__": repr(value)}
    if type(value) is complex:
        return {"__complex__": [repr(value.real), repr(value.imag)]}
    if type(value) in (list, tuple):
        items = [encode(v, handles) for v in value]
        return items if type(value) is list else {"__tuple__": items}
    if type(value) is dict and all(type(k) is str for k in value):
        return {"__dict__": [[k, encode(v, handles)] for k, v in value.items()]}
    if np is not None:
        if isinstance(value, np.generic) and value.dtype.kind in NUMERIC_KINDS:
            return {"__npscalar__": _array(np.asarray(value))}
        if isinstance(value, np.ndarray) and value.dtype.kind in NUMERIC_KINDS:
            return _array(value)
        # Tensors of the frameworks the course uses become NumPy arrays (what the tests compare).
        module = type(value).__module__.split(".")[0]
        if module in ("tensorflow", "keras", "jax", "jaxlib", "torch") and hasattr(value, "__array__"):
            with _suppress():
                array = np.asarray(value)
                if array.dtype.kind in NUMERIC_KINDS:
                    return _array(array)
    if handles is None:
        raise TypeError(f"a {type(value).__name__} is not plain data")
    handles[id(value)] = value
    return {"__handle__": id(value), "type": _type_name(value), "callable": callable(value)}


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: Any) -> bool:
        return exc[0] is not None and issubclass(exc[0], Exception)


def _type_name(value: Any) -> str:
    with _suppress():
        return str(type(value).__name__)[:100]
    return "object"


def decode(data: Any, remote: Any = None, max_items: int = 10**8) -> Any:
    """The inverse of :func:`encode`. ``remote(handle, type, callable)`` makes the object that
    stands for a handle; without it handles are refused. Only builtin and NumPy numeric types
    come out, whatever the input: nothing here runs code that the data names."""
    import numpy as np

    if data is None or type(data) in (bool, int, float, str):
        return data
    if type(data) is list:
        return [decode(v, remote, max_items) for v in data]
    if type(data) is not dict or len(data) == 0:
        raise ValueError(f"not plain data: {type(data).__name__}")
    if "__ellipsis__" in data:
        return Ellipsis
    if "__tuple__" in data:
        return tuple(decode(v, remote, max_items) for v in data["__tuple__"])
    if "__dict__" in data:
        return {str(k): decode(v, remote, max_items) for k, v in data["__dict__"]}
    if "__float__" in data:
        return float(str(data["__float__"]))
    if "__int__" in data:
        return int(str(data["__int__"])[:400])
    if "__complex__" in data:
        re_, im = data["__complex__"]
        return complex(float(str(re_)), float(str(im)))
    if "__npscalar__" in data:
        return decode(data["__npscalar__"], remote, max_items)[()]
    if "__ndarray__" in data:
        dtype = np.dtype(str(data["dtype"]))
        if dtype.kind not in NUMERIC_KINDS or dtype.hasobject:
            raise ValueError(f"arrays of dtype {dtype} are refused")
        shape = tuple(int(n) for n in data["shape"])
        if any(n < 0 for n in shape) or int(np.prod(shape, dtype=np.int64)) > max_items:
            raise ValueError(f"an array of shape {shape} is refused")
        raw = base64.b64decode(str(data["__ndarray__"]), validate=True)
        return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
    if "__handle__" in data and remote is not None:
        return remote(int(data["__handle__"]), str(data.get("type", "object"))[:100],
                      bool(data.get("callable")))
    raise ValueError(f"not plain data: keys {sorted(data)[:5]}")


# ------------------------------------------------------------------------------- in the sandbox


def _short(text: Any, limit: int = MAX_TEXT) -> str:
    text = str(text)
    return text if len(text) <= limit else text[:limit] + " [...]"


def _describe_error(e: BaseException) -> dict[str, str]:
    return {"type": _short(type(e).__name__, 100), "message": _short(e)}


class _Timer:
    """Raise CellTimeout in the main thread after ``seconds`` (SIGALRM)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def __enter__(self) -> None:
        def on_alarm(signum: int, frame: Any) -> None:
            raise CellTimeout()

        signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)

    def __exit__(self, *exc: Any) -> None:
        signal.setitimer(signal.ITIMER_REAL, 0)


def serve() -> None:
    # The protocol keeps private copies of stdin/stdout; fds 0-2 then point at a log on the
    # scratch tmpfs, so what the submission prints (even with os.write) never reaches the grader.
    proto_in = os.fdopen(os.dup(0), "rb")
    proto_out = os.fdopen(os.dup(1), "wb")
    # /tmp is the sandbox's own tmpfs under bubblewrap; elsewhere TMPDIR is the scratch folder.
    log = os.open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "submission-output.log"),
                  os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdin = open(os.devnull)
    sys.stdout = sys.stderr = os.fdopen(os.dup(log), "w", buffering=1, errors="replace")

    def send(message: dict[str, Any]) -> None:
        proto_out.write(json.dumps(message, allow_nan=False).encode() + b"\n")
        proto_out.flush()

    handles: dict[int, Any] = {}
    shell = None
    for line in proto_in:
        request = json.loads(line)
        op, rid = request.get("op"), request.get("id")
        if op == "run":
            from IPython.core.interactiveshell import InteractiveShell

            shell = InteractiveShell.instance()
            send({"id": rid, **run_cells(shell, request["cells"], float(request["timeout"]), send)})
            continue
        if op == "bye":
            break
        timeout = float(request.get("timeout", 60))
        try:
            with _Timer(timeout):
                value = answer(op, request, shell, handles)
            reply = {"id": rid, "value": encode(value, handles)}
        except CellTimeout:
            reply = {"id": rid, "timeout": timeout}
        except _Missing:
            reply = {"id": rid, "missing": True}
        except BaseException as e:  # the submission's own error, reported as data
            reply = {"id": rid, "error": _describe_error(e)}
        try:
            send(reply)
        except (TypeError, ValueError) as e:  # e.g. a dict with non-string keys deep inside
            send({"id": rid, "error": _describe_error(e)})


def answer(op: str, request: dict[str, Any], shell: Any, handles: dict[int, Any]) -> Any:
    if op == "get":
        namespace = shell.user_ns if shell is not None else {}
        name = request["name"]
        if name not in namespace:
            raise _Missing(name)
        return namespace[name]
    target = handles[int(request["handle"])]

    def remote(handle: int, type_name: str, is_callable: bool) -> Any:
        return handles[handle]

    if op == "call":
        args = decode(request.get("args", []), remote)
        kwargs = decode(request.get("kwargs", {"__dict__": []}), remote)
        return target(*args, **kwargs)
    if op == "getattr":
        return getattr(target, str(request["attr"]))
    if op == "getitem":
        return target[decode(request["key"], remote)]
    raise ValueError(f"unknown request {op!r}")


def run_cells(shell: Any, cells: list[str], timeout: float, send: Any) -> dict[str, Any]:
    errors, timed_out = [], []
    for index, source in enumerate(cells):
        send({"op": "cell", "index": index, "start": time.time()})  # the grader's watchdog
        try:
            with _Timer(timeout):
                result = shell.run_cell(source, store_history=False, silent=False)
            error = result.error_before_exec or result.error_in_exec
        except CellTimeout:
            timed_out.append(index)
            continue
        if isinstance(error, CellTimeout):
            timed_out.append(index)
        elif error is not None:
            errors.append({"index": index, "ename": _short(type(error).__name__, 100),
                           "evalue": _short(error, 300)})
    return {"op": "ran", "errors": errors, "timed_out": timed_out}


if __name__ == "__main__":
    try:
        serve()
    except BaseException:
        traceback.print_exc()
    sys.stdout.flush()
    os._exit(0)
