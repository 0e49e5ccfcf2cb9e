"""Operations: Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.responses import Response

from service.api.deps import ServicesDep
from service.api.openapi import operation_id

router = APIRouter(tags=["operations"], generate_unique_id_function=operation_id(""))


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
def metrics(svc: ServicesDep) -> Response:
    return Response(svc.metrics.render(), media_type=CONTENT_TYPE_LATEST)
