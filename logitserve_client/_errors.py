"""What the client raises, as one tree:

LogitserveError               anything this client raises
 ├── InputError               what you passed cannot be sent (also a ValueError)
 ├── RequestFailed            no answer: refused, reset, not resolvable
 │    └── TimedOut            no answer within the timeout
 └── APIError                 the server answered with an error status: .status, .message
      ├── BadRequest          400: the request does not fit the model (the message says how)
      │    └── UnsupportedMediaType   415
      ├── Unauthorized        401: an API key is needed, or it is wrong
      ├── Forbidden           403
      ├── NotFound            404: no such model, version or route
      ├── PayloadTooLarge     413: over one of the server's limits
      ├── InternalServerError 500 (the message carries the request id to look up)
      └── ServiceUnavailable  503: overloaded or the model is not ready; .retry_after
"""

from __future__ import annotations

import httpx


class LogitserveError(Exception):
    """Base class of everything this client raises."""


class InputError(LogitserveError, ValueError):
    """The arguments cannot be turned into a request (NaN in JSON, a file that is not there)."""


class RequestFailed(LogitserveError):
    """The request got no answer: connection refused or reset, name not resolvable."""


class TimedOut(RequestFailed):
    """No answer within the client's timeout."""


class APIError(LogitserveError):
    """The server answered with an error status; `message` is the server's own words."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        request_id: str | None = None,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        where = f" ({method} {url})" if method else ""
        super().__init__(f"{status}: {message}{where}")
        self.status = status
        self.message = message
        self.request_id = request_id
        self.method = method
        self.url = url
        self.retry_after = retry_after  # seconds, from Retry-After (429, 503)


class BadRequest(APIError):
    """400: the request is malformed or does not fit the model."""


class UnsupportedMediaType(BadRequest):
    """415: the body's type is not one the route reads."""


class Unauthorized(APIError):
    """401: the route needs an API key, and none or a wrong one was sent."""


class Forbidden(APIError):
    """403: the operation is switched off on this server."""


class NotFound(APIError):
    """404: no such model, version or route."""


class PayloadTooLarge(APIError):
    """413: the body, an image or a batch is over one of the server's limits."""


class InternalServerError(APIError):
    """500: a fault on the server; its log has the details under `request_id`."""


class ServiceUnavailable(APIError):
    """503: too many requests in flight, or the model cannot serve now (see `retry_after`)."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    500: InternalServerError,
    503: ServiceUnavailable,
}


def error_from_response(response: httpx.Response, retry_after: float | None = None) -> APIError:
    """The exception for an error response, carrying the server's `{"error": ...}` message."""
    try:
        doc = response.json()
        message = doc["error"] if isinstance(doc, dict) and "error" in doc else response.text
    except ValueError:
        message = response.text
    message = str(message).strip() or response.reason_phrase
    cls = _BY_STATUS.get(response.status_code, APIError)
    return cls(
        response.status_code,
        message,
        request_id=response.headers.get("x-request-id"),
        method=response.request.method,
        url=str(response.request.url),
        retry_after=retry_after,
    )


def transport_error(error: httpx.TransportError) -> RequestFailed:
    where = f" ({error.request.method} {error.request.url})" if _has_request(error) else ""
    if isinstance(error, httpx.TimeoutException):
        return TimedOut(f"no answer in time: {type(error).__name__}{where}")
    return RequestFailed(f"{type(error).__name__}: {error}{where}")


def _has_request(error: httpx.TransportError) -> bool:
    try:
        error.request  # noqa: B018 (httpx raises RuntimeError when the error has none)
    except RuntimeError:
        return False
    return True
