"""`python -m bench.grpc_silent_streams`: why the service keeps grpcio's asyncio server though
its thread-pool server costs half the CPU a call (`python -m bench.transports`).

grpcio's sync server hands a call to a pool thread as soon as its headers arrive, and the
thread then waits for the request message. A client that opens streams and sends nothing
more (a gRPC slowloris: no credential is needed, the message never comes) holds one thread
each until its deadline, which it need not set; once the pool is taken, every other call
waits. The asyncio server waits for a message without holding anything but the stream. Both
are bench/grpc_sink.py's bare servers answering a constant; the figure is how long one good
call takes while `--silent` streams are open.
"""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator

import grpc

from bench.runner import free_port
from bench.transports import INFER, grpc_frame, grpcio_sink


def good_call_seconds(sync: bool, silent: int, timeout: float) -> float | None:
    """Seconds one ModelInfer takes while `silent` streams have sent only their headers, or
    None when it got no answer within `timeout`."""
    port = free_port()
    stop = threading.Event()

    def nothing() -> Iterator[bytes]:  # a stream whose message never comes
        stop.wait()
        yield from ()

    own = [("grpc.use_local_subchannel_pool", 1)]  # a connection each, as two clients
    with (
        grpcio_sink(port, sync=sync),
        grpc.insecure_channel(f"127.0.0.1:{port}", options=own) as attacker,
        grpc.insecure_channel(f"127.0.0.1:{port}", options=own) as client,
    ):
        for channel in (attacker, client):
            grpc.channel_ready_future(channel).result(timeout=30)
        client.unary_unary(INFER)(grpc_frame(1)[5:], timeout=30)  # warm: the first is slow
        streams = [attacker.stream_unary(INFER).future(nothing()) for _ in range(silent)]
        time.sleep(1.0)  # every stream's headers at the server
        started = time.perf_counter()
        try:
            client.unary_unary(INFER)(grpc_frame(1)[5:], timeout=timeout)
            return time.perf_counter() - started
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
                raise
            return None
        finally:
            stop.set()
            for stream in streams:
                stream.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.grpc_silent_streams", description=__doc__
    )
    parser.add_argument("--silent", type=int, default=16, help="streams that send nothing")
    parser.add_argument("--timeout", type=float, default=5.0, help="the good call's deadline")
    args = parser.parse_args()
    print(f"| server | one good call while {args.silent} streams send nothing |")
    print("|---|---|")
    for sync, name in (
        (False, "grpc.aio.server (the service's)"),
        (True, "grpc.server, 8 threads"),
    ):
        seconds = good_call_seconds(sync, args.silent, args.timeout)
        answer = (
            f"no answer in {args.timeout:g} s" if seconds is None else f"{seconds * 1000:.1f} ms"
        )
        print(f"| {name} | {answer} |")


if __name__ == "__main__":
    main()
