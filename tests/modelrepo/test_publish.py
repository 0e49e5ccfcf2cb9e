"""The atomic publish both halves use: version folders that appear whole, one by one, safe
against concurrent publishers and readers; names checked."""

from __future__ import annotations

import hashlib
import json
import threading
from pathlib import Path
from typing import Any

import pytest

import modelrepo.publish
from modelrepo.publish import (
    Published,
    PublishError,
    check_name,
    commit,
    ensure_writable,
    next_version,
    published_versions,
    staging_folder,
)


@pytest.fixture
def models_dir(tmp_path: Path) -> Path:
    return tmp_path / "models"


def read_manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def publish_bytes(models_dir: Path, name: str, payload: bytes, note: str = "") -> Published:
    with staging_folder(models_dir, name) as stage:
        (stage / "model.onnx").write_bytes(payload)
        return commit(stage, name, {"format": 1, "name": None, "version": None, "note": note})


def test_versions_increase_one_by_one(models_dir: Path) -> None:
    versions = [publish_bytes(models_dir, "demo", b"x").version for _ in range(3)]
    assert versions == [1, 2, 3]
    assert published_versions(models_dir, "demo") == [1, 2, 3]
    assert read_manifest(models_dir / "demo" / "3")["version"] == 3


def test_next_version_ignores_names_that_are_not_versions(models_dir: Path) -> None:
    folder = models_dir / "demo"
    for name in (".tmp-abc", "01", "0", "abc", "2"):
        (folder / name).mkdir(parents=True)
    (folder / "9").write_text("a file, not a version folder")
    assert published_versions(models_dir, "demo") == [2]
    assert next_version(models_dir, "demo") == 3


def test_published_version_is_readable_by_other_users(models_dir: Path) -> None:
    published = publish_bytes(models_dir, "demo", b"x")
    assert published.path.stat().st_mode & 0o755 == 0o755


def test_reader_polling_during_publishing_never_sees_a_partial_version(models_dir: Path) -> None:
    payload = bytes(range(256)) * 8192  # 2 MiB: slow enough to be caught half-written
    digest = hashlib.sha256(payload).hexdigest()
    done = threading.Event()
    seen: set[int] = set()
    problems: list[str] = []

    def poll() -> None:
        while not done.is_set():
            for version in published_versions(models_dir, "demo"):
                folder = models_dir / "demo" / str(version)
                try:
                    manifest = read_manifest(folder)
                    ok = (folder / "model.onnx").read_bytes() == payload
                except (OSError, ValueError) as error:
                    problems.append(f"version {version}: {error!r}")
                    continue
                if not ok or manifest["model_sha256"] != digest or manifest["version"] != version:
                    problems.append(f"version {version} incomplete")
                seen.add(version)

    reader = threading.Thread(target=poll)
    reader.start()
    try:
        for _ in range(8):
            publish_bytes(models_dir, "demo", payload)
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert seen and published_versions(models_dir, "demo") == list(range(1, 9))


def test_concurrent_publishers_get_distinct_versions(models_dir: Path) -> None:
    n = 8
    start = threading.Barrier(n)
    results: dict[int, Published] = {}

    def publisher(i: int) -> None:
        with staging_folder(models_dir, "demo") as stage:
            (stage / "model.onnx").write_bytes(f"model {i}".encode())
            start.wait()
            results[i] = commit(stage, "demo", {"writer": i})

    threads = [threading.Thread(target=publisher, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(p.version for p in results.values()) == list(range(1, n + 1))
    for i, p in results.items():
        manifest = read_manifest(p.path)
        assert manifest["writer"] == i and manifest["version"] == p.version
        assert (p.path / "model.onnx").read_bytes() == f"model {i}".encode()
    assert [e.name for e in (models_dir / "demo").iterdir() if e.name.startswith(".tmp-")] == []


def test_publisher_whose_number_was_just_taken_retries_with_the_next(
    models_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish_bytes(models_dir, "demo", b"the winner")
    stale_then_fresh = iter([1, 2])  # as if we had looked before the winner renamed
    monkeypatch.setattr(modelrepo.publish, "next_version", lambda *_: next(stale_then_fresh))
    published = publish_bytes(models_dir, "demo", b"the loser")
    assert published.version == 2
    assert (models_dir / "demo" / "1" / "model.onnx").read_bytes() == b"the winner"
    assert read_manifest(models_dir / "demo" / "2")["version"] == 2


def test_failure_while_staging_leaves_no_trace(models_dir: Path) -> None:
    with pytest.raises(RuntimeError), staging_folder(models_dir, "demo") as stage:
        (stage / "model.onnx").write_bytes(b"half")
        raise RuntimeError("export failed")
    assert list((models_dir / "demo").iterdir()) == []


def test_unwritable_models_folder_is_reported_before_training(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(PublishError, match=r"models folder .*a-file/models is not writable"):
        ensure_writable(blocker / "models")


@pytest.mark.parametrize("name", ["", "../etc", "..", ".", ".tmp-1", "a/b", "a\\b", "-x", "x" * 65])
def test_invalid_model_names_are_refused(name: str) -> None:
    with pytest.raises(PublishError, match="invalid model name"):
        check_name(name)


def test_valid_model_names_are_accepted() -> None:
    assert check_name("mnist-cnn") == "mnist-cnn" and check_name("x" * 64)
    assert check_name("densenet_onnx") == "densenet_onnx" and check_name("ResNet50.v1")
