"""What is recorded of every request once it is answered: the request metrics (by model,
version, endpoint and status) and, unless switched off (--no-access-log, or a log level
above info), one access-log line (access_log.py)."""

from __future__ import annotations

import logging

from service.edge.access_log import AccessLog
from service.edge.request_context import RequestContext
from service.metrics.prometheus import Metrics

# Its level decides, as any logger's would: --log-level warning leaves the lines out.
access_logger = logging.getLogger("logitserve.access")


class AccessRecord:
    def __init__(self, metrics: Metrics, log: AccessLog | None) -> None:
        self._metrics = metrics
        self.log = log

    def record(
        self, ctx: RequestContext, method: str, path: str, status: int, seconds: float
    ) -> None:
        self._metrics.request(ctx.model or "-", ctx.version or "-", ctx.endpoint, status, seconds)
        if self.log is not None and access_logger.isEnabledFor(logging.INFO):
            self.log.write(ctx, method, path, status, seconds)
