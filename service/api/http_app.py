"""The HTTP transport as an ASGI app over a core: FastAPI with the v1, v2, Triton, model
repository, metrics and page routes, behind the gateway (and CORS when origins are set).
It only assembles; the core's life is its owner's (server.py, or app.py's lifespan)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from service import __version__
from service.api import (
    http_errors,
    openapi,
    ops,
    page,
    repository_control,
    triton,
    v1,
    v2,
)
from service.api.deps import Services
from service.api.gateway import Gateway
from service.api.image_uploads import Uploads
from service.api.route_table import RouteTable
from service.core import Core
from service.runtime.tuning import usable_cpus

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]

DESCRIPTION = """Small neural networks from the course *Advanced Learning Algorithms*, served
from ONNX Runtime. **v1** is for people and scripts (JSON instances, image uploads);
**v2** is the Open Inference Protocol with Triton's binary tensor data, classification and
model repository extensions. Models output logits; probabilities are computed here."""

ROUTERS = (v1.router, triton.router, v2.router, repository_control.router, ops.router, page.router)


def create_http_app(core: Core, lifespan: Lifespan | None = None) -> ASGIApp:
    settings = core.settings
    # Half the CPUs, to leave the rest answering, and at most two: a container's CPU quota is
    # not in its affinity, and each decoder may take ~80 MB of its memory limit.
    decoders = settings.image_decoders or min(2, max(1, usable_cpus() // 2))
    uploads = Uploads(settings.max_image_pixels, settings.max_upload_pixels, decoders)
    services = Services(
        settings,
        core.registry,
        core.dataplane,
        core.metrics,
        uploads,
        core.reports,
        core.credentials,
    )

    docs: dict[str, str | None] = {"docs_url": None, "redoc_url": None, "openapi_url": None}
    factory: Callable[..., FastAPI] = FastAPI
    if settings.docs:
        # Swagger UI's assets from the fastapi-offline package, served here: /docs works
        # where no CDN can be reached. No validator: it would send the spec's URL outside.
        factory = FastAPIOffline
        docs = {"docs_url": "/docs", "redoc_url": None, "static_url": "/docs/static"}
    app = factory(
        title="logitserve",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        swagger_ui_parameters={"validatorUrl": None},
        **docs,
    )
    app.state.services = services
    http_errors.install(app)
    for router in ROUTERS:
        app.include_router(router)

    routes = RouteTable([*v2.router.predictions, *v1.router.predictions])
    openapi.install(
        app,
        keyed_paths=[route.path for route in routes.routes],
        control_paths=[r.path for r in repository_control.router.routes if isinstance(r, APIRoute)],
        api_keys=bool(settings.api_keys),
        max_top_k=settings.max_top_k,
    )
    gateway = Gateway(
        app, routes, settings, core.inflight, core.metrics, core.credentials, core.access
    )
    if not settings.cors_origins:
        return gateway
    return CORSMiddleware(
        gateway,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=[
            "Authorization",
            "Content-Type",
            "X-API-Key",
            "X-Request-ID",
            "Inference-Header-Content-Length",
        ],
        expose_headers=["X-Request-ID", "Inference-Header-Content-Length"],
    )
