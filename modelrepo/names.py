"""Names in the model repository: model folders, version folders, and the files in them."""

from __future__ import annotations

import re

NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")
VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
NAME_RULE = "use 1-64 letters, digits, '_', '-' and '.', starting with a letter, digit or '_'"
VERSION_RULE = "a positive integer without leading zeros"

MODEL_FILE = "model.onnx"
MANIFEST_FILE = "manifest.json"
# Beside the versions: people's serving config, and what the control API and CLI decided.
SERVING_FILE = "serving.json"
CONTROL_FILE = "control.json"
# A version being published is staged in a folder of this prefix beside the versions; readers
# skip every name that starts with a dot.
STAGING_PREFIX = ".tmp-"


def is_model_name(text: str) -> bool:
    return NAME_PATTERN.fullmatch(text) is not None


def is_version(text: str) -> bool:
    return VERSION_PATTERN.fullmatch(text) is not None
