"""A version loads first in a process of its own, and only then in the server.

ONNX Runtime folds a graph's constants when it creates a session, and runs whatever loops a
graph holds: a 30 KB graph can take a gigabyte to load (a ConstantOfShape of 300 M floats) or
a minute per warm-up call (a Loop), and no Python code can interrupt either. So the session
is created and the warm-up batches run first in `load_probe.py`'s process, under an
address-space limit a little above the memory allowed, killed at the load deadline; what it
measured (its peak resident memory above where it started) decides. A version over either
limit is not ready, with the reason, and the server never spent the memory, a thread or the
time on it; a graph that crashes ONNX Runtime ends that process, not the server.

The cost: a Python start and onnxruntime's import per version loaded, about 0.25 s of a CPU.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass

from modelrepo.manifest import Manifest
from service.repository.folders import LoadError

MIB = 1024 * 1024


@dataclass(frozen=True)
class LoadCheck:
    """The limits a version must load and warm up within: `memory_bytes` of memory above
    what the process had, and `timeout_s` (checked against the deadline it is given)."""

    memory_bytes: int
    timeout_s: float

    def run(self, model: bytes, manifest: Manifest, deadline: float) -> None:
        """Returns when the version loaded within the limits (or failed in a way the server's
        own load will describe); LoadError naming the limit it broke otherwise."""
        spec = manifest.input
        command = [
            sys.executable,
            "-m",
            "service.runtime.load_probe",
            spec.name,
            spec.datatype,
            ",".join(str(d) for d in spec.row_shape),
            str(self.memory_bytes),
            str(max(deadline - time.monotonic(), 0.0)),
        ]
        # Two malloc arenas: fewer address-space reservations counted against the limit.
        environment = {**os.environ, "MALLOC_ARENA_MAX": "2"}
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=environment,
        )
        try:
            out, _ = process.communicate(model, timeout=max(deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise LoadError(self.too_slow()) from None
        except BaseException:
            process.kill()
            process.communicate()
            raise
        self._judge(process.returncode, out)

    def too_slow(self) -> str:
        return (
            f"it did not load and warm up within {self.timeout_s:g} s (--load-timeout-s): "
            "a graph that slow would hold up every request"
        )

    def _judge(self, returncode: int, out: bytes) -> None:
        limit = f"the limit of {self.memory_bytes / MIB:g} MiB (--max-load-memory-mib)"
        if returncode < 0:
            killed = signal.Signals(-returncode).name if -returncode in _SIGNALS else returncode
            raise LoadError(
                f"ONNX Runtime ended the process checking it ({killed}) while loading it or "
                f"running its warm-up: a graph that crashes it or takes more than {limit}"
            )
        last = out.decode("utf-8", "replace").strip().rpartition("\n")[2]
        word, _, rest = last.partition(" ")
        if returncode != 0 or word not in ("peak", "failed"):
            raise LoadError(f"the process checking it failed (exit status {returncode})")
        if word == "failed":
            if "alloc" in rest.lower():
                raise LoadError(
                    f"it cannot load and warm up within {limit}: ONNX Runtime could not "
                    "allocate the memory it asked for"
                )
            return  # refused for another reason: the server's own load says why, in its words
        peak = int(rest)
        if peak > self.memory_bytes:
            raise LoadError(
                f"it takes {peak / MIB:.0f} MiB of memory to load and warm up, over {limit}"
            )


_SIGNALS = {s.value for s in signal.Signals}
