"""The manifest bounds what every prediction repeats: its labels, one by one and together."""

from __future__ import annotations

import json

import pytest

from modelrepo import manifest
from tests.builders import tabular_manifest


def parse(labels: list[str]) -> manifest.Manifest:
    document = tabular_manifest("wide", 1, ["x"], "multiclass", labels, len(labels))
    return manifest.parse(json.dumps(document | {"model_sha256": "0" * 64}).encode())


@pytest.mark.parametrize(
    ("labels", "words"),
    [
        (["a", "b" * 257], "each label is at most 256 bytes (UTF-8); label 1 has 257"),
        (["a", "é" * 129], "each label is at most 256 bytes (UTF-8); label 1 has 258"),
        ([f"{i:0200d}" for i in range(2000)], "the labels take 400000 bytes (UTF-8), more than"),
    ],
    ids=["one-long", "multibyte", "in-all"],
)
def test_labels_over_their_bounds_are_refused_naming_the_bound(
    labels: list[str], words: str
) -> None:
    with pytest.raises(ValueError, match=r"^invalid manifest.json: labels: ") as refused:
        parse(labels)
    assert words in str(refused.value)


def test_labels_within_their_bounds_are_measured_once() -> None:
    parsed = parse(["a", "é" * 128, "ccc"])
    assert (parsed.label_bytes, parsed.longest_label_bytes) == (260, 256)
