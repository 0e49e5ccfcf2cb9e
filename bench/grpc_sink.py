"""The floor of gRPC in Python on this machine: a bare grpc.aio server whose ModelInfer
answers a constant, the same ModelInferResponse for every call of a size (one row's
probabilities, or 64 rows'), without parsing the request. Whatever a call costs here, every
Python gRPC server pays too (the gRPC counterpart of bench/sink_app.py).

With --sync, grpcio's other server: `grpc.server` answering from a thread pool instead of
an asyncio loop, to see which of the two costs less a call before a server is moved to it.

python -m bench.grpc_sink PORT [--sync]"""

from __future__ import annotations

import argparse
import asyncio
from concurrent import futures
from typing import Any

import grpc
import numpy as np

from service.grpc.generated import grpc_service_pb2 as pb

# Requests of more bytes than this carry 64 rows (a row of pixels is 784 bytes).
LARGE = 784 * 8


def response(rows: int) -> bytes:
    answer = pb.ModelInferResponse(model_name="mnist", model_version="1")
    answer.outputs.add(name="probabilities", datatype="FP32", shape=[rows, 10])
    answer.raw_output_contents.append(np.full((rows, 10), 0.1, dtype="<f4").tobytes())
    return answer.SerializeToString()


def constant_service(infer: Any) -> grpc.GenericRpcHandler:
    handler = grpc.unary_unary_rpc_method_handler(infer)  # bytes in, bytes out
    methods = {"ModelInfer": handler}
    return grpc.method_handlers_generic_handler("inference.GRPCInferenceService", methods)


async def serve(port: int) -> None:
    small, large = response(1), response(64)

    async def infer(request: bytes, context: Any) -> bytes:
        return large if len(request) > LARGE else small

    server = grpc.aio.server()
    server.add_generic_rpc_handlers((constant_service(infer),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def serve_sync(port: int, threads: int = 8) -> None:
    small, large = response(1), response(64)

    def infer(request: bytes, context: Any) -> bytes:
        return large if len(request) > LARGE else small

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=threads))
    server.add_generic_rpc_handlers((constant_service(infer),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_sink", description=__doc__)
    parser.add_argument("port", type=int)
    parser.add_argument("--sync", action="store_true", help="grpc.server on a thread pool")
    args = parser.parse_args()
    if args.sync:
        serve_sync(args.port)
    else:
        asyncio.run(serve(args.port))
