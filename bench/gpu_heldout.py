"""`python -m bench.gpu_heldout OUT.npz [--rows 1000] [MODEL ...]`: held-out inputs of each
shipped model, as its graph takes them, for the GPU check's CUDA-against-CPU comparison.

Runs with the training environment (it reads the data sets through `training`); the check
itself runs with the service's, so the two meet in this file. Held-out means the split that
the published metrics are measured on: no training step ever saw these rows.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

MODELS = ("mnist", "mnist-cnn", "multilabel", "tshirt", "coffee")


def held_out(name: str, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `rows` held-out inputs of model `name` and their labels: the test split, then
    the validation split (no training step saw either; agreement needs inputs, not a score).

    The tabular data sets hold out fewer rows than that; they are topped up with fresh rows
    from the same generator under a seed training never used.
    """
    from training.data import coffee, tshirt
    from training.tasks import get_task

    task = get_task(name)
    data = task.load_data(None)
    x = np.concatenate([data.test.x, data.validation.x])[:rows]
    y = np.concatenate([data.test.y, data.validation.y])[:rows]
    generators = {"tshirt": tshirt, "coffee": coffee}
    if len(x) < rows and name in generators:
        module = generators[name]
        extra_x, extra_y = module.generate(rows - len(x), seed=module.GENERATOR_SEED + 1000)
        x, y = np.concatenate([x, extra_x]), np.concatenate([y, extra_y])
    return np.ascontiguousarray(x).reshape(-1, *task.input.shape[1:]), y


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args(argv)
    arrays: dict[str, np.ndarray] = {}
    for name in args.models:
        arrays[f"{name}/x"], arrays[f"{name}/y"] = held_out(name, args.rows)
    np.savez_compressed(args.out, **arrays)  # type: ignore[arg-type]
    counts = ", ".join(f"{m} {len(arrays[m + '/x'])}" for m in args.models)
    print(f"held-out inputs: {counts}")


if __name__ == "__main__":
    main()
