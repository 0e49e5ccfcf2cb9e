"""Process tuning: the C allocator keeps freed request buffers for the next request."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from service.runtime.tuning import inline_call_s, keep_freed_memory

# Allocate and touch an 8 MB buffer, free it, and print how much of it stayed resident.
PROBE = """
import os, sys
from service.runtime.tuning import keep_freed_memory
print(keep_freed_memory(int(sys.argv[1])))
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
buffer = b"x" * (8 * 1024 * 1024)
before = rss()
del buffer
print((before - rss()) // 1024 // 1024)
"""


def freed_mib(keep_mib: int) -> tuple[str, int]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE, str(keep_mib)], capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], int(out[1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux's")
def test_freed_buffers_stay_with_the_allocator_instead_of_going_back_to_the_system() -> None:
    assert freed_mib(0) == ("False", 8)  # glibc's default: unmapped on free, faulted in again
    assert freed_mib(32) == ("True", 0)  # kept, ready for the next request


def test_zero_leaves_the_allocator_alone() -> None:
    assert keep_freed_memory(0) is False


PINNED = """
import os
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
from service.runtime.tuning import inline_call_s, usable_cpus
print(usable_cpus(), inline_call_s(None, True), inline_call_s(250, True))
"""


@pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity"),
    reason="pinning a process to one CPU needs os.sched_setaffinity (Linux); the choice itself "
    "is tested with cpus=1 below",
)
def test_pinned_to_one_cpu_calls_under_a_millisecond_run_on_the_loop_unless_told_otherwise() -> (
    None
):
    out = subprocess.run(
        [sys.executable, "-c", PINNED], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["1", "0.001", "0.00025"]


def test_with_several_cpus_or_without_batching_every_call_goes_to_the_thread_by_default() -> None:
    assert inline_call_s(None, batching=True, cpus=4) == 0.0
    assert inline_call_s(None, batching=True, cpus=1) == 0.001
    assert inline_call_s(None, batching=False, cpus=1) == 0.0  # nothing would yield the loop
    assert inline_call_s(500, batching=False, cpus=4) == 0.0005  # as told
