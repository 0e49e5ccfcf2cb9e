"""The repository's small JSON files (`manifest.json`, `serving.json`, `control.json`), read
one way by both halves.

Parsed by pydantic's own JSON parser (jiter), never `json.loads`: jiter refuses nesting
deeper than its recursion limit (about 200 levels) with an ordinary error, where `json.loads`
raises RecursionError on a few kilobytes of `[` (a 40 KB `serving.json` once stopped every
rescan). Every problem, JSON or schema, comes back as one ValueError naming the file.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

Schema = TypeVar("Schema", bound=BaseModel)

_OBJECT: TypeAdapter[dict[str, Any]] = TypeAdapter(dict[str, Any])


def parse(schema: type[Schema], raw: bytes, file: str) -> Schema:
    """The file's bytes as `schema`, or ValueError: "invalid FILE: WHERE: WHAT"."""
    try:
        return schema.model_validate_json(raw)
    except ValidationError as exc:
        raise ValueError(describe(exc, file)) from None


def load(raw: bytes, file: str) -> dict[str, Any]:
    """The file's bytes as a plain JSON object (for readers that keep the document as it is),
    or ValueError naming the problem."""
    try:
        return _OBJECT.validate_json(raw)
    except ValidationError as exc:
        raise ValueError(describe(exc, file)) from None


def describe(error: ValidationError, file: str) -> str:
    """The first problem, in one line; never the input (it may be megabytes)."""
    first = error.errors(include_input=False, include_url=False)[0]
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "json_invalid":
        return f"invalid {file}: not JSON: {message.removeprefix('Invalid JSON: ')}"
    where = ".".join(str(part) for part in first["loc"]) or "the file"
    return f"invalid {file}: {where}: {message}"
