"""What a handler can reach, as typed dependencies: the app's services, and the request's
context that the gateway keeps (edge/request_context.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from service.api.image_uploads import Uploads
from service.edge.credentials import Credentials
from service.edge.request_context import RequestContext
from service.handlers.dataplane import DataPlane
from service.handlers.reports import Reports
from service.metrics.prometheus import Metrics
from service.serving.registry import Registry
from service.settings import Settings


@dataclass
class Services:
    settings: Settings
    registry: Registry
    dataplane: DataPlane
    metrics: Metrics
    uploads: Uploads
    reports: Reports
    credentials: Credentials


def services(request: Request) -> Services:
    svc: Services = request.app.state.services
    return svc


def context(request: Request) -> RequestContext:
    ctx: RequestContext = request.scope["logitserve"]
    return ctx


ServicesDep = Annotated[Services, Depends(services)]
ContextDep = Annotated[RequestContext, Depends(context)]
