"""Your own table: numeric columns by name, the target's values as the classes, bounded."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from training.data import table
from training.data.table import read_table
from training.errors import DataError


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def rows(n: int, target: str = "y") -> str:
    """``n`` rows of two features and a target alternating between 'no' and 'yes'."""
    body = "".join(f"{i},{i * 0.5},{'yes' if i % 2 else 'no'}\n" for i in range(n))
    return f"age,income (k$),{target}\n{body}"


def test_the_header_names_the_features_and_the_target_values_are_the_classes(
    tmp_path: Path,
) -> None:
    read = read_table(write_csv(tmp_path / "t.csv", rows(40)), "y")
    assert read.features == ("age", "income (k$)")
    assert read.binary and read.labels == ("no", "yes")  # "yes" reads as the positive class
    assert read.note is None
    assert read.x.dtype == np.float32 and read.x.shape == (40, 2)
    assert read.x[3].tolist() == [3.0, 1.5] and read.y[:4].tolist() == [0, 1, 0, 1]


def test_two_values_with_no_positive_word_take_the_later_and_say_so(tmp_path: Path) -> None:
    text = rows(40).replace(",yes", ",malignant").replace(",no", ",benign")
    read = read_table(write_csv(tmp_path / "t.csv", text), "y")
    assert read.labels == ("benign", "malignant")
    assert read.note is not None and "positive class 'malignant'" in read.note


def test_positive_chooses_the_class_and_against_the_rest_of_a_multiclass_target(
    tmp_path: Path,
) -> None:
    body = "".join(f"{i},{('red', 'green', 'blue')[i % 3]}\n" for i in range(60))
    path = write_csv(tmp_path / "t.csv", "x,colour\n" + body)
    multi = read_table(path, "colour")
    assert not multi.binary and multi.labels == ("blue", "green", "red")
    one = read_table(path, "colour", positive="green")
    assert one.binary and one.labels == ("not green", "green")
    assert one.y.sum() == 20


def test_numeric_targets_sort_as_numbers(tmp_path: Path) -> None:
    body = "".join(f"{i},{(2, 10, 1)[i % 3]}\n" for i in range(60))
    read = read_table(write_csv(tmp_path / "t.csv", "x,grade\n" + body), "grade")
    assert read.labels == ("1", "2", "10")


INCOME = r"column 'income \(k\$\)'"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (rows(40).replace("7,3.5", "7,"), INCOME + " has 1 missing value, the first on line 9"),
        (rows(40).replace("5,2.5", "5,abc"), INCOME + " is not numeric: line 7 has 'abc'"),
        (
            rows(40).replace("4,2.0", "4,1e50"),
            INCOME + " has a value too large for float32 on line 6",
        ),
        (rows(40).replace(",no\n", ",yes\n"), r"target column 'y' has a single value \('yes'\)"),
        (
            rows(40).replace("2,1.0,no", "2,1.0,"),
            r"the target column 'y' has missing values, the first on line 4",
        ),
        (rows(15), r"class 'no' of column 'y' has 8 rows; each class needs at least 10"),
        (
            rows(40, target="label"),
            r"no column 'y' to predict \(its columns: age, income \(k\$\), label\)",
        ),
        ("age,age,y\n1,2,no\n", r"column 'age' appears twice in the header"),
        ("y\nno\nyes\n", r"no columns besides the target 'y'"),
        ("", r"empty, or no header line"),
        ("age,y\n", r"no rows under the header"),
    ],
)  # fmt: skip
def test_a_table_that_cannot_be_trained_on_is_refused_naming_the_column_and_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(DataError, match=message):
        read_table(write_csv(tmp_path / "t.csv", text), "y")


def test_a_target_of_many_values_is_refused_as_not_a_class(tmp_path: Path) -> None:
    body = "".join(f"{i},{i * 1.5}\n" for i in range(300))
    with pytest.raises(DataError, match=r"300 distinct values, more than the 100 classes"):
        read_table(write_csv(tmp_path / "t.csv", "x,price\n" + body), "price")


def test_positive_that_is_not_a_value_of_the_target_is_refused_listing_them(
    tmp_path: Path,
) -> None:
    with pytest.raises(
        DataError, match=r"--positive 'Yes' is not a value of column 'y' \(its values: no, yes\)"
    ):
        read_table(write_csv(tmp_path / "t.csv", rows(40)), "y", positive="Yes")


def test_parquet_is_refused_with_the_one_line_that_makes_it_a_csv(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"only CSV tables are read.*pd.read_parquet"):
        read_table(write_csv(tmp_path / "t.parquet", "PAR1"), "y")


def test_a_file_far_too_large_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    with path.open("wb") as f:  # sparse
        f.truncate(table.MAX_BYTES + 1)
    started = time.perf_counter()
    with pytest.raises(DataError, match=r"big.csv: 512 MiB, far too large"):
        read_table(path, "y")
    assert time.perf_counter() - started < 5


def test_rows_past_the_limit_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(table, "MAX_ROWS", 30)
    with pytest.raises(DataError, match=r"more than 30 rows of 3 columns"):
        read_table(write_csv(tmp_path / "t.csv", rows(40)), "y")


def test_cells_past_the_limit_bound_the_rows_of_a_wide_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table, "MAX_CELLS", 90)  # 3 columns: 30 rows at most
    with pytest.raises(DataError, match=r"more than 30 rows"):
        read_table(write_csv(tmp_path / "t.csv", rows(40)), "y")


def test_columns_past_the_limit_are_refused_from_the_header_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table, "MAX_COLUMNS", 2)
    with pytest.raises(DataError, match=r"3 columns, more than 2"):
        read_table(write_csv(tmp_path / "t.csv", rows(40)), "y")
