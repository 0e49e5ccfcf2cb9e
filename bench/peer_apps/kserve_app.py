"""KServe's Python model server (V1 and V2 REST, the V2 binary extension, and V2 gRPC with
--grpc-port) with the MLP, written as KServe's custom-model documentation writes one.
Run: PY bench/peer_apps/kserve_app.py --port N [--grpc-port M]"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from _model import Mnist  # noqa: E402
from kserve import InferOutput, InferRequest, InferResponse, Model, ModelServer  # noqa: E402
from kserve.utils.utils import generate_uuid  # noqa: E402


class MnistModel(Model):
    def __init__(self) -> None:
        super().__init__("mnist")
        self.mnist = Mnist()
        self.ready = True

    async def predict(self, payload, headers=None, response_headers=None):
        if isinstance(payload, InferRequest):
            probabilities = self.mnist.probabilities(payload.inputs[0].as_numpy())
            # Over gRPC, raw_output_contents (as logitserve and Triton answer).
            binary = payload.use_binary_outputs or payload.from_grpc
            output = InferOutput("probabilities", list(probabilities.shape), "FP32")
            output.set_data_from_numpy(probabilities, binary_data=binary)
            return InferResponse(
                payload.id or generate_uuid(), self.name, [output], use_binary_outputs=binary
            )
        pixels = np.asarray(payload["instances"], dtype=np.uint8)
        return {"predictions": self.mnist.probabilities(pixels).tolist()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--grpc-port", type=int, default=0)
    known = parser.parse_known_args()[0]
    grpc = (
        {"grpc_port": known.grpc_port, "enable_grpc": True}
        if known.grpc_port
        else {"enable_grpc": False}
    )
    ModelServer(http_port=known.port, **grpc).start([MnistModel()])
