"""The labels of multi-label images: a CSV with the columns ``file,labels``.

``file`` is a path relative to the image folder (``cats/1.png``, or ``1.png``); ``labels`` are
the image's labels separated by ``;`` (``cat;indoor``), possibly none. Other columns are
ignored. Read with the csv module (a few MB of text at most, ``MAX_BYTES``), every problem
named by file and line: a missing column, a file listed twice, a path leaving the folder.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from training.errors import DataError

MAX_BYTES = 16 * 2**20
SEPARATOR = ";"
COLUMNS = ("file", "labels")
MAX_LABEL_CHARS = 100


@dataclass(frozen=True)
class Row:
    path: Path
    labels: tuple[str, ...]


def read_labels_csv(path: Path, folder: Path, max_rows: int) -> list[Row]:
    """The rows of ``path``, each image's path resolved inside ``folder``."""
    if not path.is_file():
        raise DataError(f"labels file {path} does not exist or is not a file")
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataError(
            f"{path}: {size / 2**20:.0f} MiB, far too large for a labels file "
            f"(at most {MAX_BYTES // 2**20} MiB)"
        )
    root = folder.resolve()
    rows: list[Row] = []
    seen: dict[Path, int] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = reader.fieldnames or []
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                raise DataError(
                    f"{path}: no {' or '.join(repr(c) for c in missing)} column (its header: "
                    f"{', '.join(header) or 'empty'}); the columns are file,labels"
                )
            for row in reader:
                line = reader.line_num
                if len(rows) >= max_rows:
                    raise DataError(f"{path}: more than {max_rows:,} rows")
                rows.append(_row(path, line, row, root, seen))
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason})") from None
    except csv.Error as error:
        raise DataError(f"{path}: not a CSV file ({error})") from None
    if not rows:
        raise DataError(f"{path}: no rows under the header")
    return rows


def _row(
    path: Path, line: int, row: dict[str, str | None], root: Path, seen: dict[Path, int]
) -> Row:
    name = (row.get("file") or "").strip()
    if not name:
        raise DataError(f"{path} line {line}: the file cell is empty")
    image = (root / name).resolve()
    if not image.is_relative_to(root):
        raise DataError(f"{path} line {line}: {name} is outside the image folder {root}")
    if image in seen:
        raise DataError(f"{path} line {line}: {name} is listed twice (first on line {seen[image]})")
    seen[image] = line
    labels = tuple(dict.fromkeys(s.strip() for s in (row.get("labels") or "").split(SEPARATOR)))
    labels = tuple(label for label in labels if label)
    long = next((label for label in labels if len(label) > MAX_LABEL_CHARS), None)
    if long is not None:
        raise DataError(f"{path} line {line}: a label longer than {MAX_LABEL_CHARS} characters")
    return Row(image, labels)
