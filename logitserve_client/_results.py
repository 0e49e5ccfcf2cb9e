"""What the server answers, as typed objects, each also readable as numpy arrays.

Parsing is lenient about fields it does not know (a newer server may add some: they stay in
`raw`) and strict about the ones it reads."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class PrimaryMetric:
    """The one metric a model is judged by, and the split it was measured on (`test`: one that
    nothing was chosen on; `validation`: a version from before the three-way split)."""

    name: str
    value: float | None
    split: str


@dataclass(frozen=True)
class ModelSummary:
    """One line of `GET /v1/models`."""

    name: str
    ready: bool
    serving_version: int | None
    task: str | None
    reason: str | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)
    primary_metric: PrimaryMetric | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ModelSummary:
        primary = doc.get("primary_metric")
        return cls(
            name=doc["name"],
            ready=bool(doc["ready"]),
            serving_version=doc.get("serving_version"),
            task=doc.get("task"),
            reason=doc.get("reason"),
            raw=doc,
            primary_metric=PrimaryMetric(primary["name"], primary.get("value"), primary["split"])
            if primary
            else None,
        )


@dataclass(frozen=True)
class Feature:
    """A tabular model's input column, in natural units."""

    name: str
    unit: str | None
    description: str | None


@dataclass(frozen=True)
class InputSpec:
    kind: str  # "image" or "tabular"
    datatype: str
    shape: tuple[int, ...]  # -1 for the batch
    image_size: tuple[int, int] | None  # (height, width)
    features: tuple[Feature, ...]
    accepts: str  # the server's own words on what to send

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> InputSpec:
        image = doc.get("image")
        return cls(
            kind=doc["kind"],
            datatype=doc["datatype"],
            shape=tuple(doc["shape"]),
            image_size=(image["height"], image["width"]) if image else None,
            features=tuple(
                Feature(f["name"], f.get("unit"), f.get("description"))
                for f in doc.get("features") or []
            ),
            accepts=doc.get("accepts", ""),
        )


@dataclass(frozen=True)
class VersionInfo:
    version: int
    state: str
    reason: str | None
    provider: str | None
    metrics: Mapping[str, float]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> VersionInfo:
        return cls(
            version=doc["version"],
            state=doc["state"],
            reason=doc.get("reason"),
            provider=doc.get("provider"),
            metrics=doc.get("metrics") or {},
        )


@dataclass(frozen=True)
class ModelInfo:
    """`GET /v1/models/{name}`: what the model is, what it takes, and how it is doing."""

    name: str
    ready: bool
    reason: str | None
    serving_version: int | None
    task: str | None
    labels: tuple[str, ...]
    default_threshold: float | None
    input: InputSpec | None  # None while no version serves
    versions: tuple[VersionInfo, ...]
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> ModelInfo:
        return cls(
            name=doc["name"],
            ready=bool(doc["ready"]),
            reason=doc.get("reason"),
            serving_version=doc.get("serving_version"),
            task=doc.get("task"),
            labels=tuple(doc.get("labels") or ()),
            default_threshold=doc.get("default_threshold"),
            input=InputSpec.from_json(doc["input"]) if doc.get("input") else None,
            versions=tuple(VersionInfo.from_json(v) for v in doc.get("versions", [])),
            raw=doc,
        )

    @property
    def metrics(self) -> Mapping[str, float]:
        """Held-out metrics of the serving version (empty while none serves)."""
        for version in self.versions:
            if version.version == self.serving_version:
                return version.metrics
        return {}


@dataclass(frozen=True)
class ClassScore:
    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Prediction:
    """One row's answer. `label` is the predicted class (binary: against the threshold);
    multi-label models set `labels` (every class at or above the threshold) and no `label`."""

    probabilities: Mapping[str, float]  # in the model's label order
    top_k: tuple[ClassScore, ...]
    label: str | None
    labels: tuple[str, ...]
    threshold: float | None
    file: str | None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Prediction:
        label = doc.get("label")
        return cls(
            probabilities=dict(doc["probabilities"]),
            top_k=tuple(ClassScore(t["label"], t["index"], t["probability"]) for t in doc["top_k"]),
            label=label,
            labels=tuple(doc["labels"]) if "labels" in doc else ((label,) if label else ()),
            threshold=doc.get("threshold"),
            file=doc.get("file"),
        )

    def as_numpy(self) -> np.ndarray:
        """The probabilities as float32, in the model's label order."""
        return np.fromiter(self.probabilities.values(), dtype=np.float32)


@dataclass(frozen=True)
class Predictions:
    """A v1 prediction response: one `Prediction` per instance or image, in order."""

    model: str
    version: int
    task: str
    predictions: tuple[Prediction, ...]

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Predictions:
        return cls(
            model=doc["model"],
            version=int(doc["version"]),
            task=doc["task"],
            predictions=tuple(Prediction.from_json(p) for p in doc["predictions"]),
        )

    def __len__(self) -> int:
        return len(self.predictions)

    def __iter__(self) -> Iterator[Prediction]:
        return iter(self.predictions)

    def __getitem__(self, index: int) -> Prediction:
        return self.predictions[index]

    @property
    def class_labels(self) -> tuple[str, ...]:
        """The model's labels: the columns of `as_numpy()`."""
        return tuple(self.predictions[0].probabilities) if self.predictions else ()

    @property
    def labels(self) -> list[str | None]:
        """The predicted label of each row (None for multi-label: see each row's `labels`)."""
        return [p.label for p in self.predictions]

    def as_numpy(self) -> np.ndarray:
        """Probabilities as a float32 array of shape (rows, classes)."""
        if not self.predictions:
            return np.zeros((0, 0), dtype=np.float32)
        return np.stack([p.as_numpy() for p in self.predictions])


@dataclass(frozen=True)
class InferResult:
    """A v2 inference response: each output tensor as a numpy array (FP32 probabilities or
    logits; classification outputs as strings "score:index:label")."""

    model_name: str
    model_version: str
    id: str | None
    outputs: Mapping[str, np.ndarray]

    def as_numpy(self, name: str = "probabilities") -> np.ndarray:
        try:
            return self.outputs[name]
        except KeyError:
            raise KeyError(f"no output '{name}' in the response: {sorted(self.outputs)}") from None
