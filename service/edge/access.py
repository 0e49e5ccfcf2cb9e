"""What is recorded of every request once it is answered: the request metrics (by model,
version, endpoint and status) and, unless switched off, one access-log line."""

from __future__ import annotations

import logging

from service.edge.request_context import RequestContext
from service.metrics.prometheus import Metrics

access_log = logging.getLogger("logitserve.access")


class AccessRecord:
    def __init__(self, metrics: Metrics, log: bool) -> None:
        self._metrics = metrics
        self._log = log

    def record(
        self, ctx: RequestContext, method: str, path: str, status: int, seconds: float
    ) -> None:
        self._metrics.request(ctx.model or "-", ctx.version or "-", ctx.endpoint, status, seconds)
        if self._log:
            access_log.info(
                "request",
                extra={
                    "request_id": ctx.request_id,
                    "method": method,
                    "path": path[:200].encode("utf-8", "backslashreplace").decode(),
                    "status": status,
                    "ms": round(seconds * 1000, 3),
                    "model": ctx.model or None,
                    "version": ctx.version or None,
                },
            )
