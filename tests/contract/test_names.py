"""Both halves read a model repository's folder names by the same rules: the two patterns
the contract page states, which the training half writes by and the service reads by."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service import repository
from training import publish

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "model-repository.md"


def documented(label: str) -> str:
    found = re.search(rf"^- {label}: `([^`]+)`$", CONTRACT.read_text(), re.MULTILINE)
    assert found is not None, f"docs/model-repository.md states no pattern for the {label}"
    return found.group(1)


@pytest.mark.parametrize(
    ("label", "attribute"), [("model name", "NAME_PATTERN"), ("version", "VERSION_PATTERN")]
)
def test_training_and_the_service_use_the_documented_pattern(label: str, attribute: str) -> None:
    pattern = documented(label)
    assert getattr(publish, attribute).pattern == pattern
    assert getattr(repository, attribute).pattern == pattern


@pytest.mark.parametrize("text", ["1", "10", "999999999", "0", "01", "1.0", "1000000000", "-1"])
def test_both_halves_agree_on_what_is_a_version(text: str) -> None:
    trained = publish.VERSION_PATTERN.fullmatch(text) is not None
    served = repository.VERSION_PATTERN.fullmatch(text) is not None
    assert trained == served == (text in ("1", "10", "999999999"))
