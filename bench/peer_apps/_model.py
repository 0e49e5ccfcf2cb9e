"""What every peer runs per call: the shipped MLP in ONNX Runtime at one thread, then the
softmax the service applies, so that each does the same work as logitserve."""

from __future__ import annotations

import os

import numpy as np
import onnxruntime as ort

MODEL = os.environ.get("BENCH_MODEL", "models/mnist/1/model.onnx")


class Mnist:
    def __init__(self, path: str = MODEL) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def probabilities(self, pixels: np.ndarray) -> np.ndarray:
        logits = self.session.run(None, {self.input: pixels.astype(np.uint8, copy=False)})[0]
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        return shifted / shifted.sum(axis=1, keepdims=True)
