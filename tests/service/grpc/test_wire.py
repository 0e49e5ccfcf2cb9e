"""Large gRPC messages are parsed only once what parsing costs is known to be bounded: each
message that protobuf would blow up (entries of repeated fields, packed zeros, fields one
number at a time) is refused on its bytes, naming the limit; every other message parses as
protobuf parses it. Against a server process: the bombs cost neither memory that stays nor
seconds of the event loop, and a call refused for its credentials parses nothing."""

from __future__ import annotations

import gzip
import threading
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import grpc
import httpx
import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from service.errors import InvalidInput, PayloadTooLarge
from service.grpc import wire
from service.grpc.generated import grpc_service_pb2 as pb
from tests.builders import standard_repository
from tests.servers import RunningServer, ServerProcess, free_port, running, running_process

MAX_NUMBERS = 8 * 1024 * 1024  # what the gate allows at the default 32 MiB body limit
KEY = "a-key-for-the-wire-tests-7c1e"
INFER = "/inference.GRPCInferenceService/ModelInfer"


def _zeros(count: int) -> bytes:
    """mnist's request with `count` packed zeros in uint_contents: a byte each on the wire."""
    message = pb.ModelInferRequest(model_name="mnist")
    tensor = message.inputs.add(name="pixels", datatype="UINT8", shape=[1, 784])
    tensor.contents.uint_contents.extend([0] * count)
    return message.SerializeToString()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        out.append((value & 0x7F) | (0x80 if value > 0x7F else 0))
        value >>= 7
        if not value:
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited field: inputs (5) of a request, contents (5) of an input."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


BOMBS = {
    # 32 MiB of two-byte entries: each becomes an object of its own when parsed.
    "empty inputs": b"\x2a\x00" * (16 * 2**20),
    "empty outputs": b"\x32\x00" * (16 * 2**20),
    "empty parameters": b"\x22\x00" * (16 * 2**20),
    "empty raw contents": b"\x3a\x00" * (16 * 2**20),
    # Unknown fields and numbers written one field each: steps of the walk, bounded.
    "unknown fields": b"\x78\x00" * (16 * 2**20),
    "unpacked numbers": _field(5, _field(5, b"\x20\x00" * 200_000)),  # uint_contents
}


@pytest.mark.parametrize("name", BOMBS)
def test_messages_whose_entries_would_blow_up_are_refused_on_their_bytes(name: str) -> None:
    with pytest.raises(PayloadTooLarge, match="more than"):
        wire.parse(BOMBS[name], pb.ModelInferRequest, MAX_NUMBERS)


def test_packed_zeros_are_counted_by_the_byte_and_refused_past_the_limit() -> None:
    """The issue's bomb: 30 million zeros, 29 MB on the wire, 270 MB once parsed."""
    with pytest.raises(PayloadTooLarge, match="more than 8388608 numbers"):
        wire.parse(_zeros(30_000_000), pb.ModelInferRequest, MAX_NUMBERS)


@pytest.mark.parametrize(
    "raw",
    [
        b"\x0a\xff\xff\xff\xff\x0f" + b"x" * wire.SMALL_BYTES,  # a length past the end
        b"\x0b" + b"\x00" * wire.SMALL_BYTES,  # a group
        b"\x0a" + b"\xff" * (wire.SMALL_BYTES + 1),  # a varint that never ends
    ],
    ids=["length-past-the-end", "group", "endless-varint"],
)
def test_malformed_messages_are_invalid_input(raw: bytes) -> None:
    with pytest.raises(InvalidInput, match="not valid protobuf"):
        wire.parse(raw, pb.ModelInferRequest, MAX_NUMBERS)


def test_large_messages_within_the_limits_parse_as_protobuf_parses_them() -> None:
    message = pb.ModelInferRequest(model_name="mnist", id="big")
    message.parameters["priority"].int64_param = 3
    tensor = message.inputs.add(name="pixels", datatype="UINT8", shape=[4096, 784])
    tensor.contents.uint_contents.extend((np.arange(4096 * 784) % 256).tolist())
    fp = message.inputs.add(name="features", datatype="FP32", shape=[2, 2])
    fp.contents.fp32_contents.extend([0.5, -1.0, 2.0, 3.5])
    message.outputs.add(name="probabilities").parameters["classification"].int64_param = 3
    message.raw_input_contents.append(b"\x01" * 100_000)
    raw = message.SerializeToString()
    assert len(raw) > wire.SMALL_BYTES
    assert wire.parse(raw, pb.ModelInferRequest, MAX_NUMBERS) == message
    with pytest.raises(PayloadTooLarge, match="more than 1000 numbers"):
        wire.parse(raw, pb.ModelInferRequest, 1000)


def test_small_messages_are_parsed_without_the_walk() -> None:
    message = pb.ModelInferRequest(model_name="tshirt")
    message.inputs.add(name="features", shape=[1, 4]).contents.fp32_contents.extend([1, 2, 3, 4])
    assert wire.parse(message.SerializeToString(), pb.ModelInferRequest, 1) == message


# -- against a server process ----------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, str]]:
    repo = standard_repository(tmp_path_factory.mktemp("repo"))
    port = free_port()
    args = ("--grpc-port", str(port), "--reload-interval-s", "0", "--no-access-log")
    with running_process(repo, *args, api_keys=KEY) as srv:
        yield srv, f"127.0.0.1:{port}"


class Probe:
    """HTTP health checks every 10 ms on a thread: the slowest answer while it runs."""

    def __init__(self, url: str) -> None:
        self.slowest = 0.0
        self._url = url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        with httpx.Client(base_url=self._url, timeout=30) as client:
            while not self._stop.is_set():
                started = time.perf_counter()
                assert client.get("/v2/health/live").status_code == 200
                self.slowest = max(self.slowest, time.perf_counter() - started)
                time.sleep(0.01)

    def __enter__(self) -> Probe:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _bombard(target: str, raw: bytes, key: str | None, times: int) -> list[grpc.StatusCode]:
    codes = []
    metadata = [("authorization", f"Bearer {key}")] if key else []
    options = [("grpc.max_send_message_length", -1)]
    with grpc.insecure_channel(target, options=options) as channel:
        call = channel.unary_unary(INFER)
        for _ in range(times):
            try:
                call(raw, metadata=metadata, compression=grpc.Compression.Gzip, timeout=60)
                codes.append(grpc.StatusCode.OK)
            except grpc.RpcError as error:
                codes.append(error.code())
    return codes


def test_gzipped_bombs_leave_no_memory_behind_and_the_loop_answers_meanwhile(
    server: tuple[ServerProcess, str],
) -> None:
    """Before: three 29 KB gzip'd calls of 30 million zeros left +1.45 GB and held the loop
    2.5-3.6 s each; 30 MB of empty `inputs` entries parse into 1.4 GB."""
    srv, target = server
    before = srv.rss_mb()
    with Probe(srv.url) as probe:
        zeros = _bombard(target, _zeros(30_000_000), KEY, 3)
        entries = _bombard(target, BOMBS["empty inputs"], KEY, 3)
    assert set(zeros) == set(entries) == {grpc.StatusCode.RESOURCE_EXHAUSTED}
    grown = srv.rss_mb() - before
    assert grown < 200, f"the server kept {grown:.0f} MB"
    assert probe.slowest < 1.0, f"health waited {probe.slowest:.2f} s"


def test_a_call_refused_for_its_credentials_parses_nothing_and_keeps_nothing(
    server: tuple[ServerProcess, str],
) -> None:
    """Before: each unkeyed bomb parsed before the key was checked, +220-300 MB kept."""
    srv, target = server
    _bombard(target, BOMBS["empty inputs"], None, 1)  # the allocator's first helping
    before = srv.rss_mb()
    codes = _bombard(target, BOMBS["empty inputs"], None, 8)
    assert set(codes) == {grpc.StatusCode.UNAUTHENTICATED}
    grown = srv.rss_mb() - before
    assert grown < 100, f"eight refused calls kept {grown:.0f} MB"


def test_a_gzipped_message_past_the_size_limit_is_refused_once_inflated(
    tmp_path: Path,
) -> None:
    """grpcio inflates before our code sees the bytes: its limit holds the inflated size."""
    repo = standard_repository(tmp_path / "repo")
    port = free_port()
    args = ("--grpc-port", str(port), "--reload-interval-s", "0", "--max-body-bytes", "1000000")
    with running_process(repo, *args):
        codes = _bombard(f"127.0.0.1:{port}", _zeros(2_000_000), None, 1)
    assert codes == [grpc.StatusCode.RESOURCE_EXHAUSTED]


# -- compressed messages, inflated here ---------------------------------------------------


@pytest.fixture(scope="module")
def grpc_server(repository: Path) -> Iterator[RunningServer]:
    with running(repository, reload_interval_s=0, grpc_port=free_port()) as srv:
        yield srv


def test_gzip_and_zlib_messages_are_inflated_and_plain_ones_left_as_they_are() -> None:
    plain = pb.ModelInferRequest(model_name="mnist").SerializeToString()
    assert wire.inflated(gzip.compress(plain), 1000) == plain
    assert wire.inflated(zlib.compress(plain), 1000) == plain
    assert wire.inflated(plain, 1000) == plain
    assert not wire.compressed(plain)
    # Starts like a zlib header (0x78 0x01), but is a message with an unknown field 15.
    lookalike = b"\x78\x01" + plain
    assert wire.compressed(lookalike) and wire.inflated(lookalike, 1000) == lookalike


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (gzip.compress(b"\x00" * 5000), PayloadTooLarge, "inflates past the limit of 1000"),
        (gzip.compress(b"\x0a\x01x") + b"junk", InvalidInput, "more after its end"),
        (gzip.compress(b"\x0a\x01x") * 2, InvalidInput, "more after its end"),
        (gzip.compress(b"\x0a\x01x")[:-4], InvalidInput, "truncated"),
    ],
    ids=["bomb", "trailing-bytes", "second-member", "truncated"],
)
def test_compressed_messages_are_inflated_within_the_limit_and_whole(
    data: bytes, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        wire.inflated(data, 1000)


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
def test_stock_clients_that_compress_are_answered_as_the_others(
    grpc_server: RunningServer, algorithm: str
) -> None:
    """grpcio's own inflating is off (it ran on the event loop); ours reads both codings."""
    client = grpcclient.InferenceServerClient(url=grpc_server.grpc_target)
    tensor = grpcclient.InferInput("features", [2, 4], "FP32")
    tensor.set_data_from_numpy(np.arange(8, dtype=np.float32).reshape(2, 4))
    plain = client.infer("tshirt", [tensor]).as_numpy("probabilities")
    packed = client.infer("tshirt", [tensor], compression_algorithm=algorithm)
    assert np.array_equal(packed.as_numpy("probabilities"), plain)
    client.close()
