"""The vectorised reader of large whole-number arrays agrees with orjson on every body it
accepts, and hands everything else to orjson."""

from __future__ import annotations

import json

import numpy as np
import orjson
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from service.api.numbers import ascii_number, loads, may_hold_booleans

SEPARATORS = st.sampled_from(
    [",", ", ", " ,", " , ", ",,", ", ,", " ", "  ", "", ",\n", "  ,", ",  ", ",   ", "\t,", " ,  "]
)


def body(text: str) -> bytes:
    pad = " " * 4096  # over the size where the vectorised path starts
    return f'{{"id": "{pad}", "inputs": [{{"name": "pixels", "data": [{text}]}}]}}'.encode()


@settings(max_examples=1000, deadline=None)
@given(
    st.lists(st.integers(0, 999), min_size=1, max_size=40),
    st.lists(SEPARATORS, min_size=40, max_size=40),
    st.sampled_from(["", "0", "00", "-", ".5", "e1", " ", ",", "x", "true", '"']),
)
def test_agrees_with_orjson_or_defers_to_it(
    numbers: list[int], seps: list[str], noise: str
) -> None:
    text = str(numbers[0]) + "".join(s + str(n) for s, n in zip(seps, numbers[1:]))
    text = text[: len(text) // 2] + noise + text[len(text) // 2 :]
    raw = body(text)
    try:
        expected = orjson.loads(raw)
    except orjson.JSONDecodeError:
        expected = None
    try:
        got = loads(raw)
    except orjson.JSONDecodeError:
        got = None
    if expected is None:
        assert got is None
        return
    data = got["inputs"][0]["data"]
    if isinstance(data, np.ndarray):
        assert data.tolist() == expected["inputs"][0]["data"]
    else:
        assert got == expected


def test_a_large_pixel_array_comes_back_as_numpy() -> None:
    pixels = np.random.default_rng(0).integers(0, 256, 64 * 784)
    doc = loads(json.dumps({"inputs": [{"name": "pixels", "data": pixels.tolist()}]}).encode())
    data = doc["inputs"][0]["data"]
    assert isinstance(data, np.ndarray) and (data == pixels).all()


def plain(doc: object) -> object:
    """numpy arrays as lists, to compare with orjson's output."""
    if isinstance(doc, dict):
        return {k: plain(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [plain(v) for v in doc]
    return doc.tolist() if isinstance(doc, np.ndarray) else doc


def test_data_inside_a_string_or_under_another_key_is_left_to_orjson() -> None:
    numbers = ",".join(["7"] * 3000)
    sneaky = json.dumps({"id": f'"data": [{numbers}]', "inputs": [{"data": [1, 2]}]}).encode()
    assert plain(loads(sneaky)) == orjson.loads(sneaky)
    assert loads(sneaky)["id"].startswith('"data": [7,7')
    other = f'{{"inputs": [{{"data": [1]}}], "parameters": {{"data": [{numbers}]}}}}'.encode()
    assert loads(other) == orjson.loads(other)


def test_booleans_and_strings_take_the_general_path() -> None:
    for value in ("true", '"3"', "null", "1.5", "-1", "1e3", "01"):
        raw = body(f"1, 2, {value}, 4")
        try:
            expected = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        assert loads(raw) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet='truefals ,[]{}"0', max_size=300), st.sampled_from([0, 1800, 4000]))
@example("ttrue", 4000)  # a first letter right before the word
@example("fafalse", 4000)
def test_the_boolean_scan_finds_true_and_false_wherever_they_are(text: str, padding: int) -> None:
    # Padded past 2 KB, the scan hops between first letters instead of searching at once.
    raw = b"0," * (padding // 2) + text.encode()
    assert may_hold_booleans(raw) == (b"true" in raw or b"false" in raw)


def test_the_boolean_scan_still_answers_in_a_text_full_of_first_letters() -> None:
    many = b"t" * 10_000
    assert not may_hold_booleans(many)
    assert may_hold_booleans(many + b"true")
    assert may_hold_booleans(b"f" * 10_000 + b"false")


@pytest.mark.parametrize(
    ("text", "value"),
    [("0.5", 0.5), (".5", 0.5), ("5e-1", 0.5), ("1", 1.0), ("0.", 0.0), ("12.25E+2", 1225.0)],
)
def test_ascii_numbers_are_read(text: str, value: float) -> None:
    assert ascii_number(text) == value


@pytest.mark.parametrize(
    "text", ["٠.٥", "０.５", "0.5_0", " 0.5", "0.5 ", "nan", "inf", "-0.5", "+1", "", ".", "1e999"]
)
def test_anything_float_reads_beyond_plain_ascii_decimals_is_refused(text: str) -> None:
    """float() reads Unicode digits, underscores, blanks, nan and inf: a client's number
    means one thing here, whatever reads it."""
    assert ascii_number(text) is None
