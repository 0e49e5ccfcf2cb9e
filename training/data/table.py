"""Your own table: a CSV of named numeric columns and one target column.

The target's values are the classes: two values make a binary model, more a multiclass one,
and ``--positive VALUE`` makes a binary model of VALUE against the rest. Every other column is a
feature, by its name: the model's input features are the CSV's header, so a v1 request can name
them (``{"instances": [{"age": 41, "income": 52000}]}``).

Read with pandas' C parser, bounded before it starts: the file's size (``MAX_BYTES``), its
columns (``MAX_COLUMNS``, from the header alone) and its rows (``MAX_ROWS``, and at most
``MAX_CELLS`` cells in all, so the numbers held stay under a few hundred MB). Every problem is one
line naming the file and the column, and the line where it is first seen: a missing or
non-numeric value, an infinite one, a target with one value or too many, a class too small to
split. Parquet is not read: it would need pyarrow (about 100 MB) for what one line of pandas
turns into a CSV.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from training.errors import DataError

MAX_BYTES = 512 * 2**20
MAX_COLUMNS = 1_000
MAX_ROWS = 1_000_000
MAX_CELLS = 20_000_000
MAX_CLASSES = 100
MIN_PER_CLASS = 10
MAX_NAME_CHARS = 100
# Values read as the positive class of a two-valued target, when --positive does not say.
POSITIVE_WORDS = ("1", "true", "yes", "y", "positive", "pos")
NOT_CSV = (".parquet", ".pq", ".feather", ".arrow", ".xlsx", ".xls", ".json")


@dataclass(frozen=True)
class LabelledTable:
    x: np.ndarray  # float32 (n, features), natural units
    y: np.ndarray  # int64 (n,): the index of each row's label
    features: tuple[str, ...]
    labels: tuple[str, ...]  # binary: (negative, positive)
    binary: bool
    target: str
    note: str | None  # how the positive class was chosen, when nobody said


def read_table(path: Path, target: str, positive: str | None = None) -> LabelledTable:
    columns = _header(path)
    if target not in columns:
        raise DataError(f"{path}: no column {target!r} to predict (its columns: {_list(columns)})")
    features = [c for c in columns if c != target]
    if not features:
        raise DataError(f"{path}: no columns besides the target {target!r} to predict it from")
    limit = min(MAX_ROWS, MAX_CELLS // len(columns))
    try:
        # Blank lines are rows (of missing values), so the line numbers below stay true.
        frame = pd.read_csv(
            path,
            encoding="utf-8-sig",
            dtype={target: str},
            nrows=limit + 1,
            engine="c",
            skip_blank_lines=False,
            low_memory=False,
        )
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError) as error:
        raise DataError(f"{path}: not a CSV table ({_first_line(error)})") from None
    if len(frame) > limit:
        raise DataError(
            f"{path}: more than {limit:,} rows of {len(columns)} columns (at most {MAX_ROWS:,} "
            f"rows and {MAX_CELLS:,} cells)"
        )
    if frame.empty:
        raise DataError(f"{path}: no rows under the header")
    x = np.stack([_numbers(path, name, frame[name]) for name in features], axis=1)
    labels, y, binary, note = _classes(path, target, frame[target], positive)
    return LabelledTable(x, y, tuple(features), labels, binary, target, note)


def _header(path: Path) -> list[str]:
    if not path.is_file():
        raise DataError(f"table {path} does not exist or is not a file")
    if path.suffix.lower() in NOT_CSV:
        raise DataError(
            f"{path}: only CSV tables are read; save it as one first "
            f"(pandas: pd.read_{'parquet' if 'p' in path.suffix else 'excel'}(...)"
            ".to_csv('table.csv', index=False))"
        )
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise DataError(
            f"{path}: {size / 2**20:,.0f} MiB, far too large (at most {MAX_BYTES // 2**20} MiB)"
        )
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            # One line, bounded: a file without line breaks stops here, not in memory.
            first = f.readline(64 * 2**10 * 16)
        columns = next(csv.reader([first]), [])
    except UnicodeDecodeError as error:
        raise DataError(f"{path}: not UTF-8 text ({error.reason})") from None
    columns = [c.strip() for c in columns]
    if not columns or columns == [""]:
        raise DataError(f"{path}: empty, or no header line naming the columns")
    if len(columns) > MAX_COLUMNS:
        raise DataError(f"{path}: {len(columns):,} columns, more than {MAX_COLUMNS:,}")
    for i, name in enumerate(columns):
        if not name:
            raise DataError(f"{path}: column {i + 1} has no name in the header")
        if len(name) > MAX_NAME_CHARS:
            raise DataError(f"{path}: column {i + 1}'s name is over {MAX_NAME_CHARS} characters")
    twice = sorted({c for c in columns if columns.count(c) > 1})
    if twice:
        raise DataError(f"{path}: column {twice[0]!r} appears twice in the header")
    return columns


def _numbers(path: Path, name: str, column: pd.Series) -> np.ndarray:
    """One feature column as float32, or DataError naming its first bad line."""
    if column.dtype == bool:
        column = column.astype(np.float64)
    missing = column.isna()
    if missing.any():
        raise DataError(
            f"{path}: column {name!r} has {int(missing.sum()):,} missing value"
            f"{'s' if missing.sum() > 1 else ''}, the first on line {_line(missing)}; "
            "fill or drop them first"
        )
    if not pd.api.types.is_numeric_dtype(column):
        numeric = pd.to_numeric(column, errors="coerce")
        bad = numeric.isna()
        raise DataError(
            f"{path}: column {name!r} is not numeric: line {_line(bad)} has "
            f"{str(column[bad].iloc[0])[:40]!r}"
        )
    values = column.to_numpy(dtype=np.float64)
    with np.errstate(over="ignore"):
        narrowed = values.astype(np.float32)
    infinite = pd.Series(~np.isfinite(narrowed))
    if infinite.any():
        raise DataError(
            f"{path}: column {name!r} has a value too large for float32 on line {_line(infinite)}"
        )
    return narrowed


def _classes(
    path: Path, target: str, column: pd.Series, positive: str | None
) -> tuple[tuple[str, ...], np.ndarray, bool, str | None]:
    missing = column.isna()
    if missing.any():
        raise DataError(
            f"{path}: the target column {target!r} has missing values, the first on line "
            f"{_line(missing)}"
        )
    values = column.astype(str).str.strip()
    found = _sorted(list(values.unique()))
    if len(found) == 1:
        raise DataError(
            f"{path}: the target column {target!r} has a single value ({found[0]!r}): "
            "nothing to tell apart"
        )
    if len(found) > MAX_CLASSES and positive is None:
        raise DataError(
            f"{path}: the target column {target!r} has {len(found):,} distinct values, more "
            f"than the {MAX_CLASSES} classes a model here takes (a number to predict, not a class?)"
        )
    note = None
    labels: tuple[str, ...]
    if positive is not None:
        if positive not in found:
            raise DataError(
                f"--positive {positive!r} is not a value of column {target!r} "
                f"(its values: {_list(found)})"
            )
        others = [v for v in found if v != positive]
        negative = others[0] if len(others) == 1 else f"not {positive}"
        labels, y = (negative, positive), (values == positive).to_numpy().astype(np.int64)
    elif len(found) == 2:
        chosen = [v for v in found if v.lower() in POSITIVE_WORDS]
        pick = chosen[0] if len(chosen) == 1 else found[1]
        if not chosen or len(chosen) > 1:
            note = f"positive class {pick!r}, the later of the two values (--positive picks one)"
        labels = (found[0] if pick == found[1] else found[1], pick)
        y = (values == pick).to_numpy().astype(np.int64)
    else:
        labels = tuple(found)
        index = {label: k for k, label in enumerate(labels)}
        y = values.map(index).to_numpy().astype(np.int64)
    for k, label in enumerate(labels):
        count = int((y == k).sum())
        if count < MIN_PER_CLASS:
            raise DataError(
                f"{path}: class {label!r} of column {target!r} has {count} row"
                f"{'s' if count != 1 else ''}; each class needs at least {MIN_PER_CLASS}, so "
                "that the validation and test splits get some"
            )
    return labels, y, len(labels) == 2, note


def _sorted(values: list[str]) -> list[str]:
    """Numerically when every value is a number (2 before 10), else alphabetically."""
    try:
        return sorted(values, key=float)
    except ValueError:
        return sorted(values)


def _line(mask: pd.Series) -> int:
    """The file's line of the first row where ``mask`` holds (the header is line 1)."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 2


def _list(names: list[str]) -> str:
    shown = ", ".join(names[:10])
    return shown + (f", ... ({len(names)} in all)" if len(names) > 10 else "")


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
