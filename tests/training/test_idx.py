"""The IDX reader behind --data-dir: plain, gzip, torchvision's layout, and every kind of damage."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from tests.training.conftest import IdxWriter, idx_bytes, small_mnist_arrays
from training.data.idx import read_idx
from training.data.mnist import load_mnist
from training.data.multilabel import load_multilabel
from training.errors import DataError


def write_all(folder: Path, write_idx: IdxWriter, gz: bool) -> dict[str, np.ndarray]:
    arrays = small_mnist_arrays()
    for name, array in arrays.items():
        write_idx(folder / (name + (".gz" if gz else "")), array, gz=gz)
    return arrays


def test_idx_reader_reads_plain_image_file(tmp_path: Path, write_idx: IdxWriter) -> None:
    images = np.arange(2 * 28 * 28, dtype=np.uint32).reshape(2, 28, 28).astype(np.uint8)
    path = write_idx(tmp_path / "images", images)
    out = read_idx(path, ndim=3)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, images)


def test_idx_reader_reads_gzip_files(tmp_path: Path, write_idx: IdxWriter) -> None:
    labels = np.array([3, 1, 4, 1, 5], dtype=np.uint8)
    np.testing.assert_array_equal(
        read_idx(write_idx(tmp_path / "l.gz", labels, gz=True), 1), labels
    )


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
def test_data_dir_trains_and_validates_on_the_train_files_and_tests_on_t10k(
    tmp_path: Path, write_idx: IdxWriter, gz: bool
) -> None:
    arrays = write_all(tmp_path, write_idx, gz)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.test.x, arrays["t10k-images-idx3-ubyte"])
    np.testing.assert_array_equal(data.test.y, arrays["t10k-labels-idx1-ubyte"])
    # Train and validation are a stratified partition of the training files' 60 digits.
    train_images = arrays["train-images-idx3-ubyte"]
    together = np.concatenate([data.train.x, data.validation.x])
    assert sorted(map(bytes, together.reshape(60, -1))) == sorted(
        map(bytes, train_images.reshape(60, -1))
    )
    assert np.bincount(data.validation.y).tolist() == [1] * 10
    assert data.train.y.dtype == np.int64
    sizes = data.describe()
    assert (sizes["train_size"], sizes["validation_size"], sizes["test_size"]) == (50, 10, 20)


def test_data_dir_accepts_torchvision_layout(tmp_path: Path, write_idx: IdxWriter) -> None:
    arrays = write_all(tmp_path / "MNIST" / "raw", write_idx, gz=True)
    data = load_mnist(tmp_path)
    np.testing.assert_array_equal(data.test.y, arrays["t10k-labels-idx1-ubyte"])


def test_multilabel_composes_from_data_dir_digits(mnist_idx_dir: Path) -> None:
    data = load_multilabel(mnist_idx_dir)
    assert data.train.x.shape == (100, 28, 84) and data.validation.x.shape == (20, 28, 84)
    assert data.test.x.shape == (40, 28, 84)


def test_idx_reader_rejects_bad_magic_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte"
    data = bytearray(idx_bytes(np.zeros((1, 28, 28), np.uint8)))
    data[2] = 0x0D  # float type code
    path.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte: bad magic number 0x00000d03"):
        read_idx(path, ndim=3)


def test_idx_reader_rejects_labels_file_given_as_images(
    tmp_path: Path, write_idx: IdxWriter
) -> None:
    path = write_idx(tmp_path / "labels", np.zeros(5, np.uint8))
    with pytest.raises(DataError, match="bad magic number 0x00000801, expected 0x00000803"):
        read_idx(path, ndim=3)


def test_idx_reader_rejects_truncated_image_file_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-100])
    with pytest.raises(
        DataError, match=r"t10k-images-idx3-ubyte: truncated: .* 7840 .* found 7740"
    ):
        read_idx(path, ndim=3)


def test_idx_reader_rejects_truncated_header(tmp_path: Path) -> None:
    path = tmp_path / "images"
    path.write_bytes(idx_bytes(np.zeros((1, 28, 28), np.uint8))[:9])
    with pytest.raises(DataError, match="truncated header"):
        read_idx(path, ndim=3)


def test_idx_reader_rejects_trailing_bytes(tmp_path: Path) -> None:
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(np.zeros(4, np.uint8)) + b"\x00\x00")
    with pytest.raises(DataError, match="2 unexpected bytes"):
        read_idx(path, ndim=1)


def test_idx_reader_rejects_truncated_gzip_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros(1000, np.uint8)))[:30])
    with pytest.raises(DataError, match=r"train-labels-idx1-ubyte.gz: corrupt or truncated gzip"):
        read_idx(path, ndim=1)


def test_data_dir_rejects_mismatched_image_and_label_counts(
    tmp_path: Path, write_idx: IdxWriter
) -> None:
    write_all(tmp_path, write_idx, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(59, np.uint8))
    with pytest.raises(DataError, match=r"holds 60 images but .*train-labels-idx1-ubyte holds 59"):
        load_mnist(tmp_path)


def test_data_dir_rejects_images_that_are_not_28x28(tmp_path: Path, write_idx: IdxWriter) -> None:
    write_all(tmp_path, write_idx, gz=False)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", np.zeros((20, 32, 32), np.uint8))
    with pytest.raises(DataError, match="32x32, expected 28x28"):
        load_mnist(tmp_path)


def test_data_dir_rejects_labels_that_are_not_digits(tmp_path: Path, write_idx: IdxWriter) -> None:
    write_all(tmp_path, write_idx, gz=False)
    write_idx(tmp_path / "t10k-labels-idx1-ubyte", np.full(20, 10, np.uint8))
    with pytest.raises(DataError, match="label 10 is not a digit"):
        load_mnist(tmp_path)


def test_data_dir_without_idx_files_names_the_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no train-images-idx3-ubyte\[.gz\] in data folder"):
        load_mnist(tmp_path)


def test_missing_data_dir_is_reported(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does-not-exist does not exist"):
        load_mnist(tmp_path / "does-not-exist")
