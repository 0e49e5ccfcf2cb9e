"""Your own labelled images: one sub-folder per class, or a folder and a labels CSV.

Every image is read exactly as the service reads an upload (``uploads.decode`` +
``uploads.to_model_input``): PNG or JPEG of any size, grayscale, dark-on-light inverted, cropped
to its ink, fitted into the model's box and centred by mass. So the model trains on what the
``predict/image`` route will hand it.

What one run may cost is bounded before anything is decoded: at most ``MAX_IMAGES`` files,
none over ``MAX_FILE_BYTES`` bytes or ``MAX_IMAGE_PIXELS`` declared pixels (each refused by
name: a file that large is a mistake, not a training image), a walk of at most
``MAX_ENTRIES`` folder entries. Files that cannot be decoded (truncated, corrupt, not PNG or
JPEG inside) are skipped and counted; more than ``MAX_UNREADABLE_SHARE`` of them and the
folder is refused, naming the first. Hidden files and folders are ignored, as are files
without a .png, .jpg or .jpeg name.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

import uploads
from training.data.labels_csv import read_labels_csv
from training.errors import DataError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
MAX_IMAGES = 100_000
MAX_ENTRIES = 4 * MAX_IMAGES
MAX_FILE_BYTES = 64 * 2**20
MAX_IMAGE_PIXELS = 64_000_000
MAX_UNREADABLE_SHARE = 0.05
MAX_CLASSES = 100
# Each class (or label) needs this many readable images: the 10% validation and 10% test
# splits then get at least one each.
MIN_PER_CLASS = 10
READ_THREADS = 4  # Pillow decodes without the GIL


@dataclass(frozen=True)
class Skipped:
    file: Path
    reason: str


@dataclass(frozen=True)
class LabelledImages:
    """Images as the service hands them to a model, and their labels."""

    x: np.ndarray  # uint8 (n, height, width): light ink on dark, MNIST's form
    y: np.ndarray  # int64 (n,) class index; multi-label: uint8 (n, labels) multi-hot
    labels: tuple[str, ...]
    multilabel: bool
    files: tuple[Path, ...]
    skipped: tuple[Skipped, ...]
    ignored: int  # files that are not PNG or JPEG by name

    def describe_skipped(self) -> str | None:
        """One line about the files skipped, or None."""
        if not self.skipped:
            return None
        total = len(self.files) + len(self.skipped)
        shown = "; ".join(f"{s.file}: {s.reason}" for s in self.skipped[:3])
        more = f"; and {len(self.skipped) - 3} more" if len(self.skipped) > 3 else ""
        return f"skipped {len(self.skipped)} of {total:,} images that cannot be read: {shown}{more}"


def read_class_folders(
    folder: Path, size: tuple[int, int], progress: bool = False
) -> LabelledImages:
    """``folder/<class>/**/*.png|jpg``: the sub-folder names are the labels, sorted."""
    _check_folder(folder)
    classes = sorted(e.name for e in os.scandir(folder) if e.is_dir() and _visible(e.name))
    if not classes:
        raise DataError(
            f"{folder}: no class folders; put each class's images in a sub-folder named after "
            f"the class ({folder}/cat/1.png, {folder}/dog/1.png, ...)"
        )
    if len(classes) == 1:
        raise DataError(
            f"{folder}: a single class folder ({classes[0]}); a classifier needs at least two"
        )
    if len(classes) > MAX_CLASSES:
        raise DataError(f"{folder}: {len(classes)} class folders, more than {MAX_CLASSES}")
    walk = _Walk(folder)
    paths: list[Path] = []
    owners: list[int] = []
    for index, name in enumerate(classes):
        found = walk.images(folder / name)
        if not found:
            raise DataError(f"{folder / name}: no PNG or JPEG images in this class folder")
        paths += found
        owners += [index] * len(found)
    x, ok, skipped = _decode_all(paths, size, progress)
    y = np.asarray(owners, dtype=np.int64)[ok]
    for index, name in enumerate(classes):
        _enough(int((y == index).sum()), f"{folder / name}", "class folder")
    return LabelledImages(
        x=x,
        y=y,
        labels=tuple(classes),
        multilabel=False,
        files=tuple(p for p, good in zip(paths, ok, strict=True) if good),
        skipped=skipped,
        ignored=walk.ignored,
    )


def read_multilabel(
    folder: Path, labels_csv: Path, size: tuple[int, int], progress: bool = False
) -> LabelledImages:
    """The images ``labels_csv`` lists (``file,labels``; labels separated by ``;``) in
    ``folder``: each image may carry any number of the labels, or none."""
    _check_folder(folder)
    rows = read_labels_csv(labels_csv, folder, MAX_IMAGES)
    labels = sorted({label for row in rows for label in row.labels})
    if len(labels) < 2:
        raise DataError(
            f"{labels_csv}: {'a single label' if labels else 'no labels'} "
            f"({', '.join(labels) or 'every labels cell is empty'}); a model needs at least two"
        )
    if len(labels) > MAX_CLASSES:
        raise DataError(f"{labels_csv}: {len(labels)} labels, more than {MAX_CLASSES}")
    for row in rows:
        _check_size(row.path)
    x, ok, skipped = _decode_all([row.path for row in rows], size, progress)
    column = {label: k for k, label in enumerate(labels)}
    y = np.zeros((len(rows), len(labels)), dtype=np.uint8)
    for i, row in enumerate(rows):
        y[i, [column[label] for label in row.labels]] = 1
    y = y[ok]
    for k, label in enumerate(labels):
        _enough(int(y[:, k].sum()), f"{labels_csv}: label {label!r}", "label")
    return LabelledImages(
        x=x,
        y=y,
        labels=tuple(labels),
        multilabel=True,
        files=tuple(row.path for row, good in zip(rows, ok, strict=True) if good),
        skipped=skipped,
        ignored=0,
    )


class _Walk:
    """Image files under folders, hidden ones left out, bounded in files and entries."""

    def __init__(self, root: Path) -> None:
        self.root, self.entries, self.count, self.ignored = root, 0, 0, 0

    def images(self, folder: Path) -> list[Path]:
        found: list[Path] = []
        # followlinks=False: a link loop cannot make the walk endless.
        for here, dirs, files in os.walk(folder, followlinks=False):
            dirs[:] = sorted(d for d in dirs if _visible(d))
            for name in sorted(files):
                self.entries += 1
                if self.entries > MAX_ENTRIES:
                    raise DataError(f"{self.root}: more than {MAX_ENTRIES:,} files to look at")
                if not _visible(name):
                    continue
                if not name.lower().endswith(IMAGE_SUFFIXES):
                    self.ignored += 1
                    continue
                self.count += 1
                if self.count > MAX_IMAGES:
                    raise DataError(f"{self.root}: more than {MAX_IMAGES:,} images")
                path = Path(here) / name
                _check_size(path)
                found.append(path)
        return found


def _decode_all(
    paths: list[Path], size: tuple[int, int], progress: bool
) -> tuple[np.ndarray, np.ndarray, tuple[Skipped, ...]]:
    """Every image as the service reads an upload; (pixels of the readable ones, which were
    readable, the skipped ones with why)."""
    height, width = size
    x = np.zeros((len(paths), height, width), dtype=np.uint8)
    ok = np.zeros(len(paths), dtype=bool)
    skipped: list[Skipped] = []
    bar = tqdm(paths, desc="reading", unit="image", disable=not progress, dynamic_ncols=True)
    with ThreadPoolExecutor(READ_THREADS) as pool, bar:
        for i, (path, result) in enumerate(zip(bar, pool.map(_read, paths), strict=True)):
            if isinstance(result, str):
                skipped.append(Skipped(path, result))
                continue
            x[i] = uploads.to_model_input(result, height, width)
            ok[i] = True
    if len(skipped) > MAX_UNREADABLE_SHARE * len(paths):
        first = skipped[0]
        raise DataError(
            f"{len(skipped)} of {len(paths):,} images ({len(skipped) / len(paths):.0%}) cannot "
            f"be read, more than the {MAX_UNREADABLE_SHARE:.0%} allowed; the first: "
            f"{first.file}: {first.reason}"
        )
    return x[ok], ok, tuple(skipped)


def _read(path: Path) -> np.ndarray | str:
    """The decoded grayscale pixels, or why the file was skipped. Far too large: DataError."""
    try:
        data = path.read_bytes()
        return uploads.decode(data, MAX_IMAGE_PIXELS)
    except uploads.ImageTooLarge as error:
        raise DataError(f"{path}: {error}: far too large for a training image") from None
    except (uploads.UndecodableImage, uploads.UnsupportedImageType, uploads.UnreadableShape) as e:
        return str(e)
    except FileNotFoundError:
        return "no such file"
    except OSError as error:
        return f"cannot read: {error.strerror or error}"


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError:
        return  # reading it says what is wrong, and it is skipped
    if size > MAX_FILE_BYTES:
        raise DataError(
            f"{path}: {size / 2**20:.0f} MiB, far too large for a training image "
            f"(at most {MAX_FILE_BYTES // 2**20} MiB)"
        )


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist or is not a folder")


def _enough(count: int, what: str, kind: str) -> None:
    if count < MIN_PER_CLASS:
        raise DataError(
            f"{what}: {count} readable image{'s' if count != 1 else ''}; each {kind} needs at "
            f"least {MIN_PER_CLASS}, so that the validation and test splits get some"
        )


def _visible(name: str) -> bool:
    return not name.startswith(".") and name not in ("__MACOSX", "Thumbs.db")
