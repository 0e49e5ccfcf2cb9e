"""Reading a disk that may not answer: only regular files are read (a FIFO is refused without
blocking), and a call that hangs costs its caller the deadline, one thread, and nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import threading
import time
from pathlib import Path

import pytest

from service.repository.disk import Disk, DiskTimeout, NotARegularFile, TooLarge, read_regular_file


def test_a_regular_file_is_read_whole_and_a_link_to_one_too(tmp_path: Path) -> None:
    (tmp_path / "model.onnx").write_bytes(b"x" * 100_000)
    (tmp_path / "link.onnx").symlink_to(tmp_path / "model.onnx")
    assert read_regular_file(tmp_path / "model.onnx", 100_000) == b"x" * 100_000
    assert read_regular_file(tmp_path / "link.onnx", 100_000) == b"x" * 100_000
    with pytest.raises(TooLarge):
        read_regular_file(tmp_path / "model.onnx", 99_999)


@pytest.mark.parametrize(
    ("make", "kind"),
    [(os.mkfifo, "a FIFO"), (os.mkdir, "a folder")],
    ids=["fifo", "folder"],
)
def test_what_is_not_a_regular_file_is_refused_without_blocking(
    tmp_path: Path, make: object, kind: str
) -> None:
    path = tmp_path / "model.onnx"
    make(path)  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(NotARegularFile, match=kind):
        read_regular_file(path, 1000)
    assert time.monotonic() - started < 1  # a FIFO's blocking open would wait for a writer
    (tmp_path / "link").symlink_to(path)
    with pytest.raises(NotARegularFile):
        read_regular_file(tmp_path / "link", 1000)


def test_a_call_that_hangs_costs_the_deadline_and_blocks_only_its_own_key() -> None:
    release = threading.Event()
    disk = Disk(timeout_s=0.2)

    async def scenario() -> None:
        started = time.monotonic()
        with pytest.raises(DiskTimeout, match="no answer within 0.2 s"):
            await disk.call("stuck", release.wait, 10)
        assert 0.15 < time.monotonic() - started < 1
        started = time.monotonic()
        with pytest.raises(DiskTimeout, match="no answer to a read started"):
            await disk.call("stuck", release.wait, 10)  # no second thread for it
        assert time.monotonic() - started < 0.05
        assert await disk.call("other", sum, [1, 2]) == 3
        release.set()
        await asyncio.sleep(0.05)
        assert await disk.call("stuck", sum, [3]) == 3  # free again once it returned

    asyncio.run(scenario())


def test_hung_calls_are_bounded_in_number_and_calls_that_answer_are_not() -> None:
    release = threading.Event()
    disk = Disk(timeout_s=0.05, max_abandoned=3)

    async def scenario() -> None:
        slow = [disk.call(f"slow{i}", time.sleep, 0.02) for i in range(10)]
        assert await asyncio.gather(*slow) == [None] * 10  # many at once, none hung
        for key in "abc":
            with pytest.raises(DiskTimeout):
                await disk.call(key, release.wait, 10)
        threads = threading.active_count()
        with pytest.raises(DiskTimeout, match="no answer to 3 earlier reads"):
            await disk.call("d", sum, [1])
        assert threading.active_count() == threads

    try:
        asyncio.run(scenario())
    finally:
        release.set()


def test_errors_reach_the_caller() -> None:
    async def scenario() -> None:
        with pytest.raises(FileNotFoundError):
            await Disk(1).call("k", os.stat, "/nonexistent/path")

    asyncio.run(scenario())


def test_a_cancelled_caller_is_cancelled_even_as_the_answer_arrives() -> None:
    """Python 3.11's asyncio.wait_for drops such a cancellation a third of the time here, and
    a watcher cancelled at shutdown would then run on, holding the server open."""
    disk = Disk(timeout_s=5)

    async def scenario() -> int:
        kept_running = 0
        for i in range(500):
            task = asyncio.create_task(disk.call(f"k{i}", time.sleep, 0.0005))
            await asyncio.sleep(random.uniform(0, 0.002))
            if task.cancel():
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                    kept_running += 1  # the call ran to its end despite the cancel
            else:
                await task
        return kept_running

    assert asyncio.run(scenario()) == 0


def test_calls_for_one_key_may_overlap_while_none_has_timed_out() -> None:
    """A rescan reading a folder while a control action writes into it: both answer."""
    disk = Disk(timeout_s=2)

    async def scenario() -> list[object]:
        return await asyncio.gather(*(disk.call("folder", time.sleep, 0.05) for _ in range(4)))

    assert asyncio.run(scenario()) == [None] * 4
