"""The core both transports serve: every collaborator of the data plane, made once from the
settings (the in-flight count, metrics, ONNX Runtime and its thread pool, the registry kept
in step with the disk, the data plane, the reports), and its life: `start` loads the models
(so the service is ready when its ports open) and starts the watchers, `stop` ends them.

The transports take what they need from here; neither makes its own."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from service.edge.access import AccessRecord
from service.edge.access_log import AccessLog
from service.edge.credentials import Credentials
from service.edge.inflight import InFlight
from service.handlers.dataplane import DataPlane
from service.handlers.reports import Reports
from service.metrics.prometheus import Metrics
from service.repository.disk import Disk
from service.runtime.batching import BatchOptions
from service.runtime.load_check import LoadCheck
from service.runtime.load_slots import LoadSlots
from service.runtime.loaded_model import ModelLoader
from service.runtime.sessions import Runtime
from service.runtime.tuning import (
    inline_call_s,
    keep_freed_memory,
    tune_garbage_collector,
    usable_cpus,
)
from service.serving.registry import Registry, ReloadTimings
from service.settings import Settings

log = logging.getLogger("logitserve")


class Core:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.inflight = InFlight()
        self.credentials = Credentials(settings)
        self.metrics = Metrics(inflight=self.inflight.current)
        # One per process, shared by both transports: its writer thread batches their lines.
        self.access = AccessRecord(self.metrics, AccessLog() if settings.access_log else None)
        threads = settings.inference_threads
        self._executor = (
            ThreadPoolExecutor(threads, thread_name_prefix="onnxruntime") if threads else None
        )
        self._inline_s = inline_call_s(settings.inline_call_us, settings.batching)
        batching = BatchOptions(
            executor=self._executor,
            enabled=settings.batching,
            max_batch_rows=settings.max_batch_size,
            max_wait_s=settings.max_batch_wait_us / 1e6,
            inline_s=self._inline_s,
            others_in_flight=self.inflight.others,
        )
        runtime = Runtime(
            settings.providers,
            settings.intra_op_threads,
            settings.cpu_below_rows,
            settings.cuda_conv_algo_search,
        )
        memory = settings.max_load_memory_mib * 1024 * 1024
        check = LoadCheck(memory, settings.load_timeout_s) if memory else None
        loader = ModelLoader(runtime, settings.max_model_bytes, batching, self.metrics, check)
        self.disk = Disk(settings.disk_timeout_s)
        self.registry = Registry(
            settings.models_dir,
            loader,
            on_publish=self.metrics.set_models,
            on_routes=self.metrics.set_routes,
            strict_readiness=settings.strict_readiness,
            disk=self.disk,
            timings=ReloadTimings(
                removal_grace_s=settings.removal_grace_s, retry_max_s=settings.retry_max_s
            ),
            slots=LoadSlots(settings.max_loading, settings.load_timeout_s),
        )
        self.dataplane = DataPlane(
            self.registry, settings.max_instances, settings.max_response_bytes
        )
        self.reports = Reports(self.disk, settings.report_readers)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        # Ready when the ports open, but for a version still loading at its deadline (it is
        # reported not ready by then; the slowest report comes a moment later).
        settings = self.settings
        await self.registry.refresh(wait_s=settings.disk_timeout_s + settings.load_timeout_s)
        self._say_if_nothing_to_serve()
        tune_garbage_collector()
        keep_freed_memory(self.settings.allocator_keep_mib)
        log.info(
            "serving",
            extra={
                "inference_threads": self.settings.inference_threads,
                "inline_call_us": round(self._inline_s * 1e6),
                "usable_cpus": usable_cpus(),
            },
        )
        interval = self.settings.reload_interval_s
        if interval > 0:
            self._tasks.append(asyncio.create_task(_watch_after_first(self.registry, interval)))
        if self.metrics.multiprocess:
            self._tasks.append(asyncio.create_task(_sample(self.metrics)))

    def _say_if_nothing_to_serve(self) -> None:
        """A mistyped --models-dir would otherwise start a server that serves nothing, quietly
        (it stays up: models published later are picked up at the next rescan)."""
        where = str(self.settings.models_dir.absolute())
        if self.registry.repository_error:
            log.warning(
                f"no models: {self.registry.repository_error} (--models-dir {where})",
                extra={"models_dir": where},
            )
        elif not self.registry.models:
            log.warning(
                f"no models: the model repository is empty (--models-dir {where})",
                extra={"models_dir": where},
            )

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.registry.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
        if self.access.log is not None:
            self.access.log.close()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()


async def _watch_after_first(registry: Registry, interval: float) -> None:
    await asyncio.sleep(interval)
    await registry.watch(interval)


async def _sample(metrics: Metrics, interval: float = 1.0) -> None:
    """With several workers, gauges computed on demand are written out for the others."""
    while True:
        metrics.sample()
        await asyncio.sleep(interval)
