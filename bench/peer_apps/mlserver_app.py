"""Seldon MLServer (V2 REST) with the MLP as a custom runtime, inference in the HTTP process
(parallel_workers=0), its other settings at their defaults. gRPC and metrics listen on
ports of their own, as they always do.
Run: PY bench/peer_apps/mlserver_app.py --port N"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _model import Mnist  # noqa: E402
from mlserver import MLModel, MLServer  # noqa: E402
from mlserver.codecs import NumpyRequestCodec  # noqa: E402
from mlserver.settings import ModelSettings, Settings  # noqa: E402
from mlserver.types import InferenceRequest, InferenceResponse  # noqa: E402


class MnistRuntime(MLModel):
    async def load(self) -> bool:
        self.mnist = Mnist()
        return True

    async def predict(self, payload: InferenceRequest) -> InferenceResponse:
        pixels = NumpyRequestCodec.decode_request(payload)
        return NumpyRequestCodec.encode_response(self.name, self.mnist.probabilities(pixels))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    settings = Settings(
        http_port=parser.parse_args().port,
        grpc_port=_free_port(),
        metrics_port=_free_port(),
        parallel_workers=0,
    )
    model = ModelSettings(name="mnist", implementation=MnistRuntime)
    asyncio.run(MLServer(settings).start([model]))
