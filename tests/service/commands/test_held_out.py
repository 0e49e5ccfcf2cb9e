"""`logitserve publish --eval` reads held-out data within bounds and checks it against the
model before any metric is made of it: each hostile or mistaken .npz is refused in one line,
never a traceback, never gigabytes (service/commands/held_out.py)."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from modelrepo.manifest import Manifest
from modelrepo.publish import PublishError
from service.commands import held_out
from tests.builders import image_manifest, random_mlp
from tests.service.commands.test_publishing import DIGITS, logitserve, save

MNIST = Manifest.model_validate(image_manifest("mnist", 1) | {"model_sha256": "0" * 64})
ROWS = 20
PIXELS = np.zeros((ROWS, 784), np.uint8)
CLASSES = np.arange(ROWS) % 10


def npz(tmp_path: Path, **arrays: np.ndarray) -> Path:
    path = tmp_path / "held_out.npz"
    np.savez(path, **arrays)
    return path


def with_member(tmp_path: Path, name: str, header: dict[str, object], data: bytes) -> Path:
    """An .npz whose `name`.npy has the header given (whatever its data), beside a good y."""
    member = io.BytesIO()
    np.lib.format.write_array_header_1_0(member, header)
    path = tmp_path / "held_out.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{name}.npy", member.getvalue() + data)
        y = io.BytesIO()
        np.lib.format.write_array(y, CLASSES)
        archive.writestr("y.npy", y.getvalue())
    return path


def zeros_member(path: Path, shape: tuple[int, ...], y: np.ndarray) -> Path:
    """An .npz whose x.npy is `shape` of zeros, written compressed a block at a time: a few
    hundred KB on disk for hundreds of MB unpacked."""
    header = {"descr": "|u1", "fortran_order": False, "shape": shape}
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("x.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, header)
            block, left = bytes(16 * 1024 * 1024), int(np.prod(shape))
            while left:
                member.write(block[: min(left, len(block))])
                left -= min(left, len(block))
        buffer = io.BytesIO()
        np.lib.format.write_array(buffer, y)
        archive.writestr("y.npy", buffer.getvalue())
    return path


CASES: list[tuple[str, Callable[[Path], Path], str]] = [
    (
        "nan-truths",
        lambda t: npz(t, x=PIXELS, y=np.where(CLASSES == 3, np.nan, CLASSES)),
        "y holds NaN or infinite values: give class indices",
    ),
    (
        "truth-out-of-range",
        lambda t: npz(t, x=PIXELS, y=CLASSES + 1),
        "y holds 1..10: classes are 0 to 9",
    ),
    (
        "negative-truth",
        lambda t: npz(t, x=PIXELS, y=CLASSES - 1),
        "y holds -1..8: classes are 0 to 9",
    ),
    ("fractional-truth", lambda t: npz(t, x=PIXELS, y=CLASSES + 0.5), "y holds fractions"),
    (
        "a-trillion-rows",
        lambda t: with_member(
            t, "x", {"descr": "|u1", "fortran_order": False, "shape": (10**12, 784)}, b"\0" * 64
        ),
        "x declares shape [1000000000000, 784]: more than 536870912 bytes",
    ),
    (
        "zero-d",
        lambda t: npz(t, x=np.array(7, np.uint8), y=CLASSES),
        "x is a single value (a 0-d array): give one row per example",
    ),
    ("objects", lambda t: npz(t, x=np.array([{}] * ROWS), y=CLASSES), "x holds object"),
    (
        "wrong-row-size",
        lambda t: npz(t, x=np.zeros((ROWS, 100), np.uint8), y=CLASSES),
        "x has shape [20, 100]: each row must have 784 values",
    ),
    (
        "rows-disagree",
        lambda t: npz(t, x=PIXELS, y=CLASSES[:5]),
        "y has shape [5]: give 20 class indices, one per row of x",
    ),
    (
        "pixels-out-of-range",
        lambda t: npz(t, x=PIXELS.astype(np.int64) + 300, y=CLASSES),
        "x holds values outside 0-255",
    ),
    (
        "nan-pixels",
        lambda t: npz(t, x=np.full((ROWS, 784), np.nan), y=CLASSES),
        "x holds NaN or infinite values",
    ),
    ("no-y", lambda t: npz(t, x=PIXELS), "There is no item named 'y.npy' in the archive"),
    (
        "bomb-too-large",
        lambda t: zeros_member(t / "held_out.npz", (700_000, 784), CLASSES),
        "x takes 548800128 bytes unpacked, more than 536870912",
    ),
]


@pytest.mark.parametrize(("make", "said"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_held_out_data_that_cannot_be_trusted_is_refused_naming_the_problem(
    tmp_path: Path, make: Callable[[Path], Path], said: str
) -> None:
    path = make(tmp_path)
    with pytest.raises(PublishError) as refused:
        held_out.read(path, MNIST)
    message = str(refused.value)
    assert said in message and "\n" not in message, message


def test_an_npz_that_would_inflate_is_refused_from_its_headers_alone(tmp_path: Path) -> None:
    # 300 MB of pixels in a few hundred KB, for 10 truths: refused before the pixels unpack.
    path = zeros_member(tmp_path / "bomb.npz", (382_000, 784), CLASSES[:10])
    assert path.stat().st_size < 2_000_000
    tracemalloc.start()
    try:
        with pytest.raises(PublishError, match="y has shape \\[10\\]: give 382000 class indices"):
            held_out.read(path, MNIST)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000, peak


def test_good_held_out_data_is_shaped_as_the_model_takes_it(tmp_path: Path) -> None:
    floats = PIXELS.astype(np.float64).reshape(ROWS, 28, 28) + 0.4  # a float image, rounded
    x, y = held_out.read(npz(tmp_path, x=floats, y=CLASSES.astype(np.float32)), MNIST)
    assert x.dtype == np.uint8 and x.shape == (ROWS, 784) and not x.any()
    assert y.tolist() == CLASSES.tolist()


@pytest.mark.parametrize("case", ["nan-truths", "a-trillion-rows", "zero-d"])
def test_publish_says_what_is_wrong_in_one_line(tmp_path: Path, case: str) -> None:
    make, said = next(c[1:] for c in CASES if c[0] == case)
    run = logitserve(
        "publish",
        str(save(tmp_path, random_mlp(0))),
        "--name",
        "digits",
        "--task",
        "multiclass",
        "--labels",
        DIGITS,
        "--image",
        "28x28",
        "--eval",
        str(make(tmp_path)),
        "--models-dir",
        str(tmp_path / "models"),
    )
    assert run.returncode == 1, run.stdout
    assert run.stderr.startswith("logitserve publish: error: held_out.npz: "), run.stderr
    assert said in run.stderr and run.stderr.count("\n") == 1, run.stderr
    assert not (tmp_path / "models" / "digits").exists()
