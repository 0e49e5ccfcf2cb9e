"""KServe's InferenceGRPCClient against a server, in a process of its own: KServe's protocol
file registers the message names tritonclient's does (`inference.ModelInferRequest`), and one
protobuf pool refuses both. Run by tests/service/grpc/test_kserve.py:

    python tests/service/grpc/kserve_client.py HOST:PORT < calls.json > answers.json

Each call is {"model", "input", "datatype", "shape", "data", "raw", "outputs"}; each answer
the outputs as lists, or the error's code and details. `fields` lists every field of KServe's
messages (message, field, number, type), for the wire-compatibility check.
"""

from __future__ import annotations

import asyncio
import json
import sys

import grpc
import numpy as np
from kserve.inference_client import InferenceGRPCClient
from kserve.protocol.grpc import grpc_predict_v2_pb2
from kserve.protocol.infer_type import InferInput, InferRequest, RequestedOutput


def fields() -> list[list[object]]:
    found = []

    def visit(message: object, prefix: str) -> None:
        for field in message.fields:  # type: ignore[attr-defined]
            found.append([prefix + message.name, field.name, field.number, field.type])  # type: ignore[attr-defined]
        for nested in message.nested_types:  # type: ignore[attr-defined]
            visit(nested, prefix + message.name + ".")  # type: ignore[attr-defined]

    for message in grpc_predict_v2_pb2.DESCRIPTOR.message_types_by_name.values():
        visit(message, "")
    return found


async def main(target: str, calls: list[dict[str, object]]) -> dict[str, object]:
    answers: list[object] = []
    async with InferenceGRPCClient(target, retries=0) as client:
        health = {
            "live": await client.is_server_live(),
            "ready": await client.is_server_ready(),
            "mnist": await client.is_model_ready("mnist"),
        }
        for call in calls:
            dtype = np.uint8 if call["datatype"] == "UINT8" else np.float32
            data = np.asarray(call["data"], dtype=dtype).reshape(call["shape"])  # type: ignore[call-overload]
            tensor = InferInput(str(call["input"]), list(data.shape), str(call["datatype"]))
            if call["raw"]:
                tensor.set_data_from_numpy(data, binary_data=True)
            else:
                tensor = InferInput(
                    str(call["input"]),
                    list(data.shape),
                    str(call["datatype"]),
                    data.ravel().tolist(),
                )
            outputs = [
                RequestedOutput(name, {"classification": k} if k else None)
                for name, k in call["outputs"].items()  # type: ignore[attr-defined]
            ]
            request = InferRequest(
                str(call["model"]), [tensor], request_id="kserve-1", request_outputs=outputs
            )
            try:
                response = await client.infer(request)
            except grpc.RpcError as error:
                answers.append({"code": error.code().name, "details": error.details()})
                continue
            answers.append(
                {
                    "id": response.id,
                    "outputs": {
                        o.name: [
                            v.decode() if isinstance(v, bytes) else v
                            for v in o.as_numpy().ravel().tolist()
                        ]
                        for o in response.outputs
                    },
                }
            )
    return {"health": health, "answers": answers, "fields": fields()}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], json.load(sys.stdin)))))
