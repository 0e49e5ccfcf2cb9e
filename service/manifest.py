"""The reader's side of the model repository contract (docs/model-repository.md)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Task = Literal["multiclass", "binary", "multilabel"]

# Datatypes a model input may declare; the graph's element type must agree.
INPUT_DATATYPES = ("UINT8", "FP32")


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

    @property
    def row_shape(self) -> tuple[int, ...]:
        return tuple(self.shape[1:])

    @property
    def row_size(self) -> int:
        return math.prod(self.shape[1:])

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


class Manifest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    format: Literal[1]
    name: str
    version: int = Field(gt=0)
    task: Task
    labels: list[str] = Field(min_length=1, max_length=100_000)
    input: InputSpec
    output: OutputSpec
    threshold: float | None = Field(None, gt=0, lt=1)
    metrics: dict[str, float | None] = {}  # None: not computable (e.g. one class in a dry run)
    parity: dict[str, Any] | None = None
    dataset: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
    versions: dict[str, Any] | None = None
    created_at: str | None = None
    model_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")

    @property
    def classes(self) -> int:
        """How many probabilities a prediction has (binary: 2, negative and positive)."""
        return 2 if self.task == "binary" else self.output.width

    @property
    def default_threshold(self) -> float:
        return self.threshold if self.threshold is not None else 0.5

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        expected = {"multiclass": "softmax", "binary": "sigmoid", "multilabel": "sigmoid"}
        if self.output.activation != expected[self.task]:
            raise ValueError(f"a {self.task} model's activation must be {expected[self.task]}")
        if self.output.shape[0] != -1 or self.output.shape[1] <= 0:
            raise ValueError("output.shape must be [-1, K]")
        if self.task == "binary":
            if self.output.width != 1 or len(self.labels) != 2:
                raise ValueError("a binary model has output [-1, 1] and two labels")
        elif len(self.labels) != self.output.width:
            raise ValueError("labels must name every output column")
        if self.task == "multiclass" and self.output.width < 2:
            raise ValueError("a multiclass model needs at least two classes")
        return self
