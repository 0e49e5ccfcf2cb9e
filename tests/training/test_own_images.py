"""Your own images: read as the service reads uploads, labelled by folder or by a CSV, bounded."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path

import numpy as np
import pytest

import uploads
from tests.training.conftest import write_digit_folder
from training.data import images
from training.data.images import read_class_folders, read_multilabel
from training.errors import DataError

SIZE = (28, 28)


def png_declaring(width: int, height: int) -> bytes:
    """A PNG whose header declares width x height pixels, with almost no data behind it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b"")


def test_folder_names_are_the_labels_and_each_image_is_what_an_upload_of_it_becomes(
    digit_folder: Path,
) -> None:
    read = read_class_folders(digit_folder, SIZE)
    assert read.labels == ("one", "seven", "zero") and not read.multilabel
    assert read.x.shape == (90, 28, 28) and read.x.dtype == np.uint8
    assert np.bincount(read.y).tolist() == [30, 30, 30]
    for row in (0, 31, 89):
        upload = uploads.to_model_input(uploads.decode(read.files[row].read_bytes(), 10**8), *SIZE)
        np.testing.assert_array_equal(read.x[row], upload)


def test_dark_on_light_and_light_on_dark_both_become_light_ink_on_black(
    digit_folder: Path,
) -> None:
    read = read_class_folders(digit_folder, SIZE)
    pixels = read.x.reshape(len(read.x), -1).astype(np.float64)
    # Mostly black with bright ink, whichever way round the file was (an inverted image
    # would be mostly white).
    assert (pixels.mean(axis=1) < 80).all() and (pixels.max(axis=1) > 200).all()
    assert (np.median(pixels, axis=1) == 0).all()


def test_hidden_and_non_image_files_are_left_out_and_sub_folders_are_read(
    digit_folder: Path,
) -> None:
    (digit_folder / "zero" / ".DS_Store").write_bytes(b"\0" * 10)
    (digit_folder / "zero" / "notes.txt").write_text("scanned in May")
    nested = digit_folder / "one" / "batch2"
    nested.mkdir()
    (digit_folder / "one" / "0.png").rename(nested / "0.png")
    read = read_class_folders(digit_folder, SIZE)
    assert len(read.x) == 90 and read.ignored == 1
    assert nested / "0.png" in read.files


def test_a_few_unreadable_images_are_skipped_and_counted(tmp_path: Path) -> None:
    folder = write_digit_folder(tmp_path / "d", {"a": 0, "b": 1}, 40)
    (folder / "a" / "truncated.png").write_bytes((folder / "a" / "0.png").read_bytes()[:60])
    (folder / "b" / "gif.png").write_bytes(b"GIF89a" + b"\0" * 20)
    read = read_class_folders(folder, SIZE)
    assert len(read.x) == 80 and len(read.skipped) == 2
    said = read.describe_skipped()
    assert said is not None and said.startswith("skipped 2 of 82 images that cannot be read")
    assert "truncated.png: undecodable PNG image" in said and "only PNG and JPEG" in said


def test_more_unreadable_images_than_the_share_allowed_refuse_the_folder(tmp_path: Path) -> None:
    folder = write_digit_folder(tmp_path / "d", {"a": 0, "b": 1}, 20)
    for k in range(4):
        (folder / "b" / f"broken{k}.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 10)
    with pytest.raises(DataError, match=r"4 of 44 images \(9%\) cannot be read, more than the 5%"):
        read_class_folders(folder, SIZE)


def test_a_file_far_too_large_is_refused_by_name_before_it_is_read(tmp_path: Path) -> None:
    folder = write_digit_folder(tmp_path / "d", {"a": 0, "b": 1}, 10)
    huge = folder / "a" / "scan.png"
    with huge.open("wb") as f:  # sparse: 65 MiB on paper, nothing on disk
        f.truncate(images.MAX_FILE_BYTES + 2**20)
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"scan.png: 65 MiB, far too large"):
        read_class_folders(folder, SIZE)
    assert time.perf_counter() - started < 5


def test_an_image_declaring_far_too_many_pixels_is_refused_before_decoding(
    tmp_path: Path,
) -> None:
    folder = write_digit_folder(tmp_path / "d", {"a": 0, "b": 1}, 10)
    (folder / "b" / "bomb.png").write_bytes(png_declaring(20_000, 20_000))
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"bomb.png: the image declares 20000x20000 pixels"):
        read_class_folders(folder, SIZE)
    assert time.perf_counter() - started < 5  # 400 megapixels were never decoded


def test_more_images_than_the_limit_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(images, "MAX_IMAGES", 15)
    folder = write_digit_folder(tmp_path / "d", {"a": 0, "b": 1}, 10)
    with pytest.raises(DataError, match=r"more than 15 images"):
        read_class_folders(folder, SIZE)


def write_labels(path: Path, rows: list[tuple[str, str]]) -> Path:
    path.write_text("file,labels\n" + "".join(f"{f},{labels}\n" for f, labels in rows))
    return path


def test_a_labels_csv_gives_each_image_any_number_of_labels(tmp_path: Path) -> None:
    folder = write_digit_folder(tmp_path / "d", {"zero": 0, "one": 1}, 24)
    rows = [(f"zero/{k}.{'jpg' if k % 2 else 'png'}", "round;digit") for k in range(24)]
    rows += [(f"one/{k}.{'jpg' if k % 2 else 'png'}", "straight; digit") for k in range(23)]
    rows += [("one/23.jpg", "")]  # no label at all: allowed
    read = read_multilabel(folder, write_labels(tmp_path / "labels.csv", rows), SIZE)
    assert read.multilabel and read.labels == ("digit", "round", "straight")
    assert read.y.shape == (48, 3) and read.y.dtype == np.uint8
    assert read.y.sum(axis=0).tolist() == [47, 24, 23]
    assert read.y[-1].tolist() == [0, 0, 0]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([("zero/0.png", "a"), ("zero/0.png", "b")], r"line 3: zero/0.png is listed twice"),
        ([("../outside.png", "a")], r"line 2: ../outside.png is outside the image folder"),
        ([("zero/0.png", "x")], r"a single label \(x\)"),
    ],
)
def test_a_labels_csv_that_cannot_be_used_is_refused_naming_the_line(
    tmp_path: Path, rows: list[tuple[str, str]], message: str
) -> None:
    folder = write_digit_folder(tmp_path / "d", {"zero": 0}, 2)
    with pytest.raises(DataError, match=message):
        read_multilabel(folder, write_labels(tmp_path / "labels.csv", rows), SIZE)


def test_a_labels_csv_without_its_columns_is_refused_naming_them(tmp_path: Path) -> None:
    folder = write_digit_folder(tmp_path / "d", {"zero": 0}, 2)
    bad = tmp_path / "labels.csv"
    bad.write_text("path,tags\nzero/0.png,a\n")
    with pytest.raises(DataError, match=r"no 'file' or 'labels' column \(its header: path, tags\)"):
        read_multilabel(folder, bad, SIZE)
