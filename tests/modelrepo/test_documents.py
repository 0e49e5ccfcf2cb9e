"""The repository's small JSON files are read one way by both halves (modelrepo/documents.py):
bounded in depth, every problem one ValueError naming the file, never a RecursionError."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from modelrepo import control_state, documents, manifest, serving_config
from tests.builders import image_manifest

# 40 KB: under every size limit of the repository's small files.
NESTED = b"[" * 40_000

PARSERS: list[tuple[Callable[[bytes], Any], str]] = [
    (serving_config.parse, "serving.json"),
    (control_state.parse, "control.json"),
    (manifest.parse, "manifest.json"),
]


@pytest.mark.parametrize(("parse", "file"), PARSERS, ids=[file for _, file in PARSERS])
def test_a_deeply_nested_file_is_refused_naming_the_file_not_with_a_recursion_error(
    parse: Callable[[bytes], Any], file: str
) -> None:
    for depth in (1_000, 40_000):  # past Python's recursion limit, and the reported file
        with pytest.raises(ValueError, match=f"^invalid {file}: not JSON: recursion limit") as e:
            parse(b"[" * depth + b"]" * depth)
        assert len(str(e.value)) < 120  # one line, never the input


def test_a_document_read_as_it_is_is_bounded_in_depth_too() -> None:
    with pytest.raises(ValueError, match="invalid manifest.json: not JSON: recursion limit"):
        documents.load(NESTED, "manifest.json")
    with pytest.raises(ValueError, match="invalid manifest.json: the file: Input should be"):
        documents.load(b"[1, 2]", "manifest.json")


def test_a_manifest_nested_as_training_writes_it_still_parses() -> None:
    document = image_manifest("mnist", 1) | {
        "model_sha256": "0" * 64,
        "training": {"config": {"optimizer": {"adam": {"betas": [[0.9], [0.999]]}}}},
        "metrics": {"accuracy": 0.9, "roc_auc": None},
    }
    parsed = manifest.parse(json.dumps(document).encode())
    assert parsed.training == document["training"] and parsed.metrics["roc_auc"] is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"{not json", "invalid serving.json: not JSON: key must be a string"),
        (b'{"default": 1} trailing', "invalid serving.json: not JSON: trailing characters"),
        (b"\xff\xfe{}", "invalid serving.json: not JSON: expected value"),
        (b"[1]", "invalid serving.json: the file: Input should be an object"),
        (
            b'{"version_policy": {"latest": {}, "all": {}}}',
            "invalid serving.json: version_policy: give exactly one of latest, specific or all",
        ),
    ],
    ids=["not-json", "trailing", "not-utf8", "not-an-object", "schema"],
)
def test_every_problem_is_one_line_naming_the_file_and_where(raw: bytes, message: str) -> None:
    with pytest.raises(ValueError) as e:
        serving_config.parse(raw)
    assert str(e.value).startswith(message), e.value
