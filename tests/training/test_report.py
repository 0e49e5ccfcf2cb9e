"""The report beside each published version: the files the manifest lists, and what they show."""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from training.pipeline import TrainReport
from training.report import figures
from training.tasks import TASKS, get_task

DIAGNOSTIC = {
    "mnist": "confusion_matrix.png",
    "mnist-cnn": "confusion_matrix.png",
    "multilabel": "per_label.png",
    "tshirt": "roc.png",
    "coffee": "roc.png",
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from the PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC), path
    width, height = struct.unpack(">II", data[16:24])
    return width, height


def listed(report: TrainReport) -> dict[str, dict[str, str]]:
    manifest = json.loads((report.published.path / "manifest.json").read_text())
    return {entry["file"]: entry for entry in manifest["report_files"]}


@pytest.mark.parametrize("name", list(TASKS))
def test_every_report_file_is_listed_with_its_sha256_and_media_type(
    name: str, published: dict[str, TrainReport]
) -> None:
    folder = published[name].published.path
    files = listed(published[name])
    expected = {"README.md", "learning_curve.png", "mistakes.png", "reliability.png"}
    expected.add(DIAGNOSTIC[name])
    if get_task(name).robustness:
        expected.add("robustness.png")
    assert set(files) == expected
    for file, entry in files.items():
        assert entry["sha256"] == hashlib.sha256((folder / file).read_bytes()).hexdigest()
        assert entry["media_type"] == ("text/markdown" if file.endswith(".md") else "image/png")
        assert entry["title"]


@pytest.mark.parametrize("name", list(TASKS))
def test_report_figures_are_real_pngs_of_a_readable_size(
    name: str, published: dict[str, TrainReport]
) -> None:
    folder = published[name].published.path
    for file in listed(published[name]):
        if file.endswith(".png"):
            width, height = png_size(folder / file)
            assert 300 <= width <= 1400 and 150 <= height <= 1400, (file, width, height)
            assert (folder / file).stat().st_size > 5000  # drawn, not blank


def test_model_card_has_every_section_and_the_manifests_figures(
    published: dict[str, TrainReport],
) -> None:
    report = published["mnist"]
    card = (report.published.path / "README.md").read_text()
    for section in (
        "## Intended use",
        "## Data and split",
        "## Network",
        "## Recipe",
        "## Held-out figures",
        "## Robustness",
        "## Calibration",
        "## Known limits",
        "## How to reproduce",
    ):
        assert section in card, section
    accuracy = report.manifest["metrics"]["accuracy"]
    assert f"| accuracy | {accuracy:.4f} |" in card
    # Each goal says whether this version met it (a two-epoch model misses most).
    verdict = "met" if accuracy >= 0.95 else "**missed**"
    assert f">= 0.9500: {verdict} |" in card
    assert "python -m training train mnist --seed 0" in card
    for file in listed(report):
        if file.endswith(".png"):
            assert f"]({file})" in card
    for condition in report.manifest["robustness"]["accuracy"]:
        assert f"| {condition}:" in card


def test_a_tabular_model_card_has_no_robustness_section(published: dict[str, TrainReport]) -> None:
    card = (published["tshirt"].published.path / "README.md").read_text()
    assert "## Robustness" not in card and "## Calibration" in card


def test_gallery_draws_up_to_sixteen_images_with_captions(tmp_path: Path) -> None:
    images = np.random.default_rng(0).integers(0, 255, (16, 28, 28), dtype=np.uint8)
    figures.mistakes_gallery(
        images, [f"true 1\nsaid {i}" for i in range(16)], tmp_path / "g.png", "t"
    )
    width, height = png_size(tmp_path / "g.png")
    assert height > width * 0.8  # four rows of four


def test_gallery_of_no_mistakes_says_so(tmp_path: Path) -> None:
    figures.mistakes_gallery(np.zeros((0, 28, 28), np.uint8), [], tmp_path / "g.png", "t")
    assert png_size(tmp_path / "g.png")[0] > 0
