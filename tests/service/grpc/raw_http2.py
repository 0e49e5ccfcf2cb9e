"""HTTP/2 frames written by hand (with the `h2` library) to the gRPC port: what a well-behaved
gRPC client never does, for the tests that show the server's limits hold against one that
does: streams past the advertised limit, streams opened and reset in a loop, and a message
sent already gzip'd (an attacker compresses its bomb once, not at every call as grpcio
would)."""

from __future__ import annotations

import gzip
import select
import socket
import struct
import time
from dataclasses import dataclass

import h2.config
import h2.connection
import h2.events
import h2.settings

HEADERS = [
    (":method", "POST"),
    (":scheme", "http"),
    (":path", "/inference.GRPCInferenceService/ServerLive"),
    (":authority", "logitserve"),
    ("content-type", "application/grpc"),
    ("te", "trailers"),
]


@dataclass
class Outcome:
    advertised: int | None = None  # the server's SETTINGS_MAX_CONCURRENT_STREAMS
    opened: int = 0
    refused: int = 0  # streams the server reset
    goaway: bool = False
    alive: bool = True  # the connection still open at the end


class Connection:
    def __init__(self, target: str) -> None:
        host, port = target.rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=10)
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding="utf-8")
        )
        self.h2.initiate_connection()
        self.outcome = Outcome()
        self.ended: set[int] = set()
        self.flush()
        self.read(0.5)  # the server's settings
        self.outcome.advertised = self.h2.remote_settings.max_concurrent_streams
        # Ignore the server's limit, as an attacker would.
        self.h2.remote_settings[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = 2**31 - 1
        self.h2.remote_settings.acknowledge()
        self._next = 1

    def open(self, reset: bool = False, headers: list[tuple[str, str]] = HEADERS) -> int:
        stream = self._next
        self.h2.send_headers(stream, headers, end_stream=False)
        if reset:
            self.h2.reset_stream(self._next)
        self._next += 2
        self.outcome.opened += 1
        return stream

    def flush(self) -> None:
        try:
            self.sock.sendall(self.h2.data_to_send())
        except OSError:
            self.outcome.alive = False

    def read(self, wait: float = 0.0) -> None:
        while self.outcome.alive:
            ready, _, _ = select.select([self.sock], [], [], wait)
            if not ready:
                return
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                self.outcome.alive = False
                return
            for event in self.h2.receive_data(data):
                if isinstance(event, h2.events.StreamEnded | h2.events.StreamReset):
                    self.ended.add(event.stream_id)
                if isinstance(event, h2.events.StreamReset):
                    self.outcome.refused += 1
                elif isinstance(event, h2.events.ConnectionTerminated):
                    self.outcome.goaway = True
            self.flush()
            wait = 0.0

    def close(self) -> None:
        self.sock.close()


def flood(target: str, streams: int) -> Outcome:
    """Header-only streams, never finished, on one connection."""
    connection = Connection(target)
    try:
        for i in range(streams):
            connection.open()
            if i % 100 == 99:
                connection.flush()
                connection.read()
        connection.flush()
        connection.read(1.0)
        return connection.outcome
    finally:
        connection.close()


def rapid_reset(target: str, seconds: float, per_second: float | None = None) -> Outcome:
    """Streams opened and reset at once for `seconds`: as fast as this client can, or at
    `per_second`."""
    connection = Connection(target)
    try:
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < seconds and connection.outcome.alive:
            if per_second is not None and connection.outcome.opened > elapsed * per_second:
                time.sleep(0.01)
                continue
            for _ in range(100):
                connection.open(reset=True)
            connection.flush()
            connection.read()
            if connection.outcome.goaway:
                break
        return connection.outcome
    finally:
        connection.close()


def gzipped_call(target: str, path: str, message: bytes, timeout: float = 30.0) -> Outcome:
    """One unary call whose message goes gzip'd as given (`message` is gzip data already),
    waiting for the server's answer."""
    connection = Connection(target)
    try:
        headers = [*HEADERS[:2], (":path", path), *HEADERS[3:], ("grpc-encoding", "gzip")]
        stream = connection.open(headers=headers)
        frame = b"\x01" + struct.pack(">I", len(message)) + message
        for start in range(0, len(frame), 16384):  # within the 64 KiB window: small bombs
            connection.h2.send_data(stream, frame[start : start + 16384])
        connection.h2.end_stream(stream)
        connection.flush()
        deadline = time.monotonic() + timeout
        while stream not in connection.ended and connection.outcome.alive:
            if time.monotonic() > deadline:
                break
            connection.read(0.1)
        return connection.outcome
    finally:
        connection.close()


def gzip_once(message: bytes) -> bytes:
    return gzip.compress(message, compresslevel=9, mtime=0)
