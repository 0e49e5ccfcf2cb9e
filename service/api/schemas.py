"""Wire models, named as the specs name them. They document the routes (OpenAPI) and shape
the metadata responses; tensor payloads are read by hand (see v2_codec.py), not by pydantic,
because validating thousands of numbers one Python object at a time is the slow part."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

# -- shared ------------------------------------------------------------------------------------


class ErrorResponse(BaseModel):
    error: str = Field(description="what was wrong, in words")


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    text = {
        400: "invalid request",
        401: "missing or wrong token",
        403: "switched off",
        404: "no such model, version or route",
        413: "body, batch or image over the limit",
        415: "unsupported media type or encoding",
        500: "inference failed (server fault)",
        503: "not ready, or overloaded (then with Retry-After)",
    }
    return {code: {"model": ErrorResponse, "description": text[code]} for code in codes}


# -- v2: the Open Inference Protocol -------------------------------------------------------------

Parameters = dict[str, str | int | float | bool]


class ServerMetadataResponse(BaseModel):
    name: str
    version: str
    extensions: list[str]


class MetadataTensor(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class Serving(BaseModel):
    """How a model is served: which version answers requests without one, and why."""

    default_version: int | None
    why: str
    version_policy: str = Field(description="which versions load: latest N, specific, all")
    configured_default: int | None = Field(None, description="serving.json's default")
    gate: dict[str, Any] | None = Field(None, description="the promotion gate, if any")
    promoted: int | None = Field(None, description="the version promoted by hand")
    pinned: int | None = None
    canary: dict[str, float] | None = Field(None, description="version and weight (percent)")
    last_action: str | None = Field(None, description="the last control action")
    problem: str | None = Field(None, description="why serving.json or control.json is ignored")


class ModelMetadataResponse(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[MetadataTensor]
    outputs: list[MetadataTensor]
    serving: Serving | None = Field(None, description="logitserve's: the version lifecycle")


class RequestInput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = Field(
        None, description="binary_data_size: the input's bytes follow the JSON header"
    )
    data: list[Any] | None = Field(None, description="row-major values, flat or nested")


class RequestOutput(BaseModel):
    name: Literal["probabilities", "logits"]
    parameters: Parameters | None = Field(
        None, description="binary_data: bool; classification: k (top-k 'score:index:label')"
    )


class InferenceRequest(BaseModel):
    id: str | None = None
    parameters: Parameters | None = Field(
        None, description="binary_data_output: return every output as binary data"
    )
    inputs: list[RequestInput]
    outputs: list[RequestOutput] | None = None


class ResponseOutput(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    parameters: Parameters | None = None
    data: list[Any] | None = None


class InferenceResponse(BaseModel):
    model_name: str
    model_version: str
    id: str | None = None
    parameters: Parameters | None = None
    outputs: list[ResponseOutput]


class ReadyResponse(BaseModel):
    ready: bool


class ModelReadyResponse(BaseModel):
    name: str
    ready: bool


class LiveResponse(BaseModel):
    live: bool


class RepositoryIndexRequest(BaseModel):
    ready: bool = Field(False, description="list only the versions that are ready")


class ModelLoadRequest(BaseModel):
    parameters: dict[str, Any] | None = Field(
        None, description="refused when it carries a config or files: models load by name"
    )


class CanaryRequest(BaseModel):
    weight: float = Field(
        ge=0,
        le=100,
        description="percent of requests without a version the version answers; 0 ends the "
        "canary, 100 promotes the version",
    )


class ControlResponse(BaseModel):
    name: str
    action: str = Field(description="what was recorded, in words")
    serving_version: int | None = Field(description="the version answering now, here")
    canary: dict[str, float] | None = Field(None, description="version and weight (percent)")
    applied_everywhere_within_s: float = Field(
        description="every worker and replica reading the repository applies it within this"
    )


class RepositoryIndexEntry(BaseModel):
    name: str
    version: str | None = None
    state: Literal["READY", "UNAVAILABLE", "LOADING", "UNLOADING"]
    reason: str


# -- v1: for people and scripts ------------------------------------------------------------------


class FeatureInfo(BaseModel):
    name: str
    unit: str
    description: str


class InputInfo(BaseModel):
    kind: Literal["image", "tabular"]
    datatype: str
    shape: list[int]
    image: dict[str, int] | None = Field(None, description="height and width, for images")
    features: list[FeatureInfo] | None = Field(None, description="columns, for tabular input")
    accepts: str = Field(description="what an instance looks like")


class PrimaryMetric(BaseModel):
    name: str = Field(description="the one of the version's metrics to show alone")
    value: float | None
    split: Literal["test", "validation"]


class ReportLink(BaseModel):
    file: str
    title: str
    media_type: str
    url: str


class VersionInfo(BaseModel):
    version: int
    state: Literal["ready", "failed", "unloaded", "loading"]
    reason: str | None = None
    provider: str | None = Field(None, description="the ONNX Runtime provider really in use")
    provider_fallback: str | None = Field(None, description="why it is not the first choice")
    cpu_below_rows: int | None = Field(
        None, description="on CUDA: calls with fewer rows run on the CPU (0: none do)"
    )
    metrics: dict[str, float | None] | None = Field(None, description="on held-out data")
    metrics_split: Literal["test", "validation"] | None = Field(
        None, description="test: a split nothing chose anything on; validation: older versions"
    )
    primary_metric: PrimaryMetric | None = None
    created_at: str | None = None
    report: list[ReportLink] = Field(
        default_factory=list, description="the model card and figures beside the version"
    )
    role: Literal["default", "canary", "candidate", "promoted", "older"] | None = Field(
        None, description="a loaded version's part in serving"
    )
    role_reason: str | None = Field(None, description="why: the gate's verdict, a pin")


class ModelSummary(BaseModel):
    name: str
    ready: bool
    serving_version: int | None
    task: str | None
    primary_metric: PrimaryMetric | None = Field(
        None, description="the serving version's primary metric, on its test split"
    )
    reason: str | None = None


class ModelList(BaseModel):
    models: list[ModelSummary]


class ModelDetail(BaseModel):
    name: str
    ready: bool
    reason: str | None = None
    serving_version: int | None
    task: str | None = None
    labels: list[str] | None = None
    default_threshold: float | None = None
    input: InputInfo | None = None
    versions: list[VersionInfo]
    ignored: dict[str, str] = Field(
        default_factory=dict, description="folders that are not versions"
    )
    serving: Serving | None = None


class PredictRequest(BaseModel):
    instances: list[Any] = Field(
        description="images: 784 pixel values 0-255, or 28x28 nested lists (the model's own "
        "size); tabular rows: ordered lists of numbers, or objects keyed by feature name"
    )


class ClassScore(BaseModel):
    label: str
    index: int
    probability: float


class Explanation(BaseModel):
    method: Literal["occlusion", "sensitivity"] = Field(
        description="occlusion (images): the drop in the label's probability where each patch "
        "is set to the background, per pixel; sensitivity (tabular rows): the change in its "
        "probability when each feature is `step` (a fraction of its value) higher"
    )
    label: str = Field(description="the class explained: the prediction's most probable")
    attributions: list[list[float]] | dict[str, float] = Field(
        description="images: H x W over the model's input; tabular: {feature: value}. "
        "Positive: for the label; negative: against it"
    )
    patch: int | None = Field(None, description="occlusion: the side of a patch, in pixels")
    input: list[list[float]] | None = Field(
        None,
        description="occlusion: the image as the model read it (an upload fitted to its "
        "canvas), H x W",
    )
    step: float | None = Field(None, description="sensitivity: the relative move of a feature")


class Prediction(BaseModel):
    label: str | None = Field(description="the predicted class (multiclass, binary)")
    labels: list[str] | None = Field(
        None, description="every label over the threshold (multilabel)"
    )
    probabilities: dict[str, float]
    top_k: list[ClassScore]
    threshold: float | None = None
    file: str | None = Field(None, description="the uploaded file's name (image uploads)")
    warning: str | None = Field(
        None,
        description="images: why this prediction may be unreliable (a blank image, a shape "
        "far from the model's)",
    )
    explanation: Explanation | None = Field(None, description="with explain=true")


class PredictResponse(BaseModel):
    model: str
    version: int
    task: str
    predictions: list[Prediction]
