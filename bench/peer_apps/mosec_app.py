"""Mosec (a Rust HTTP front end, Python workers over IPC) with the MLP in one worker, its
default JSON codec and no dynamic batching (its defaults). Body: {"instances": [[784 pixels]]}.
Run: PY bench/peer_apps/mosec_app.py --port N   (route /inference)"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import numpy as np  # noqa: E402
from _model import Mnist  # noqa: E402
from mosec import Server, Worker  # noqa: E402


class Predict(Worker):
    def __init__(self) -> None:
        super().__init__()
        self.mnist = Mnist()

    def forward(self, data: dict) -> dict:
        pixels = np.asarray(data["instances"], dtype=np.uint8)
        return {"predictions": self.mnist.probabilities(pixels).tolist()}


if __name__ == "__main__":
    server = Server()  # reads --port from the command line
    server.append_worker(Predict, num=1)
    server.run()
