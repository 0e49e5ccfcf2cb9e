"""Each version's report (model card and figures) is served beside its metadata: only the files
its manifest lists, by plain name, with the content type their extension gives, while their
bytes still match the listed sha256. Anything else is a 404 that says why; no path reaches
another file of the repository. Listings show each model's primary test metric."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from modelrepo.manifest import Manifest
from service.errors import NotFound
from service.handlers.reports import Reports
from service.repository.disk import Disk
from tests.builders import image_manifest, publish, random_mlp
from tests.servers import RunningServer, ServerProcess, running, running_process, wait_until

PNG = b"\x89PNG\r\n\x1a\n" + b"not really a figure, but bytes with a sha256"
CARD = b"# mnist\n\nA model card.\n"


def entry(file: str, content: bytes, title: str = "") -> dict[str, str]:
    return {"file": file, "sha256": hashlib.sha256(content).hexdigest(), "title": title}


@pytest.fixture(scope="module")
def repository(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`digits` lists good files, files it should not serve and entries no reader would
    serve; `older` has no report at all (a version from before reports existed)."""
    root = tmp_path_factory.mktemp("reports")
    outside = tmp_path_factory.mktemp("outside") / "secret.png"
    outside.write_bytes(b"a file outside the version folder")
    manifest = image_manifest("digits", 1) | {
        "metrics": {"accuracy": 0.956},
        "validation_metrics": {"accuracy": 0.95},
        "primary_metric": "accuracy",
        "report_files": [
            entry("README.md", CARD, "model card"),
            entry("confusion_matrix.png", PNG, "confusion matrix"),
            entry("edited.png", PNG),  # rewritten after publishing, below
            entry("escape.png", outside.read_bytes()),  # a link out of the folder, below
            entry("missing.png", PNG),
            entry("fifo.png", b""),
            entry("loop.png", b""),  # a link to itself, below
            entry("../manifest.json", b"{}"),  # not a plain name: left out
            entry("page.html", b"<script>"),  # not a type a report is served as: left out
            {"file": "nosha.png"},  # no sha256: left out
        ],
    }
    folder = publish(root, random_mlp(0), manifest)
    (folder / "README.md").write_bytes(CARD)
    (folder / "confusion_matrix.png").write_bytes(PNG)
    (folder / "edited.png").write_bytes(PNG + b" edited")
    (folder / "escape.png").symlink_to(outside)
    os.mkfifo(folder / "fifo.png")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "page.html").write_bytes(b"<script>")
    (folder / "nosha.png").write_bytes(PNG)
    older = image_manifest("older", 1) | {"primary_metric": "accuracy", "report_files": "junk"}
    # Fields for people in shapes this reader does not know: the version still serves.
    publish(
        root,
        random_mlp(2),
        image_manifest("odd", 1)
        | {"primary_metric": ["accuracy"], "validation_metrics": {"accuracy": {"mean": 0.9}}},
    )
    publish(root, random_mlp(1), older)
    return root


@pytest.fixture(scope="module")
def server(repository: Path) -> Iterator[RunningServer]:
    with running(repository, reload_interval_s=0, disk_timeout_s=2.0) as srv:
        yield srv


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as c:
        yield c


def report_url(file: str, model: str = "digits", version: int = 1) -> str:
    return f"/v1/models/{model}/versions/{version}/report/{file}"


def test_a_version_links_the_report_files_it_can_serve(client: httpx.Client) -> None:
    version = client.get("/v1/models/digits").json()["versions"][0]
    links = {link["file"]: link for link in version["report"]}
    assert sorted(links) == [
        "README.md",
        "confusion_matrix.png",
        "edited.png",
        "escape.png",
        "fifo.png",
        "loop.png",
        "missing.png",
    ]
    assert links["README.md"] == {
        "file": "README.md",
        "title": "model card",
        "media_type": "text/markdown; charset=utf-8",
        "url": report_url("README.md"),
    }
    assert version["metrics_split"] == "test"


def test_a_listed_file_comes_with_its_content_type_and_safe_headers(
    client: httpx.Client,
) -> None:
    figure = client.get(report_url("confusion_matrix.png"))
    assert figure.status_code == 200
    assert figure.content == PNG
    assert figure.headers["content-type"] == "image/png"
    assert figure.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in figure.headers["content-security-policy"]
    card = client.get(report_url("README.md"))
    assert card.headers["content-type"] == "text/markdown; charset=utf-8"
    assert card.content == CARD


def test_a_client_that_has_the_file_is_told_so(client: httpx.Client) -> None:
    etag = client.get(report_url("README.md")).headers["etag"]
    again = client.get(report_url("README.md"), headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""


@pytest.mark.parametrize(
    ("file", "why"),
    [
        ("model.onnx", "has no report file 'model.onnx'"),
        ("manifest.json", "has no report file 'manifest.json'"),
        ("page.html", "has no report file 'page.html'"),  # listed, but not a report's type
        ("nosha.png", "has no report file 'nosha.png'"),
        ("edited.png", "no longer matches the sha256"),
        ("escape.png", "links outside the version folder"),
        ("missing.png", "no such file"),
        ("fifo.png", "not a regular file"),
        ("loop.png", "links outside the version folder"),
    ],
)
def test_anything_else_is_not_found_and_says_why(client: httpx.Client, file: str, why: str) -> None:
    response = client.get(report_url(file))
    assert response.status_code == 404
    assert why in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/models/digits/versions/1/report/..%2Fmanifest.json",
        "/v1/models/digits/versions/1/report/%2e%2e%2f%2e%2e%2fdigits%2f1%2fmodel.onnx",
        "/v1/models/digits/versions/1/report/sub/README.md",
        "/v1/models/digits/versions/1/report/.README.md",
        "/v1/models/digits/versions/1/report/README.md%00.png",
    ],
)
def test_no_path_reaches_another_file(server: RunningServer, path: str) -> None:
    # Sent as written: httpx would normalise the dots away before they reach the server.
    with httpx.Client(base_url=server.url, timeout=10) as raw:
        response = raw.send(raw.build_request("GET", httpx.URL(server.url + path)))
    assert response.status_code == 404
    assert b"PNG" not in response.content
    assert b"format" not in response.content


def test_versions_and_models_that_do_not_exist(client: httpx.Client) -> None:
    assert client.get(report_url("README.md", version=2)).status_code == 404
    assert client.get(report_url("README.md", model="nope")).status_code == 404
    bad = client.get("/v1/models/digits/versions/01/report/README.md")
    assert bad.status_code == 400
    assert "invalid model version" in bad.json()["error"]


def test_a_manifest_with_a_broken_report_list_still_serves(client: httpx.Client) -> None:
    detail = client.get("/v1/models/older").json()
    assert detail["ready"] is True
    assert detail["versions"][0]["report"] == []
    # No validation_metrics: its metrics are from before the three-way split.
    assert detail["versions"][0]["metrics_split"] == "validation"


def test_unknown_shapes_of_the_fields_for_people_never_stop_a_version(
    client: httpx.Client,
) -> None:
    detail = client.get("/v1/models/odd").json()
    assert detail["ready"] is True
    assert detail["versions"][0]["primary_metric"] is None
    assert detail["versions"][0]["metrics_split"] == "test"


def test_the_listing_shows_each_models_primary_test_metric(client: httpx.Client) -> None:
    models = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
    assert models["digits"]["primary_metric"] == {
        "name": "accuracy",
        "value": 0.956,
        "split": "test",
    }
    assert models["older"]["primary_metric"]["split"] == "validation"


def test_the_shipped_models_serve_their_reports(shipped_models: Path) -> None:
    with (
        running(shipped_models, reload_interval_s=0) as srv,
        httpx.Client(base_url=srv.url, timeout=10) as client,
    ):
        listed = {m["name"]: m for m in client.get("/v1/models").json()["models"]}
        for name in ("mnist", "mnist-cnn", "multilabel", "tshirt", "coffee"):
            manifest: dict[str, Any] = json.loads(
                (shipped_models / name / "1" / "manifest.json").read_text()
            )
            primary = manifest["primary_metric"]
            assert listed[name]["primary_metric"] == {
                "name": primary,
                "value": manifest["metrics"][primary],
                "split": "test",
            }
            links = client.get(f"/v1/models/{name}").json()["versions"][0]["report"]
            assert {link["file"] for link in links} == {r["file"] for r in manifest["report_files"]}
            assert "README.md" in {link["file"] for link in links}
            for link in links:
                response = client.get(link["url"])
                assert response.status_code == 200, (name, link, response.text)
                assert response.headers["content-type"] == link["media_type"]
                if link["media_type"] == "image/png":
                    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


def read_whole(reports: Reports, model: Any, file: str) -> bytes:
    async def read() -> bytes:
        stream = await reports.open(model, file)
        try:
            return b"".join([chunk async for chunk in stream.chunks()])
        finally:
            stream.close()

    return asyncio.run(read())


def stand_in(folder: Path, **files: bytes) -> Any:
    """A loaded version of `folder` whose manifest lists `files` (written there)."""
    listed = json.loads((folder / "manifest.json").read_text())
    listed["report_files"] = [entry(name, content) for name, content in files.items()]
    for name, content in files.items():
        (folder / name).write_bytes(content)
    return SimpleNamespace(
        name="m", version=1, folder=folder, manifest=Manifest.model_validate(listed)
    )


def test_a_file_over_the_limit_is_refused_without_reading_it(tmp_path: Path) -> None:
    folder = publish(tmp_path, random_mlp(0), image_manifest("m", 1))
    model = stand_in(folder, **{"big.png": b"x" * 4096})
    with pytest.raises(NotFound, match="larger than 1024 bytes"):
        read_whole(Reports(Disk(timeout_s=2.0), max_bytes=1024), model, "big.png")
    assert read_whole(Reports(Disk(timeout_s=2.0)), model, "big.png") == b"x" * 4096


def test_a_file_rewritten_after_it_was_verified_is_hashed_again_and_refused(
    tmp_path: Path,
) -> None:
    folder = publish(tmp_path, random_mlp(0), image_manifest("m", 1))
    figure = PNG * 100_000  # 5 MB: streamed in chunks
    model = stand_in(folder, **{"figure.png": figure})
    reports = Reports(Disk(timeout_s=2.0))
    assert read_whole(reports, model, "figure.png") == figure
    assert read_whole(reports, model, "figure.png") == figure  # remembered, not hashed again
    (folder / "figure.png").write_bytes(figure[:-1] + b"!")  # same size, same inode
    with pytest.raises(NotFound, match="no longer matches the sha256"):
        read_whole(reports, model, "figure.png")
    assert reports.sending == 0


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads")


def _peak_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ServerProcess, bytes]]:
    """A server process whose model lists a 16 MB report file."""
    root = tmp_path_factory.mktemp("large")
    figure = bytes(range(256)) * (16 * 1024 * 1024 // 256 - 1)
    manifest = image_manifest("m", 1) | {"report_files": [entry("figure.png", figure)]}
    folder = publish(root, random_mlp(0), manifest)
    (folder / "figure.png").write_bytes(figure)
    with running_process(root, reload_interval_s="0") as srv:
        yield srv, figure


def test_sixty_readers_of_a_large_report_take_neither_its_size_each_nor_a_thread_each(
    large: tuple[ServerProcess, bytes],
) -> None:
    srv, figure = large
    pid = srv.process.pid
    threads, peak = _threads(pid), _peak_mb(pid)
    most = threads
    done = threading.Event()

    def watch() -> None:
        nonlocal most
        while not done.is_set():
            most = max(most, _threads(pid))
            time.sleep(0.005)

    def get(_: int) -> httpx.Response:
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            return client.get(report_url("figure.png", "m"))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        with ThreadPoolExecutor(60) as pool:
            answers = list(pool.map(get, range(60)))
    finally:
        done.set()
        watcher.join()
    statuses = Counter(r.status_code for r in answers)
    assert set(statuses) <= {200, 503} and statuses[200] >= 4, statuses
    assert all(r.content == figure for r in answers if r.status_code == 200)
    assert all("retry-after" in r.headers for r in answers if r.status_code == 503)
    # Before: +917 MB and 61 threads (each reader read the file whole, on a thread of its own).
    assert _peak_mb(pid) - peak < 100
    assert most - threads <= 4 + 4  # the readers' chunk reads, and a few of uvicorn's
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        assert client.get(report_url("figure.png", "m")).content == figure


def test_a_reader_that_goes_away_mid_file_frees_its_place(
    large: tuple[ServerProcess, bytes],
) -> None:
    srv, figure = large
    request = b"GET " + report_url("figure.png", "m").encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    stalled = [socket.create_connection(("127.0.0.1", srv.port)) for _ in range(4)]
    try:
        for sock in stalled:  # they never read: the server's sends stop at their buffers
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.sendall(request)
        with httpx.Client(base_url=srv.url, timeout=30) as client:
            busy = wait_until(
                lambda: (r := client.get(report_url("figure.png", "m"))).status_code == 503 and r
            )
            assert "report files are being sent already" in busy.json()["error"]
    finally:
        for sock in stalled:
            sock.close()
    with httpx.Client(base_url=srv.url, timeout=30) as client:
        answer = wait_until(
            lambda: (r := client.get(report_url("figure.png", "m"))).status_code == 200 and r
        )
        assert answer.content == figure
