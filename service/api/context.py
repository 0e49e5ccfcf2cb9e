"""What a handler can reach: the app's services, and the per-request context the gateway
keeps (request id, model and version labels for metrics and the access log)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.metrics import Metrics
from service.registry import LoadedModel, Registry
from service.settings import Settings


@dataclass
class Services:
    settings: Settings
    registry: Registry
    metrics: Metrics


@dataclass
class RequestContext:
    request_id: str
    request_id_from_client: bool
    endpoint: str = "other"
    model: str = ""
    version: str = ""

    def serving(self, model: LoadedModel, endpoint: str) -> None:
        self.model, self.version, self.endpoint = model.name, str(model.version), endpoint


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["logitserve"]
    return ctx


ServicesDep = Annotated[Services, Depends(services)]
ContextDep = Annotated[RequestContext, Depends(context)]
