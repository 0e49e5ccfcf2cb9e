"""The application factory: settings in, a ready-to-serve ASGI app out. It only assembles:
each collaborator is made once and handed to those that need it. Models load in the lifespan
(never at import), and a watcher keeps the registry in step with the disk."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp

from service import __version__
from service.api import control, errors, openapi, ops, page, triton, v1, v2
from service.api.context import Services
from service.api.gateway import Gateway
from service.api.routes import RouteTable
from service.api.uploads import Uploads
from service.batching import BatchOptions
from service.dataplane import DataPlane
from service.disk import Disk
from service.grpc.server import GrpcServer
from service.inflight import InFlight
from service.metrics import Metrics
from service.model import ModelLoader
from service.registry import Registry, ReloadTimings
from service.reports import Reports
from service.runtime import Runtime
from service.settings import Settings
from service.tuning import (
    inline_call_s,
    keep_freed_memory,
    tune_garbage_collector,
    usable_cpus,
)

log = logging.getLogger("logitserve")

DESCRIPTION = """Small neural networks from the course *Advanced Learning Algorithms*, served
from ONNX Runtime. **v1** is for people and scripts (JSON instances, image uploads);
**v2** is the Open Inference Protocol with Triton's binary tensor data, classification and
model repository extensions. Models output logits; probabilities are computed here."""


def create_app(settings: Settings | None = None) -> ASGIApp:
    settings = settings or Settings()
    inflight = InFlight()
    metrics = Metrics(inflight=inflight.current)
    threads = settings.inference_threads
    executor = ThreadPoolExecutor(threads, thread_name_prefix="onnxruntime") if threads else None
    inline_s = inline_call_s(settings.inline_call_us, settings.batching)
    batching = BatchOptions(
        executor=executor,
        enabled=settings.batching,
        max_batch_rows=settings.max_batch_size,
        max_wait_s=settings.max_batch_wait_us / 1e6,
        inline_s=inline_s,
        others_in_flight=inflight.others,
    )
    runtime = Runtime(
        settings.providers,
        settings.intra_op_threads,
        settings.cpu_below_rows,
        settings.cuda_conv_algo_search,
    )
    loader = ModelLoader(runtime, settings.max_model_bytes, batching, metrics)
    disk = Disk(settings.disk_timeout_s)
    registry = Registry(
        settings.models_dir,
        loader,
        on_publish=metrics.set_models,
        on_routes=metrics.set_routes,
        strict_readiness=settings.strict_readiness,
        disk=disk,
        timings=ReloadTimings(
            removal_grace_s=settings.removal_grace_s, retry_max_s=settings.retry_max_s
        ),
    )
    # Half the CPUs, to leave the rest answering, and at most two: a container's CPU quota is
    # not in its affinity, and each decoder may take ~80 MB of its memory limit.
    decoders = settings.image_decoders or min(2, max(1, usable_cpus() // 2))
    uploads = Uploads(settings.max_image_pixels, settings.max_upload_pixels, decoders)
    dataplane = DataPlane(registry, settings.max_instances)
    services = Services(settings, registry, dataplane, metrics, uploads, Reports(disk))

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await registry.refresh()  # ready when the port opens
        tune_garbage_collector()
        keep_freed_memory(settings.allocator_keep_mib)
        log.info(
            "serving",
            extra={
                "inference_threads": threads,
                "inline_call_us": round(inline_s * 1e6),
                "usable_cpus": usable_cpus(),
            },
        )
        tasks = []
        if settings.reload_interval_s > 0:
            tasks.append(
                asyncio.create_task(_watch_after_first(registry, settings.reload_interval_s))
            )
        if metrics.multiprocess:
            tasks.append(asyncio.create_task(_sample(metrics)))
        grpc_server = None
        if settings.grpc_port:
            # The second transport, on this event loop, over the same data plane and limits.
            grpc_server = GrpcServer(settings, dataplane, registry, inflight, metrics)
            await grpc_server.start(settings.grpc_port)
        app.state.grpc_server = grpc_server
        try:
            yield
        finally:
            if grpc_server is not None:
                await grpc_server.stop(settings.graceful_shutdown_s)
            for task in tasks:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)

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
    errors.install(app)
    openapi.install(app)
    for router in (v1.router, triton.router, v2.router, control.router, ops.router, page.router):
        app.include_router(router)

    routes = RouteTable([*v2.router.predictions, *v1.router.predictions])
    gateway = Gateway(app, routes, settings, inflight, metrics)
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


async def _watch_after_first(registry: Registry, interval: float) -> None:
    await asyncio.sleep(interval)
    await registry.watch(interval)


async def _sample(metrics: Metrics, interval: float = 1.0) -> None:
    """With several workers, gauges computed on demand are written out for the others."""
    while True:
        metrics.sample()
        await asyncio.sleep(interval)
