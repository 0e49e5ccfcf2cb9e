"""The repository's names are the contract page's: the two patterns docs/model-repository.md
states are the ones both halves read and write by (both import them from here)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from modelrepo import names

CONTRACT = Path(__file__).resolve().parents[2] / "docs" / "model-repository.md"


def documented(label: str) -> str:
    found = re.search(rf"^- {label}: `([^`]+)`$", CONTRACT.read_text(), re.MULTILINE)
    assert found is not None, f"docs/model-repository.md states no pattern for the {label}"
    return found.group(1)


@pytest.mark.parametrize(
    ("label", "attribute"), [("model name", "NAME_PATTERN"), ("version", "VERSION_PATTERN")]
)
def test_the_patterns_are_the_documented_ones(label: str, attribute: str) -> None:
    assert getattr(names, attribute).pattern == documented(label)


@pytest.mark.parametrize("text", ["1", "10", "999999999", "0", "01", "1.0", "1000000000", "-1"])
def test_a_version_is_a_positive_integer_without_leading_zeros(text: str) -> None:
    assert names.is_version(text) == (text in ("1", "10", "999999999"))


@pytest.mark.parametrize("name", ["", "../etc", "..", ".", ".tmp-1", "a/b", "-x", "x" * 65])
def test_names_that_could_escape_or_hide_are_not_model_names(name: str) -> None:
    assert not names.is_model_name(name)
