"""The report beside a model version (a model card and figures, for people), streamed for the
route that serves it.

Only what the version's manifest lists is served, each file by its plain name inside the
version folder, with the content type its extension gives (manifest.REPORT_MEDIA_TYPES) and
only while its bytes match the sha256 the manifest lists: a name the manifest does not list,
a link out of the folder, a FIFO or an edited file are all "not found", and nothing else in
the repository can be reached through this route. Reads go through `Disk` like every other
read of the repository, so a hung mount costs the request a timeout, not the loop.

A file is never held whole: it is hashed in one streamed pass before its first byte is sent
(a mismatch is still a 404), then sent in chunks read from the same descriptor. A file whose
identity (device, inode, size, modification and change times) was hashed and matched before
is not hashed again: writing a file changes its change time, which no one can set back. The
identity is checked again before the last chunk goes out, so a file changed while it was
being sent is cut short rather than completed. At most `readers` files are sent at once;
past that a request gets 503.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TypeVar

from modelrepo.manifest import ReportFile
from service.errors import NotFound, Overloaded
from service.repository.disk import Disk, open_regular_file
from service.repository.folders import inside
from service.runtime.loaded_model import LoadedModel

T = TypeVar("T")

# A figure is a few hundred KB; a report file larger than this is not one we wrote.
MAX_REPORT_BYTES = 16 * 1024 * 1024
CHUNK_BYTES = 256 * 1024
MAX_VERIFIED = 1024  # identities remembered as matching their sha256

Identity = tuple[int, int, int, int, int]


def url(model: LoadedModel, entry: ReportFile) -> str:
    return f"/v1/models/{model.name}/versions/{model.version}/report/{entry.file}"


def links(model: LoadedModel) -> list[dict[str, str]]:
    """The version's report files as links for its metadata."""
    return [
        {"file": r.file, "title": r.title, "media_type": r.media_type, "url": url(model, r)}
        for r in model.manifest.report_files
    ]


class Reports:
    def __init__(self, disk: Disk, readers: int = 4, max_bytes: int = MAX_REPORT_BYTES) -> None:
        self._disk = disk
        self._readers = readers
        self._max_bytes = max_bytes
        self.sending = 0  # files open for a request now
        self._verified: OrderedDict[Identity, str] = OrderedDict()

    async def open(self, model: LoadedModel, file: str) -> ReportStream:
        """The report file `file` of `model`'s version, verified and ready to stream; NotFound,
        naming why, or Overloaded when `readers` files are being sent already. The caller
        closes it."""
        where = f"model '{model.name}' version {model.version}"
        entry = model.manifest.report(file)
        if entry is None:
            listed = ", ".join(r.file for r in model.manifest.report_files) or "none"
            raise NotFound(f"{where} has no report file '{file[:100]}' (its report: {listed})")
        if model.folder is None:
            raise NotFound(f"{where} has no folder to read its report from")
        if self.sending >= self._readers:
            raise Overloaded(f"{self._readers} report files are being sent already: retry shortly")
        self.sending += 1
        key = str(model.folder)
        opened: _Descriptor | None = None
        try:
            opened = await self._disk.call(key, _open, model.folder, entry.file, self._max_bytes)
            if self._verified.get(opened.identity) != entry.sha256:
                digest = await self._disk.call(key, opened.use, _sha256, opened.size)
                if digest != entry.sha256:
                    raise NotFound(
                        f"{where}: report file '{file}' no longer matches the sha256 its "
                        "manifest lists"
                    )
                self._remember(opened.identity, digest)
            return ReportStream(entry, opened, self._disk, key, self._release)
        except OSError as exc:
            if opened is not None:
                opened.close()
            self._release()
            raise NotFound(f"{where}: cannot read report file '{file}': {_why(exc)}") from exc
        except BaseException:
            if opened is not None:
                opened.close()
            self._release()
            raise

    def _remember(self, identity: Identity, digest: str) -> None:
        self._verified[identity] = digest
        self._verified.move_to_end(identity)
        while len(self._verified) > MAX_VERIFIED:
            self._verified.popitem(last=False)

    def _release(self) -> None:
        self.sending -= 1


class ReportStream:
    """One report file on its way to a client: its manifest entry, its size, and its bytes
    in chunks. `close` once done, sent or not (it frees the reader's place)."""

    def __init__(
        self,
        entry: ReportFile,
        opened: _Descriptor,
        disk: Disk,
        key: str,
        release: Callable[[], None],
    ) -> None:
        self.entry = entry
        self.size = opened.size
        self._opened = opened
        self._disk = disk
        self._key = key
        self._release: Callable[[], None] | None = release

    async def chunks(self) -> AsyncIterator[bytes]:
        offset = 0
        while offset < self.size:
            count = min(CHUNK_BYTES, self.size - offset)
            chunk = await self._disk.call(self._key, self._opened.use, os.pread, count, offset)
            if not chunk:
                raise OSError(f"report file '{self.entry.file}' shrank while it was sent")
            offset += len(chunk)
            if offset >= self.size:  # before the last bytes: still the file that was hashed
                now = await self._disk.call(self._key, self._opened.use, _identity)
                if now != self._opened.identity:
                    raise OSError(f"report file '{self.entry.file}' changed while it was sent")
            yield chunk

    def close(self) -> None:
        self._opened.close()
        if self._release is not None:
            self._release()
            self._release = None


class _Descriptor:
    """An open file that a thread may be reading when the request gives up on it: `close`
    closes it at once, or, while a read is under way, once that read is done (closing it
    under the read would let the number be reused by another file and read from that)."""

    def __init__(self, fd: int, info: os.stat_result) -> None:
        self._fd = fd
        self.size = info.st_size
        self.identity = _identity_of(info)
        self._lock = threading.Lock()
        self._reading = False
        self._closed = False

    def use(self, fn: Callable[..., T], *args: object) -> T:
        """fn(fd, *args), on the disk's thread."""
        with self._lock:
            if self._closed:
                raise OSError("closed")
            self._reading = True
        try:
            return fn(self._fd, *args)
        finally:
            with self._lock:
                self._reading = False
                if self._closed:
                    os.close(self._fd)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if not self._reading:
                os.close(self._fd)


def _open(folder: Path, file: str, limit: int) -> _Descriptor:
    path = folder / file
    # The name is plain (the manifest's pattern); a link in its place may still point out,
    # or loop (the repository's own check, which a loop cannot crash).
    if not inside(path, folder.resolve()):
        raise PermissionError("it links outside the version folder")
    return _Descriptor(*open_regular_file(path, limit))


def _sha256(fd: int, size: int) -> str:
    digest = hashlib.sha256()
    offset = 0
    while offset < size:
        chunk = os.pread(fd, min(1024 * 1024, size - offset), offset)
        if not chunk:
            break
        digest.update(chunk)
        offset += len(chunk)
    if os.pread(fd, 1, offset):  # grew since it was opened: not the file measured
        digest.update(b"\0")
    return digest.hexdigest()


def _identity(fd: int) -> Identity:
    return _identity_of(os.fstat(fd))


def _identity_of(info: os.stat_result) -> Identity:
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


def _why(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "no such file"
    return exc.strerror or str(exc) or type(exc).__name__
