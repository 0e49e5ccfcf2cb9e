"""One request and its answer, the same for the sync and the async client: what the answer
means (a result, an error to raise, or a wait before trying again)."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import httpx

from logitserve_client._calls import Call
from logitserve_client._errors import LogitserveError, error_from_response
from logitserve_client._retry import RetryPolicy, retry_after
from logitserve_client._version import __version__

T = TypeVar("T")

log = logging.getLogger("logitserve_client")


def request_options(call: Call[Any]) -> dict[str, Any]:
    """The keyword arguments of `httpx.Client.request` for a call."""
    return {
        "params": call.params,
        "content": call.content,
        "files": call.files,
        "headers": call.headers,
    }


def result(call: Call[T], response: httpx.Response) -> T:
    try:
        return call.parse(response)
    except (ValueError, KeyError, TypeError, IndexError) as error:
        raise LogitserveError(
            f"{call.method} {response.request.url} answered {response.status_code} with a "
            f"body this client cannot read ({type(error).__name__}: {error}): is this logitserve?"
        ) from error


def wait_before_retry(
    call: Call[Any], response: httpx.Response, attempt: int, policy: RetryPolicy
) -> float:
    """Seconds to wait before the next attempt; raises the server's error when there is none."""
    delay = policy.delay(attempt, response) if call.retry else None
    if delay is None:
        raise error_from_response(response, retry_after(response))
    log.warning(
        "%s %s answered %d; retry %d of %d in %.2f s",
        call.method,
        call.path,
        response.status_code,
        attempt + 1,
        policy.retries,
        delay,
    )
    return delay


def default_headers(api_key: str | None, headers: dict[str, str] | None) -> dict[str, str]:
    out = {"user-agent": f"logitserve-client/{__version__}"}
    if api_key:
        out["authorization"] = f"Bearer {api_key}"
    return out | (headers or {})
