"""serving.json written for a model's first version: whole or not at all, never over a
person's file."""

from __future__ import annotations

import json
from pathlib import Path

from modelrepo.serving_config import Gate, ServingConfig, create, parse

GATED = ServingConfig(gate=Gate(metric="accuracy", tolerance=0.005))


def test_create_writes_a_config_the_service_parses_back_alike(tmp_path: Path) -> None:
    assert create(tmp_path, GATED) is True
    raw = (tmp_path / "serving.json").read_bytes()
    assert json.loads(raw) == {"gate": {"metric": "accuracy", "tolerance": 0.005}}
    assert parse(raw) == GATED
    assert (tmp_path / "serving.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["serving.json"]  # no temporary file left


def test_create_never_replaces_a_persons_file(tmp_path: Path) -> None:
    mine = '{"version_policy": {"all": {}}}\n'
    (tmp_path / "serving.json").write_text(mine)
    assert create(tmp_path, GATED) is False
    assert (tmp_path / "serving.json").read_text() == mine
    assert [p.name for p in tmp_path.iterdir()] == ["serving.json"]
