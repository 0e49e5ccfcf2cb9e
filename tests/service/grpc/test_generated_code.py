"""The committed generated code is what scripts/generate_grpc_code.py makes from the vendored
.proto files, so neither can change without the other."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _script() -> object:
    spec = importlib.util.spec_from_file_location(
        "generate", ROOT / "scripts" / "generate_grpc_code.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_code_is_what_the_script_generates(tmp_path: Path) -> None:
    script = _script()
    script.generate(tmp_path)  # type: ignore[attr-defined]
    committed = ROOT / "service" / "grpc" / "generated"
    made = sorted(p.name for p in tmp_path.iterdir())
    assert made == sorted(p.name for p in committed.iterdir() if p.name != "__pycache__")
    for name in made:
        assert (tmp_path / name).read_text() == (committed / name).read_text(), name


def test_the_service_descriptors_stay_out_of_protobufs_default_pool() -> None:
    from google.protobuf import descriptor_pool

    from service.grpc.generated import _pool, grpc_service_pb2

    assert grpc_service_pb2.DESCRIPTOR.pool is _pool.POOL
    default = descriptor_pool.Default()
    try:
        found = default.FindFileByName("grpc_service.proto")
    except KeyError:
        return  # nothing else registered it: fine
    assert found is not grpc_service_pb2.DESCRIPTOR  # tritonclient's, not ours
