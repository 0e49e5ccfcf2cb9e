"""The report beside a model version (a model card and figures, for people), read for the
route that serves it.

Only what the version's manifest lists is served, each file by its plain name inside the
version folder, with the content type its extension gives (manifest.REPORT_MEDIA_TYPES) and
only while its bytes still match the sha256 the manifest lists: a name the manifest does not
list, a link out of the folder, a FIFO or an edited file are all "not found", and nothing
else in the repository can be reached through this route. Reads go through `Disk` like every
other read of the repository, so a hung mount costs the request a timeout, not the loop.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from modelrepo.manifest import ReportFile
from service.errors import NotFound
from service.repository.disk import Disk, read_regular_file
from service.repository.folders import inside
from service.runtime.loaded_model import LoadedModel

# A figure is a few hundred KB; a report file larger than this is not one we wrote.
MAX_REPORT_BYTES = 16 * 1024 * 1024


@dataclass(frozen=True)
class Report:
    entry: ReportFile
    content: bytes


def url(model: LoadedModel, entry: ReportFile) -> str:
    return f"/v1/models/{model.name}/versions/{model.version}/report/{entry.file}"


def links(model: LoadedModel) -> list[dict[str, str]]:
    """The version's report files as links for its metadata."""
    return [
        {"file": r.file, "title": r.title, "media_type": r.media_type, "url": url(model, r)}
        for r in model.manifest.report_files
    ]


class Reports:
    def __init__(self, disk: Disk, max_bytes: int = MAX_REPORT_BYTES) -> None:
        self._disk = disk
        self._max_bytes = max_bytes

    async def read(self, model: LoadedModel, file: str) -> Report:
        """The report file `file` of `model`'s version; NotFound, naming why, otherwise."""
        where = f"model '{model.name}' version {model.version}"
        entry = model.manifest.report(file)
        if entry is None:
            listed = ", ".join(r.file for r in model.manifest.report_files) or "none"
            raise NotFound(f"{where} has no report file '{file[:100]}' (its report: {listed})")
        if model.folder is None:
            raise NotFound(f"{where} has no folder to read its report from")
        try:
            content = await self._disk.call(
                str(model.folder), _read, model.folder, entry.file, self._max_bytes
            )
        except OSError as exc:
            raise NotFound(f"{where}: cannot read report file '{file}': {_why(exc)}") from exc
        if hashlib.sha256(content).hexdigest() != entry.sha256:
            raise NotFound(
                f"{where}: report file '{file}' no longer matches the sha256 its manifest lists"
            )
        return Report(entry, content)


def _read(folder: Path, file: str, limit: int) -> bytes:
    path = folder / file
    # The name is plain (the manifest's pattern); a link in its place may still point out,
    # or loop (the repository's own check, which a loop cannot crash).
    if not inside(path, folder.resolve()):
        raise PermissionError("it links outside the version folder")
    return read_regular_file(path, limit)


def _why(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return exc.strerror or str(exc) or type(exc).__name__
