"""What a handler can reach: the app's services, and the per-request context the gateway
keeps (request id, model and version labels for metrics and the access log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.api.request_ids import is_safe
from service.api.uploads import Uploads
from service.dataplane import DataPlane
from service.metrics import Metrics
from service.model import LoadedModel
from service.registry import Registry
from service.reports import Reports
from service.settings import Settings


@dataclass
class Services:
    settings: Settings
    registry: Registry
    dataplane: DataPlane
    metrics: Metrics
    uploads: Uploads
    reports: Reports


@dataclass
class RequestContext:
    request_id: str
    request_id_from_client: bool
    endpoint: str = "other"
    model: str = ""
    version: str = ""

    def serving(self, model: LoadedModel, endpoint: str) -> None:
        self.model, self.version, self.endpoint = model.name, str(model.version), endpoint

    def adopt(self, request_id: str) -> None:
        """A request id from the body (v2's `id`), unless the client sent one in a header."""
        if not self.request_id_from_client and is_safe(request_id):
            self.request_id = request_id


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["logitserve"]
    return ctx


ServicesDep = Annotated[Services, Depends(services)]
ContextDep = Annotated[RequestContext, Depends(context)]
