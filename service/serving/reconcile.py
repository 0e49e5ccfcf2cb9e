"""Bringing one model in line with its folder: its serving config and control state read,
the promotion gate and the version policy applied (modelrepo/routing.py), the versions that
should be loaded loaded (or kept, retried, served on from memory: versions.py), and the version
that answers requests without one chosen. Every disk read goes through `Disk`, with its
deadline; the versions to load load side by side, each within the load deadline
(runtime/load_slots.py).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from modelrepo import control_state, routing, serving_config
from modelrepo.control_state import ControlState
from modelrepo.manifest import Manifest
from modelrepo.names import SERVING_FILE
from modelrepo.serving_config import ServingConfig
from service.repository.disk import Disk, DiskTimeout
from service.repository.folders import LoadError, ModelFolder, VersionFolder, read_manifest
from service.runtime.load_slots import LoadSlots, LoadTimeout
from service.runtime.loaded_model import LoadedModel
from service.serving import versions
from service.serving.model_status import ModelStatus, VersionStatus
from service.serving.versions import ReloadTimings

log = logging.getLogger("logitserve.registry")


class Loader(Protocol):
    """Makes a ready model of a version folder in two steps (model.ModelLoader): `read`, the
    disk's part, and `build`, the CPU's, done by `deadline` (time.monotonic()); each raises
    LoadError with the reason."""

    def read(self, folder: VersionFolder) -> Any: ...

    def build(self, folder: VersionFolder, files: Any, deadline: float) -> LoadedModel: ...


class Reconciler:
    def __init__(
        self,
        loader: Loader,
        disk: Disk,
        timings: ReloadTimings,
        clock: Callable[[], float],
        slots: LoadSlots,
    ) -> None:
        self._loader = loader
        self._disk = disk
        self._timings = timings
        self._clock = clock
        self._slots = slots

    async def model(
        self, folder: ModelFolder, previous: ModelStatus | None, now: float, explicit: bool
    ) -> ModelStatus:
        if folder.error is not None and not folder.gone:
            return versions.unreadable(previous, folder.name, folder.error)
        config, control, problem = _settings(folder, previous)
        if problem is not None and (previous is None or previous.plan is None):
            return _blocked(folder, problem)
        if control.unloaded:
            already = previous is not None and previous.unloaded
            numbers = [*folder.versions, *folder.broken]
            return unloaded(folder.name, numbers, folder.ignored, config, control, already)
        if previous is not None and (previous.unloaded or previous.control.loads < control.loads):
            explicit = True  # loaded through the API or CLI since: retry every failed version
        old = previous.versions if previous is not None and not previous.unloaded else {}
        # Versions whose folders vanished, serving on through the grace, take part as before.
        statuses: dict[int, VersionStatus] = {}
        for number, gone in old.items():
            if number not in folder.versions and number not in folder.broken:
                survivor = versions.vanished_version(gone, now, self._timings)
                if survivor is not None:
                    statuses[number] = survivor
        gated = config is not None and config.gate is not None
        manifests = await self._manifests(folder, old) if gated else {}
        for number, entry in statuses.items():
            manifests[number] = entry.model.manifest if entry.model else None
        was = previous.route.default if previous is not None and previous.route else None
        keep = {was} if was is not None else set()
        plan = routing.plan([*folder.versions, *statuses], manifests, config, control, keep)
        to_load: list[tuple[VersionFolder, VersionStatus | None]] = []
        for number, found in folder.versions.items():
            kept = old.get(number)
            if number not in plan.load:
                statuses[number] = VersionStatus(
                    number,
                    "unloaded",
                    plan.outside.get(number),
                    fingerprint=found.fingerprint,
                    manifest=manifests.get(number),
                )
                continue
            same = versions.unchanged(kept, found, now, explicit)
            if same is not None:
                statuses[number] = same
                continue
            to_load.append((found, kept))
        # Side by side: one slow version holds up the others no longer than a slot.
        loads = await asyncio.gather(*(self._load(found, kept) for found, kept in to_load))
        for (found, kept), (model, reason) in zip(to_load, loads):
            statuses[found.version] = versions.after_load(
                kept, found, model, reason, now, self._timings
            )
        for number, reason in folder.broken.items():
            statuses[number] = versions.broken(old.get(number), number, reason)
        ready = {n for n, s in statuses.items() if s.model is not None}
        route = routing.route(ready, plan, config, control, was)
        return ModelStatus(
            folder.name,
            statuses,
            folder.ignored,
            problem,
            config=config,
            control=control,
            plan=plan,
            route=route,
        )

    async def _manifests(
        self, folder: ModelFolder, old: Mapping[int, VersionStatus]
    ) -> dict[int, Manifest | None]:
        """Every version's manifest, for the gate: a loaded version's own (its files changing
        on disk, even into something broken, must not move the default before a new load
        succeeds), else from memory while the files are the same, else read."""
        found: dict[int, Manifest | None] = {}
        for number, vf in folder.versions.items():
            kept = old.get(number)
            if kept is not None and kept.model is not None:
                found[number] = kept.model.manifest
                continue
            if kept is not None and kept.fingerprint == vf.fingerprint:
                found[number] = kept.model.manifest if kept.model else kept.manifest
                if found[number] is not None or kept.state == "failed":
                    continue
            try:
                found[number] = await self._disk.call(str(vf.path), read_manifest, vf)
            except (LoadError, OSError):
                found[number] = None  # its load, if it is wanted, will say why
        return found

    async def _load(
        self, folder: VersionFolder, kept: VersionStatus | None
    ) -> tuple[LoadedModel | None, str | None]:
        started = time.perf_counter()
        key = str(folder.path)
        try:
            files = await self._disk.call(key, self._loader.read, folder)
            loaded = await self._slots.run(key, self._loader.build, folder, files)
        except DiskTimeout as exc:
            reason = f"cannot read its files: {exc}"
        except (LoadError, LoadTimeout) as exc:
            reason = str(exc)
        else:
            log.info(
                "model version ready",
                extra={
                    "model": folder.name,
                    "version": folder.version,
                    "provider": loaded.session.provider,
                    "fallback": loaded.session.fallback,
                    "load_ms": round((time.perf_counter() - started) * 1000, 1),
                },
            )
            return loaded, None
        retried = kept is not None and reason in (kept.reason or "")
        (log.info if retried else log.warning)(
            "model version not loaded",
            extra={"model": folder.name, "version": folder.version, "reason": reason},
        )
        return None, reason


def _settings(
    folder: ModelFolder, previous: ModelStatus | None
) -> tuple[ServingConfig | None, ControlState, str | None]:
    """The serving config and control state, and what is wrong with them. One that does not
    parse leaves the previous in force; at first there is none, and `_blocked` says so."""
    config = previous.config if previous is not None else None
    control = previous.control if previous is not None else ControlState()
    problems = list(folder.unreadable.values())
    if folder.config is None and SERVING_FILE not in folder.unreadable:
        config = None
    elif folder.config is not None:
        try:
            config = serving_config.parse(folder.config)
        except ValueError as exc:
            problems.append(str(exc))
    if folder.control is None and control_state.CONTROL_FILE not in folder.unreadable:
        control = ControlState()
    elif folder.control is not None:
        try:
            control = control_state.parse(folder.control)
        except ValueError as exc:
            problems.append(str(exc))
    problem = "; ".join(problems) or None
    if problem is not None and (previous is None or previous.error != problem):
        log.warning("model settings not applied", extra={"model": folder.name, "reason": problem})
    return config, control, problem


def _blocked(folder: ModelFolder, problem: str) -> ModelStatus:
    """A model whose serving config or control state cannot be read when it first loads:
    loading it regardless might let a version serve that the config would refuse."""
    reason = f"not loaded: {problem}"
    return ModelStatus(
        folder.name,
        {v: VersionStatus(v, "unloaded", reason) for v in [*folder.versions, *folder.broken]},
        folder.ignored,
        error=problem,
    )


def unloaded(
    name: str,
    numbers: Iterable[int],
    ignored: Mapping[str, str],
    config: ServingConfig | None,
    control: ControlState,
    already: bool,
) -> ModelStatus:
    """The model with every version unloaded, through the control API or CLI."""
    if not already:
        log.info("model unloaded", extra={"model": name, "by": control.last_action})
    reason = "unloaded through the repository API"
    return ModelStatus(
        name,
        {v: VersionStatus(v, "unloaded", reason) for v in numbers},
        ignored,
        unloaded=True,
        config=config,
        control=control,
    )
