"""The access log: a line per request in the shape of every other log line, formatted on
the caller and written by a thread of its own in batches; a stalled stderr drops lines,
counted, instead of holding them without bound."""

from __future__ import annotations

import io
import json
import logging
import sys
import threading
from typing import Any

import pytest

from service.edge.access import AccessRecord
from service.edge.access_log import AccessLog
from service.edge.request_context import RequestContext
from service.logs import JsonFormatter
from service.metrics.prometheus import Metrics
from tests.servers import access_logging

CTX = RequestContext("rid-9", False, endpoint="v1_predict", model="mnist", version="2")


class Stalled(io.StringIO):
    """A stderr that blocks its writer until released, noting who wrote."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.writers: set[str] = set()

    def write(self, text: str) -> int:
        self.writers.add(threading.current_thread().name)
        self.release.wait(10)
        return super().write(text)


def lines_of(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]


def test_a_line_has_the_fields_of_every_log_line_and_the_request(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = AccessLog()
    log.write(CTX, "POST", "/v1/models/mnist/predict", 200, 0.0012345)
    log.close()
    [line] = lines_of(capsys.readouterr().err)
    other = json.loads(JsonFormatter().format(logging.makeLogRecord({"msg": "x"})))
    assert set(other) <= set(line)  # ts, level, logger, message as the formatter writes them
    assert len(line["ts"]) == len(other["ts"]) and line["ts"].endswith("Z")
    assert {k: line[k] for k in ("logger", "message", "request_id", "method", "status")} == {
        "logger": "logitserve.access",
        "message": "request",
        "request_id": "rid-9",
        "method": "POST",
        "status": 200,
    }
    assert (line["ms"], line["model"], line["version"]) == (1.234, "mnist", "2")


def test_a_long_or_odd_path_is_cut_and_escaped(capsys: pytest.CaptureFixture[str]) -> None:
    log = AccessLog()
    log.write(CTX, "GET", "/x" * 500, 404, 0.001)
    log.write(CTX, "GET", "/caf\udce9", 404, 0.001)  # what a request line of bad UTF-8 decodes to
    log.close()
    long, odd = lines_of(capsys.readouterr().err)
    assert len(long["path"]) == 200
    assert odd["path"] == "/caf\\udce9"


def test_lines_are_written_by_the_log_thread_not_the_caller(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = Stalled()
    monkeypatch.setattr(sys, "stderr", stream)
    log = AccessLog(interval_s=0.01)
    for _ in range(100):
        log.write(CTX, "POST", "/v1/models/mnist/predict", 200, 0.001)  # never blocks
    stream.release.set()
    log.close()
    assert stream.writers == {"access-log"}
    assert len(stream.getvalue().splitlines()) == 100


def test_a_stalled_stderr_drops_lines_past_the_bound_and_says_how_many(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = Stalled()
    monkeypatch.setattr(sys, "stderr", stream)
    log = AccessLog(interval_s=0.01, max_pending=50)
    log.write(CTX, "POST", "/first", 200, 0.001)
    while not stream.writers:  # the writer holds the first line, stalled in stderr
        threading.Event().wait(0.01)
    for _ in range(80):
        log.write(CTX, "POST", "/v1/models/mnist/predict", 200, 0.001)
    assert log.dropped == 30  # 50 held, never more
    stream.release.set()
    log.close()
    written = lines_of(stream.getvalue())
    assert len([x for x in written if x["message"] == "request"]) == 51
    assert written[-1]["level"] == "warning"
    assert written[-1]["message"].startswith("30 access-log lines dropped")


def test_the_record_writes_nothing_when_the_log_level_is_above_info(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = AccessLog()
    record = AccessRecord(Metrics(), log)
    with access_logging(logging.WARNING):  # --log-level warning
        record.record(CTX, "POST", "/quiet", 200, 0.001)
    with access_logging():
        record.record(CTX, "POST", "/heard", 200, 0.001)
    log.close()
    assert [x["path"] for x in lines_of(capsys.readouterr().err)] == ["/heard"]
