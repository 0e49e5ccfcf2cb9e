"""The one place that turns domain errors into HTTP statuses: the status HTTP answers with,
and the status both transports record in the request metrics and the access log (gRPC's own
codes are grpc/codes.py's)."""

from __future__ import annotations

from service.errors import (
    Forbidden,
    InferenceFailed,
    InvalidInput,
    NotFound,
    NotReady,
    Overloaded,
    PayloadTooLarge,
    ServiceError,
    TooManyAttempts,
    Unauthorized,
    UnsupportedMediaType,
)

STATUS: dict[type[ServiceError], int] = {
    UnsupportedMediaType: 415,
    InvalidInput: 400,
    PayloadTooLarge: 413,
    NotFound: 404,
    NotReady: 503,
    Unauthorized: 401,
    Forbidden: 403,
    Overloaded: 503,
    TooManyAttempts: 429,
    InferenceFailed: 500,
}


def status_of(exc: ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 500
