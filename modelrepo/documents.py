"""The repository's small JSON files (`manifest.json`, `serving.json`, `control.json`), read
and written one way by both halves.

Parsed by pydantic's own JSON parser (jiter), never `json.loads`: jiter refuses nesting
deeper than its recursion limit (about 200 levels) with an ordinary error, where `json.loads`
raises RecursionError on a few kilobytes of `[` (a 40 KB `serving.json` once stopped every
rescan). Every problem, JSON or schema, comes back as one ValueError naming the file.

A file is written whole into a temporary file beside it, fsynced, then moved into place, so a
reader sees the old file or the new one, never half of one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
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


def write(path: Path, data: bytes, *, replace: bool = True) -> bool:
    """`data` as the file at `path`, whole: it replaces the file (`replace`), or is linked into
    place only where there is none (False then, the existing file untouched). OSError when
    the folder cannot be written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if replace:
            os.replace(tmp, path)
            return True
        try:
            os.link(tmp, path)  # fails where the file exists: a person's file always wins
        except FileExistsError:
            return False
        return True
    finally:
        Path(tmp).unlink(missing_ok=True)
