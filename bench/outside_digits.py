"""`python -m bench.outside_digits [--models-dir models] [--version N] [MODEL ...]`: the digit
models on digits nobody here wrote, read through the image route.

The outside set is scikit-learn's copy of the UCI "optical recognition of handwritten digits"
test set (`sklearn.datasets.load_digits()`: 1,797 digits from 43 writers other than MNIST's,
scanned, normalised and counted into 8x8 blocks of 0-16): shipped with scikit-learn, so nothing
is downloaded. It is kept apart from the project: nothing trains, tunes or selects on it; this
script only measures.

Each digit is saved as an image file the way a person would send a scan of it - three ways,
since nobody knows which way people send them: the 8x8 file itself, the same scaled up 4x with
its pixels kept square (nearest), and scaled up 4x smoothed (bilinear); gray levels 0-16 are
ink on white paper. Each file is read exactly as the service reads an upload
(`uploads.decode` + `uploads.to_model_input`), then run through the version's ONNX graph.
"""

from __future__ import annotations

import argparse
import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import uploads

MODELS = ("mnist", "mnist-cnn")
MAX_PIXELS = 16_000_000  # the service's default upload limit; these files are tiny

Rendering = Callable[[np.ndarray], bytes]


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _scan(levels: np.ndarray) -> Image.Image:
    """0-16 ink counts as an 8-bit scan: dark ink on white paper."""
    return Image.fromarray((255 - np.asarray(levels) * 255 / 16).round().astype(np.uint8), "L")


RENDERINGS: dict[str, Rendering] = {
    "8x8 file": lambda v: _png(_scan(v)),
    "32x32 pixelated": lambda v: _png(_scan(v).resize((32, 32), Image.Resampling.NEAREST)),
    "32x32 smoothed": lambda v: _png(_scan(v).resize((32, 32), Image.Resampling.BILINEAR)),
}


def outside_digits() -> tuple[np.ndarray, np.ndarray]:
    """The 1,797 digits as 0-16 levels (n, 8, 8), and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return np.asarray(digits.images), np.asarray(digits.target, dtype=np.int64)


def as_uploaded(levels: np.ndarray, rendering: Rendering, shape: tuple[int, ...]) -> np.ndarray:
    """Every digit rendered as a file and read as the service reads an upload."""
    x = np.stack(
        [uploads.to_model_input(uploads.decode(rendering(v), MAX_PIXELS), 28, 28) for v in levels]
    )
    return x.reshape(len(x), *shape)


def accuracy(graph: Path, levels: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """Accuracy of one ONNX graph under each rendering, and their mean."""
    from training.export import onnx_logits

    manifest = json.loads((graph.parent / "manifest.json").read_text())
    shape = tuple(manifest["input"]["shape"][1:])
    found = {
        name: float((onnx_logits(graph, as_uploaded(levels, r, shape)).argmax(1) == labels).mean())
        for name, r in RENDERINGS.items()
    }
    return {**found, "mean": float(np.mean(list(found.values())))}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--models-dir", type=Path, default=Path("models"))
    parser.add_argument("--version", type=int, default=None, help="default: the highest")
    args = parser.parse_args(argv)
    levels, labels = outside_digits()
    print(f"outside digits: {len(labels)} (sklearn.datasets.load_digits), read as uploads")
    for name in args.models:
        folder = args.models_dir / name
        versions = sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())
        version = args.version or versions[-1]
        figures = accuracy(folder / str(version) / "model.onnx", levels, labels)
        shown = ", ".join(f"{k} {v:.1%}" for k, v in figures.items())
        print(f"{name} {version}: {shown}")


if __name__ == "__main__":
    main()
