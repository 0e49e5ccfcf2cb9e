"""A model version ready to serve, and how one is made from its folder.

`LoadedModel` holds everything a request needs once it has resolved its model: the
manifest, the task policy (looked up here, once), the ONNX Runtime session, the batcher that
runs it and the version's metrics. `ModelLoader` makes one from a version folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from modelrepo.manifest import Manifest
from service.metrics.prometheus import Metrics, VersionMetrics
from service.protocol.task_policies import TASKS, TaskPolicy
from service.repository.folders import VersionFolder, read_version
from service.runtime.batching import Batcher, BatchOptions, BatchResult
from service.runtime.load_check import LoadCheck
from service.runtime.sessions import Runtime, Session

# What every model answers, in the order metadata lists them: both (n, K), FP32.
OUTPUTS = ("probabilities", "logits")


class UnusableOutput(Exception):
    """The model's logits for a batch were non-finite or of the wrong shape."""


def scorer(
    logits_of: Callable[[np.ndarray], np.ndarray], manifest: Manifest
) -> Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """What one batched call computes: (logits, probabilities) for a batch of rows.

    The check and the activation run once per batch, wherever the batch runs: numpy's fixed
    cost per call is then paid once per batch, and on the inference thread they leave the
    event loop free.
    """
    activate = TASKS[manifest.task].activate
    width = manifest.output.width

    def run(batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits = logits_of(batch)
        if logits.shape != (len(batch), width) or not np.isfinite(logits).all():
            raise UnusableOutput
        return logits, activate(logits)

    return run


@dataclass(frozen=True, eq=False)
class LoadedModel:
    name: str
    version: int
    manifest: Manifest
    task: TaskPolicy
    session: Session
    batcher: Batcher
    metrics: VersionMetrics
    folder: Path | None = None  # the version folder it was read from (its report lives there)

    async def infer(self, rows: np.ndarray) -> BatchResult:
        """(logits, probabilities) for `rows`, batched with concurrent requests."""
        return await self.batcher.submit(rows)


class ModelLoader:
    """A version folder to a LoadedModel in two steps, each raising LoadError: `read`, the
    files read and checked (the disk's part: the registry runs it with a deadline), and
    `build`, the version loaded first in a process of its own within the limits (`check`,
    load_check.py; None: no such check), then the session created and warmed up by the
    deadline, batcher and metrics attached."""

    def __init__(
        self,
        runtime: Runtime,
        max_model_bytes: int,
        batching: BatchOptions,
        metrics: Metrics,
        check: LoadCheck | None = None,
    ) -> None:
        self._runtime = runtime
        self._max_model_bytes = max_model_bytes
        self._batching = batching
        self._metrics = metrics
        self._check = check

    def read(self, folder: VersionFolder) -> tuple[Manifest, bytes]:
        return read_version(folder, self._max_model_bytes)

    def build(
        self, folder: VersionFolder, files: tuple[Manifest, bytes], deadline: float
    ) -> LoadedModel:
        manifest, model = files
        if self._check is not None:
            self._check.run(model, manifest, deadline)
        session = self._runtime.create(model, manifest, deadline)
        metrics = self._metrics.version(folder.name, str(folder.version))
        batcher = self._batching.batcher(scorer(session.run, manifest), metrics.observe_batch)
        task = TASKS[manifest.task]
        return LoadedModel(
            folder.name, folder.version, manifest, task, session, batcher, metrics, folder.path
        )
