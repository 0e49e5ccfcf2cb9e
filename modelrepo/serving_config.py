"""A model's serving config, `models/<name>/serving.json`, beside its versions: which versions
are loaded (Triton's `version_policy`), which one answers requests without a version
(`default`), and the promotion gate a new version must pass to take that traffic by itself.

    {
      "version_policy": {"latest": {"num_versions": 2}},   or {"specific": {"versions": [1, 3]}},
                                                           or {"all": {}}; default: latest 1
      "default": 3,                                        optional: this version answers
      "gate": {"metric": "accuracy", "tolerance": 0.005}   optional: see modelrepo/routing.py
    }

No file: every version loads, and the highest ready one answers (as before there was a
config). The file is people's: the service only reads it. What the control API and CLI
change is kept apart, in control.json (control_state.py).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from modelrepo import documents
from modelrepo.names import SERVING_FILE

MAX_BYTES = 64 * 1024


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Latest(_Strict):
    num_versions: int = Field(1, ge=1, le=1000)


class Specific(_Strict):
    versions: list[int] = Field(min_length=1, max_length=1000)

    @model_validator(mode="after")
    def _positive(self) -> Specific:
        if any(v < 1 for v in self.versions):
            raise ValueError("versions are positive integers")
        return self


class All(_Strict):
    """Triton's `{"all": {}}`: every version folder loads."""


class VersionPolicy(_Strict):
    latest: Latest | None = None
    specific: Specific | None = None
    all: All | None = None

    @model_validator(mode="after")
    def _one(self) -> VersionPolicy:
        chosen = [k for k in ("latest", "specific", "all") if getattr(self, k) is not None]
        if len(chosen) != 1:
            raise ValueError("give exactly one of latest, specific or all")
        return self

    def as_triton(self) -> dict[str, object]:
        """As Triton's model configuration writes it: {"latest": {"num_versions": 2}}."""
        return self.model_dump(exclude_none=True)

    def describe(self) -> str:
        if self.latest is not None:
            return f"latest {self.latest.num_versions}"
        if self.specific is not None:
            return "specific " + ", ".join(str(v) for v in self.specific.versions)
        return "all"


class Gate(_Strict):
    metric: str = Field(min_length=1, max_length=100)
    # How much worse than the version serving a new one may be and still take over.
    tolerance: float = Field(0.0, ge=0)
    higher_is_better: bool = True


class ServingConfig(_Strict):
    version_policy: VersionPolicy = VersionPolicy(latest=Latest())
    default: int | None = Field(None, ge=1)
    gate: Gate | None = None


def parse(raw: bytes) -> ServingConfig:
    """The config in raw, or ValueError naming the problem."""
    return documents.parse(ServingConfig, raw, SERVING_FILE)


def create(model_folder: Path, config: ServingConfig) -> bool:
    """Write `config` as the model's serving.json if it has none; False if it already had one.

    For a model's first version (training writes its gate so): the file is people's from then
    on, never replaced. Written whole into a temporary file and linked into place, which fails
    if the file exists, so a reader never sees half of it and a person's file always wins.
    """
    data = (config.model_dump_json(indent=2, exclude_defaults=True) + "\n").encode()
    return documents.write(model_folder / SERVING_FILE, data, replace=False)
