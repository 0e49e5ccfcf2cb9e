"""The load check's own process (`python -m service.runtime.load_probe`, started by
load_check.py): ONNX Runtime creates the session of the model on stdin and runs the warm-up
batches, under an address-space limit, and the process says on its last line of output how
much memory that took: `peak BYTES`, or `failed WHY` when ONNX Runtime refused.

It imports onnxruntime and numpy only (a quick start), and serves nothing: a graph that makes
ONNX Runtime allocate gigabytes, loop for minutes or crash ends this process, not the server.

    python -m service.runtime.load_probe INPUT DATATYPE DIMS MEMORY_BYTES SECONDS < model.onnx

The server kills it at the deadline; should the server itself die first, the process dies
with it (Linux), and in any case its CPU time is capped a little past SECONDS.
"""

from __future__ import annotations

import contextlib
import ctypes
import math
import resource
import shutil
import signal
import sys
import tempfile

import numpy as np
import onnxruntime as ort

from service.runtime.session_options import session_options
from service.runtime.warm_up import batches

# Address space a process reserves without using it (thread stacks, the allocator's arenas):
# the limit is this much above the memory allowed, and the measured peak decides.
SLACK_BYTES = 256 * 1024 * 1024
CPU_SLACK_S = 5  # the server's own kill at the deadline comes first
_PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    name, datatype, dims, memory, seconds = argv
    _end_with_the_server(float(seconds))
    row_shape = tuple(int(d) for d in dims.split(","))
    model = sys.stdin.buffer.read()
    _limit_address_space(int(memory) + SLACK_BYTES)
    ort.set_default_logger_severity(4)  # its errors are reported on the last line, once
    folder = tempfile.mkdtemp(prefix="logitserve-check-")
    before = _start_measuring()
    try:
        session = ort.InferenceSession(
            model, session_options(1, folder), providers=["CPUExecutionProvider"]
        )
        inputs = session.get_inputs()
        # A graph that disagrees with its manifest is refused by the server's own checks,
        # which say what disagrees; only a graph they would run is run here.
        if len(inputs) == 1 and inputs[0].name == name:
            fixed = inputs[0].shape[0] if isinstance(inputs[0].shape[0], int) else None
            for _, rows in batches(datatype, row_shape):
                _run(session, name, rows, fixed)
    except Exception as exc:  # ONNX Runtime raises its own types
        print("failed", " ".join(str(exc).split())[:500], flush=True)
        return
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("peak", max(_peak_bytes() - before, 0), flush=True)


def _run(session: ort.InferenceSession, name: str, rows: np.ndarray, fixed: int | None) -> None:
    """As the server runs a batch (sessions.py): a graph exported for a fixed batch size gets
    chunks of that size, the last one padded."""
    if fixed is None or fixed <= 0:
        session.run(None, {name: rows})
        return
    for start in range(0, len(rows), fixed):
        chunk = rows[start : start + fixed]
        if len(chunk) < fixed:
            pad = np.zeros((fixed - len(chunk), *chunk.shape[1:]), dtype=chunk.dtype)
            chunk = np.concatenate([chunk, pad])
        session.run(None, {name: chunk})


def _end_with_the_server(seconds: float) -> None:
    with contextlib.suppress(OSError, AttributeError):  # Linux only
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    cpu = math.ceil(seconds) + CPU_SLACK_S
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    soft = cpu if hard == resource.RLIM_INFINITY else min(cpu, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _status(field: str) -> int | None:
    """A size from /proc/self/status, in bytes (Linux), or None."""
    try:
        with open("/proc/self/status") as status:
            line = next(line for line in status if line.startswith(field + ":"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError):
        return None


def _start_measuring() -> int:
    """Where the peak is measured from: the resident memory now, its high-water mark reset to
    it (Linux: /proc/self/clear_refs); elsewhere the peak so far (which can only make the
    measured growth smaller, never larger)."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return _peak_bytes()
    return _status("VmRSS") or _peak_bytes()


def _peak_bytes() -> int:
    high = _status("VmHWM")
    if high is not None:
        return high
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak) if sys.platform == "darwin" else int(peak) * 1024  # Linux: KiB


def _limit_address_space(allowed: int) -> None:
    """The process's address space capped at what it has now plus `allowed` (Linux; elsewhere
    the measured peak alone decides)."""
    size = _status("VmSize")
    if size is None:
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = size + allowed if hard == resource.RLIM_INFINITY else min(size + allowed, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


if __name__ == "__main__":
    main(sys.argv[1:])
