"""A Python client for logitserve: the v1 API (models, predictions from arrays, lists,
feature dicts and images) and v2 inference with binary tensors, sync and async.

    from logitserve_client import Client

    with Client("http://127.0.0.1:8000") as client:
        result = client.predict_images("mnist-cnn", "digit.png")
        print(result[0].label, result.version, result.as_numpy())

It needs httpx and numpy only: no FastAPI, ONNX Runtime or torch. Everything it raises is a
`LogitserveError`; an error answer is an `APIError` (by status: `BadRequest`, `NotFound`,
`Unauthorized`, `ServiceUnavailable`...) carrying the server's message and status.
"""

from logitserve_client._async_client import AsyncClient
from logitserve_client._client import Client
from logitserve_client._errors import (
    APIError,
    BadRequest,
    Forbidden,
    InputError,
    InternalServerError,
    LogitserveError,
    NotFound,
    PayloadTooLarge,
    RequestFailed,
    ServiceUnavailable,
    TimedOut,
    Unauthorized,
    UnsupportedMediaType,
)
from logitserve_client._results import (
    ClassScore,
    Feature,
    InferResult,
    InputSpec,
    ModelInfo,
    ModelSummary,
    Prediction,
    Predictions,
    PrimaryMetric,
    VersionInfo,
)
from logitserve_client._version import __version__

__all__ = [
    "__version__",
    "APIError",
    "AsyncClient",
    "BadRequest",
    "ClassScore",
    "Client",
    "Feature",
    "Forbidden",
    "InferResult",
    "InputError",
    "InputSpec",
    "InternalServerError",
    "LogitserveError",
    "ModelInfo",
    "ModelSummary",
    "NotFound",
    "PayloadTooLarge",
    "Prediction",
    "Predictions",
    "PrimaryMetric",
    "RequestFailed",
    "ServiceUnavailable",
    "TimedOut",
    "Unauthorized",
    "UnsupportedMediaType",
    "VersionInfo",
]
