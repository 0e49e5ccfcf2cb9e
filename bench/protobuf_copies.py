"""`python -m bench.protobuf_copies`: what the Python copies of a gRPC request's tensor bytes
cost, to judge whether a copy-free decoding of `raw_input_contents` is worth writing.

A ModelInfer request is parsed as the service parses it (`ModelInferRequest.FromString`,
protobuf's upb backend: the frame is copied into the message's arena once), and each read of
`raw_input_contents[i]` makes a Python `bytes` of it (a second copy). A copy-free decoder
would read the field as a memoryview of the frame: the most it can save is the copy, shown
beside what a whole call costs the server (`python -m bench.transports`)."""

from __future__ import annotations

import argparse
import timeit
from collections.abc import Callable

from bench.transports import grpc_frame
from service.grpc.generated import grpc_service_pb2 as pb


def per_call_us(statement: Callable[[], object], number: int) -> float:
    return min(timeit.repeat(statement, number=number, repeat=5)) / number * 1e6


def measure(rows: int, number: int) -> tuple[int, float, float, float]:
    """Frame bytes; microseconds to parse it, to read its tensor as bytes, to slice it."""
    message = grpc_frame(rows)[5:]  # past gRPC's 5-byte length prefix
    parsed = pb.ModelInferRequest.FromString(message)
    view = memoryview(message)
    raw = parsed.raw_input_contents[0]
    start = message.index(raw)
    parse = per_call_us(lambda: pb.ModelInferRequest.FromString(message), number)
    copy = per_call_us(lambda: parsed.raw_input_contents[0], number)
    zero_copy = per_call_us(lambda: view[start : start + len(raw)], number)
    return len(message), parse, copy, zero_copy


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.protobuf_copies", description=__doc__)
    parser.add_argument("--number", type=int, default=20_000, help="calls per timing")
    args = parser.parse_args()
    print(
        "| rows | request bytes | parse, us | raw_input_contents[0] as bytes, us | "
        "as a memoryview slice, us | most a copy-free decoder saves, us |"
    )
    print("|---|---|---|---|---|---|")
    for rows in (1, 64, 1024):
        size, parse, copy, zero_copy = measure(rows, args.number)
        print(
            f"| {rows} | {size:,} | {parse:.2f} | {copy:.2f} | {zero_copy:.2f} | "
            f"{max(copy - zero_copy, 0.0):.2f} |"
        )


if __name__ == "__main__":
    main()
