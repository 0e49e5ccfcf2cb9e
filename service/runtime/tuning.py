"""Process-wide tuning, applied once the models are loaded: the garbage collector and the
C allocator, both set for a server whose requests allocate and free the same large buffers
over and over."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import os

log = logging.getLogger("logitserve")

# glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_MAX = 32 * 1024 * 1024  # glibc refuses more on 64-bit


def tune_garbage_collector() -> None:
    """Everything alive after start-up (modules, routes, schemas, sessions) lives as long as
    the process: freeze it out of the collector's full passes, and collect the young
    generation less often, which shortens the tail latency (BENCHMARKS.md, Process tuning)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)


def inline_call_s(setting_us: int | None, batching: bool, cpus: int | None = None) -> float:
    """Calls expected to be shorter than this run on the event loop: the setting, or by
    default 1 ms when this process may use one CPU only and batching is on.

    With one CPU the hop to a thread and back overlaps nothing and is pure cost; longer calls
    keep the thread so that a slow model never holds up health checks for long. Without
    batching the thread stays: a handler that never suspends lets uvicorn starve connections
    under overload, where the batcher yields between calls (BENCHMARKS.md, Process tuning)."""
    if setting_us is not None:
        return setting_us / 1e6
    return 0.001 if batching and (cpus or usable_cpus()) == 1 else 0.0


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity: taskset, cpusets), not the machine's."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def keep_freed_memory(mib: int) -> bool:
    """Let glibc keep up to `mib` MiB of freed memory for reuse instead of handing it back.

    A batch of 64 images is a 168 KB body and a dozen arrays of that size: by default glibc
    maps buffers that large afresh and trims them on free, so every request pays page faults
    on memory it used a moment ago (BENCHMARKS.md, Process tuning).
    Returns whether the setting took (False without glibc, or with `mib` 0)."""
    if mib <= 0:
        return False
    libc = _glibc()
    if libc is None:
        return False
    trim, mmap = allocator_thresholds(mib)
    done = bool(libc.mallopt(_M_MMAP_THRESHOLD, mmap)) and bool(
        libc.mallopt(_M_TRIM_THRESHOLD, trim)
    )
    if not done:
        log.warning("could not tune the C allocator (mallopt refused)")
    return done


def allocator_thresholds(mib: int) -> tuple[int, int]:
    """glibc's trim and mmap thresholds, in bytes, that keep `mib` MiB of freed memory."""
    trim = mib * 1024 * 1024
    return trim, min(trim // 2, _MMAP_THRESHOLD_MAX)


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.gnu_get_libc_version  # noqa: B018 -- present only in glibc (musl has mallopt as a no-op)
    except (OSError, AttributeError):
        return None
    return libc
