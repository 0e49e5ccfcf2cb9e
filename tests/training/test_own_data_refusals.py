"""Data that cannot be trained on, and options that do not fit together: one line naming the
file, folder or column, exit status 2, and nothing written into the model repository."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.training.conftest import write_digit_folder
from tests.training.test_own_images import png_declaring
from training.cli import app

Spoil = Callable[[Path], list[str]]


def images(tmp_path: Path) -> Path:
    return write_digit_folder(tmp_path / "imgs", {"zero": 0, "one": 1}, 12)


def empty_class(tmp_path: Path) -> list[str]:
    folder = images(tmp_path)
    (folder / "seven").mkdir()
    (folder / "seven" / "readme.txt").write_text("to do")
    return ["--images", str(folder)]


def single_class(tmp_path: Path) -> list[str]:
    folder = images(tmp_path)
    shutil.rmtree(folder / "one")
    return ["--images", str(folder)]


def too_few(tmp_path: Path) -> list[str]:
    folder = images(tmp_path)
    for path in sorted((folder / "one").iterdir())[:4]:
        path.unlink()
    return ["--images", str(folder)]


def unreadable(tmp_path: Path) -> list[str]:
    folder = images(tmp_path)
    for path in sorted((folder / "zero").iterdir())[:3]:
        path.write_bytes(path.read_bytes()[:50])
    return ["--images", str(folder)]


def far_too_large(tmp_path: Path) -> list[str]:
    folder = images(tmp_path)
    (folder / "one" / "poster.png").write_bytes(png_declaring(12_000, 9_000))
    return ["--images", str(folder)]


def no_folder(tmp_path: Path) -> list[str]:
    return ["--images", str(tmp_path / "nowhere")]


def csv_rows(body: str) -> Spoil:
    def write(tmp_path: Path) -> list[str]:
        path = tmp_path / "t.csv"
        path.write_text("a,b,y\n" + body)
        return ["--table", str(path), "--target", "y"]

    return write


GOOD = "".join(f"{i},{i % 7},{'no' if i % 2 else 'yes'}\n" for i in range(40))

CASES: dict[str, tuple[Spoil, str]] = {
    "empty class folder": (
        empty_class, r"imgs/seven: no PNG or JPEG images in this class folder"
    ),
    "single class": (single_class, r"imgs: a single class folder \(zero\); a classifier needs"),
    "too few images": (
        too_few, r"imgs/one: 8 readable images; each class folder needs at least 10"
    ),
    "unreadable images": (
        unreadable, r"3 of 24 images \(12%\) cannot be read.*the first: .*imgs/zero/"
    ),
    "far too large": (
        far_too_large, r"imgs/one/poster.png: the image declares 12000x9000 pixels"
    ),
    "no such folder": (no_folder, r"image folder .*nowhere does not exist"),
    "missing value": (
        csv_rows(GOOD.replace("5,5,no", "5,,no")),
        r"t.csv: column 'b' has 1 missing value, the first on line 7",
    ),
    "not numeric": (
        csv_rows(GOOD.replace("5,5,no", "5,five,no")),
        r"t.csv: column 'b' is not numeric: line 7 has 'five'",
    ),
    "one-valued target": (
        csv_rows(GOOD.replace(",no", ",yes")), r"t.csv: the target column 'y' has a single value"
    ),
    "too few rows": (
        csv_rows(GOOD[:60]), r"t.csv: class 'no' of column 'y' has \d rows; each class needs"
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", list(CASES))
def test_bad_data_is_one_line_naming_it_exit_2_and_nothing_published(
    case: str, tmp_path: Path
) -> None:
    spoil, message = CASES[case]
    models = tmp_path / "models"
    result = CliRunner().invoke(
        app, ["train", "mine", *spoil(tmp_path), "--models-dir", str(models), "--quiet"]
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert re.search(message, lines[0]), lines[0]
    assert not (models / "mine").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["mine", "--labels-csv", "l.csv"], "--labels-csv goes with --images DIR"),
        (["mine", "--net", "mlp", "--table", "t.csv", "--target", "y"], "--net goes with --images"),
        (["mine", "--target", "y"], "--target goes with --table FILE"),
        (["mine", "--table", "t.csv"], "--table FILE needs --target COLUMN"),
        (["m", "--images", "d", "--table", "t.csv"], "give --images DIR or --table FILE, not both"),
        (["mnist", "--images", "d"], "'mnist' is one of the course's models"),
        (["../up", "--images", "d"], "invalid model name '../up'"),
        (["mine", "--images", "d", "--data-dir", "d"], "--data-dir reads MNIST's IDX files"),
    ],
)  # fmt: skip
def test_options_that_do_not_fit_together_are_usage_errors(
    args: list[str], message: str, tmp_path: Path
) -> None:
    result = CliRunner().invoke(app, ["train", *args, "--models-dir", str(tmp_path / "m")])
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {message}"), line
    assert not (tmp_path / "m").exists()
