"""`manifest.json`: what a reader needs to know about a model version, and how it was made
(docs/model-repository.md). Training validates what it writes with this schema, the service
what it reads; readers ignore fields they do not know."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from modelrepo import documents
from modelrepo.names import MANIFEST_FILE

FORMAT = 1
MAX_BYTES = 1024 * 1024
# Every prediction lists labels, so their size multiplies into every response.
MAX_LABELS = 100_000
MAX_LABEL_BYTES = 256
MAX_LABELS_BYTES = 256 * 1024


@dataclass(frozen=True)
class TaskKind:
    """What a task kind means in the contract: the activation its logits take, and the shape
    of its output against its labels."""

    name: str
    activation: Literal["softmax", "sigmoid"]
    min_width: int = 1  # output columns at the least
    one_column: bool = False  # one logit (the positive class's) with two labels

    def output_problem(self, width: int, labels: int) -> str | None:
        """What is wrong with an output `width` columns wide for `labels` labels, or None."""
        if self.one_column:
            ok = width == 1 and labels == 2
            return None if ok else f"a {self.name} model has output [-1, 1] and two labels"
        if labels != width:
            return "labels must name every output column"
        if width < self.min_width:
            return f"a {self.name} model needs at least {self.min_width} classes"
        return None


TASK_KINDS: dict[str, TaskKind] = {
    kind.name: kind
    for kind in (
        TaskKind("multiclass", "softmax", min_width=2),
        TaskKind("binary", "sigmoid", one_column=True),
        TaskKind("multilabel", "sigmoid"),
    )
}


class ImageSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    height: int = Field(gt=0, le=4096)
    width: int = Field(gt=0, le=4096)


class Feature(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=100)
    unit: str = ""
    description: str = ""


class InputSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=100)
    datatype: Literal["UINT8", "FP32"]
    shape: list[int] = Field(min_length=2, max_length=4)
    kind: Literal["image", "tabular"]
    image: ImageSpec | None = None
    features: list[Feature] | None = None

    # Read on every request: computed once (a manifest is never changed once read).
    @cached_property
    def row_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[1:])

    @cached_property
    def row_size(self) -> int:
        return math.prod(self.shape[1:])

    def describe_row(self) -> str:
        """What one instance is, in words, for error messages."""
        if self.kind == "image" and self.image is not None:
            return f"a {self.image.height}x{self.image.width} image, pixels 0-255"
        return "features " + ", ".join(f.name for f in self.features or [])

    @model_validator(mode="after")
    def _consistent(self) -> InputSpec:
        if self.shape[0] != -1 or any(d <= 0 for d in self.shape[1:]):
            raise ValueError("input.shape must be [-1, positive dims...]")
        if self.kind == "image":
            if self.image is None:
                raise ValueError("an image input needs input.image {height, width}")
            if self.image.height * self.image.width != self.row_size:
                raise ValueError("input.image height*width must equal the product of shape[1:]")
        else:
            if not self.features or len(self.shape) != 2 or len(self.features) != self.shape[1]:
                raise ValueError("a tabular input needs one input.features entry per column")
            names = [f.name for f in self.features]
            if len(set(names)) != len(names):
                raise ValueError("input.features names must be unique")
        return self


class OutputSpec(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str = Field(min_length=1, max_length=100)
    datatype: Literal["FP32"]
    shape: list[int] = Field(min_length=2, max_length=2)
    activation: Literal["softmax", "sigmoid"]

    @property
    def width(self) -> int:
        return self.shape[1]


# The report files a reader serves, by extension: the content type is the service's choice,
# never the manifest's (a "text/html" report would run scripts on the service's own origin).
REPORT_MEDIA_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".md": "text/markdown; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
    ".json": "application/json",
    ".csv": "text/csv; charset=utf-8",
}


class ReportFile(BaseModel):
    """One file of the report beside a version: a plain name in the version folder (no
    folders, no dot files), of a type the service serves, with its sha256."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    title: str = Field("", max_length=200)

    @field_validator("file")
    @classmethod
    def _served_type(cls, file: str) -> str:
        if ".." in file or _extension(file) not in REPORT_MEDIA_TYPES:
            raise ValueError(f"a report file is one of {', '.join(REPORT_MEDIA_TYPES)}")
        return file

    @property
    def media_type(self) -> str:
        return REPORT_MEDIA_TYPES[_extension(self.file)]


def _extension(file: str) -> str:
    dot = file.rfind(".")
    return file[dot:].lower() if dot > 0 else ""


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal[1]  # FORMAT
    name: str
    version: int = Field(gt=0)
    task: str
    labels: list[str] = Field(min_length=1, max_length=MAX_LABELS)
    input: InputSpec
    output: OutputSpec
    threshold: float | None = Field(None, gt=0, lt=1)
    metrics: dict[str, float | None] = {}  # None: not computable (e.g. one class in a dry run)
    # Versions from before the three-way split have none, and their `metrics` are validation's.
    # Read only for its presence: a shape this reader does not know must not stop serving.
    validation_metrics: Any = None
    primary_metric: str | None = None
    # For people, optional to serving: entries a reader cannot serve are left out, not fatal.
    report_files: list[ReportFile] = []
    parity: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    created_at: str | None = None
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @field_validator("task")
    @classmethod
    def _known_task(cls, task: str) -> str:
        if task not in TASK_KINDS:
            raise ValueError(f"the task must be one of {', '.join(TASK_KINDS)}")
        return task

    @field_validator("labels")
    @classmethod
    def _bounded_labels(cls, labels: list[str]) -> list[str]:
        sizes = [len(label.encode()) for label in labels]
        longest = max(sizes)
        if longest > MAX_LABEL_BYTES:
            which = sizes.index(longest)
            raise ValueError(
                f"each label is at most {MAX_LABEL_BYTES} bytes (UTF-8); label {which} has "
                f"{longest}"
            )
        if sum(sizes) > MAX_LABELS_BYTES:
            raise ValueError(
                f"the labels take {sum(sizes)} bytes (UTF-8), more than {MAX_LABELS_BYTES} in all"
            )
        return labels

    # Read for every response's size bound: computed once (a manifest is never changed).
    @cached_property
    def label_bytes(self) -> int:
        """All labels' UTF-8 bytes together."""
        return sum(len(label.encode()) for label in self.labels)

    @cached_property
    def longest_label_bytes(self) -> int:
        return max(len(label.encode()) for label in self.labels)

    @field_validator("report_files", mode="before")
    @classmethod
    def _servable_reports(cls, entries: Any) -> list[ReportFile]:
        if not isinstance(entries, list):
            return []
        kept: dict[str, ReportFile] = {}
        for entry in entries[:100]:
            try:
                report = ReportFile.model_validate(entry)
            except ValueError:
                continue
            kept.setdefault(report.file, report)
        return list(kept.values())

    @field_validator("primary_metric", mode="before")
    @classmethod
    def _primary_is_a_name(cls, name: Any) -> str | None:
        return name if isinstance(name, str) and 0 < len(name) <= 100 else None

    @property
    def primary(self) -> tuple[str, float | None] | None:
        """(name, value) of the one metric to show when only one is shown, if the manifest
        names one that it has."""
        name = self.primary_metric
        if name is None or name not in self.metrics:
            return None
        return name, self.metrics[name]

    @property
    def metrics_split(self) -> str:
        """Which split `metrics` were measured on."""
        return "test" if self.validation_metrics is not None else "validation"

    def report(self, file: str) -> ReportFile | None:
        return next((r for r in self.report_files if r.file == file), None)

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        kind = TASK_KINDS[self.task]
        if self.output.activation != kind.activation:
            raise ValueError(f"a {self.task} model's activation must be {kind.activation}")
        if self.output.shape[0] != -1 or self.output.shape[1] <= 0:
            raise ValueError("output.shape must be [-1, K]")
        problem = kind.output_problem(self.output.width, len(self.labels))
        if problem is not None:
            raise ValueError(problem)
        return self


def parse(raw: bytes) -> Manifest:
    """A version's manifest from its bytes, or ValueError naming the problem."""
    return documents.parse(Manifest, raw, MANIFEST_FILE)
