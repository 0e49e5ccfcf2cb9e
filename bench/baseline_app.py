"""The same-run baseline: a minimal FastAPI app that parses the body with the standard
library's json and returns a constant. No model, no validation: the floor of a Python
FastAPI service on this machine."""

import json

from fastapi import FastAPI, Request

app = FastAPI()

CONSTANT: dict[str, object] = {
    "model_name": "mnist",
    "outputs": [
        {"name": "probabilities", "datatype": "FP32", "shape": [1, 10], "data": [0.1] * 10}
    ],
}


@app.post("/v2/models/{name}/infer")
async def infer(name: str, request: Request) -> dict[str, object]:
    json.loads(await request.body())
    return CONSTANT
