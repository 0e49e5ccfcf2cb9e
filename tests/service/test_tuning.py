"""Process tuning: the C allocator keeps freed request buffers for the next request."""

from __future__ import annotations

import subprocess
import sys

import pytest

from service.tuning import keep_freed_memory

# Allocate and touch an 8 MB buffer, free it, and print how much of it stayed resident.
PROBE = """
import os, sys
from service.tuning import keep_freed_memory
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
