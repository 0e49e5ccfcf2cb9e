"""Domain errors, free of HTTP.

    ServiceError                  anything the service refuses, with a message safe to show a client
     ├── InvalidInput             the request is malformed or does not fit the model
     │    └── UnsupportedMediaType   the body's type or encoding is not one we read
     ├── PayloadTooLarge          the body, an image or a batch is over a configured limit
     ├── NotFound                 no such model, version or route
     ├── NotReady                 the model exists but cannot serve now (loading, failed, unloaded)
     ├── Unauthorized             a token is required and missing or wrong
     ├── Forbidden                the operation is switched off
     ├── Overloaded               too many requests in flight; retry later
     │    └── TooManyAttempts       too many failed credentials from one address; retry later
     └── InferenceFailed          ONNX Runtime failed on valid input (a server fault)

`api/errors.py` is the one place that maps them to status codes. Messages never echo raw
client input at length, never carry file paths or tracebacks.
"""

from __future__ import annotations


class ServiceError(Exception):
    """Base class: `message` is shown to the client as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(ServiceError):
    """The request is malformed or does not fit the model (400)."""


class UnsupportedMediaType(InvalidInput):
    """The body's type or encoding is not one we read (415)."""


class PayloadTooLarge(ServiceError):
    """A body, an image or a batch over a configured limit (413)."""


class NotFound(ServiceError):
    """No such model, version or route (404)."""


class NotReady(ServiceError):
    """The model exists but cannot serve now: loading, failed or unloaded (503)."""


class Unauthorized(ServiceError):
    """A token is required and is missing or wrong (401)."""


class Forbidden(ServiceError):
    """The operation is switched off (403)."""


class Overloaded(ServiceError):
    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class TooManyAttempts(Overloaded):
    """Too many failed credentials from one client address: retry later (429)."""


class InferenceFailed(ServiceError):
    """ONNX Runtime failed on valid input: a server fault (500)."""


def describe(value: object, limit: int = 40) -> str:
    """A short, safe rendering of a client value for an error message."""
    text = repr(value)
    text = text.encode("ascii", "backslashreplace").decode("ascii")
    return text if len(text) <= limit else text[: limit - 3] + "..."
