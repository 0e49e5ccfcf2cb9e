"""What each model version is (ready, failed, unloaded, and why), and what becomes of it when
the disk changes: pure functions of the previous state, what a scan found and the time.

The rules, all in one place:
- a version whose files are unchanged is not loaded again, unless it failed and its retry is
  due (1 s, then twice as long each time, up to `retry_max_s`) or a load was asked for;
- a version that fails to load never evicts a serving one: its files changing into something
  that does not load, its folder becoming unreadable, leave the copy in memory serving;
- a serving version (or model) whose folder disappears serves on for `removal_grace_s`, and
  is dropped only if it stays gone; one that is not serving is dropped at once.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from service.repository.folders import ModelFolder, VersionFolder
from service.runtime.loaded_model import LoadedModel
from service.serving.model_status import ModelStatus, VersionStatus

log = logging.getLogger("logitserve.registry")

SERVING_NOTE = "serving the copy loaded earlier"


@dataclass(frozen=True)
class ReloadTimings:
    removal_grace_s: float = 5.0
    retry_first_s: float = 1.0
    retry_max_s: float = 60.0

    def retry_after(self, failures: int) -> float:
        return float(min(self.retry_first_s * 2 ** min(failures - 1, 30), self.retry_max_s))


def loading(folder: ModelFolder) -> ModelStatus:
    """A model seen for the first time, published while its versions load (a request gets
    "not ready: loading", not "unknown model")."""
    states = {v: VersionStatus(v, "loading", "loading") for v in folder.versions}
    return ModelStatus(folder.name, states, folder.ignored)


def unchanged(
    kept: VersionStatus | None, found: VersionFolder, now: float, explicit: bool
) -> VersionStatus | None:
    """The version as it stays when its files need no load, or None: load them."""
    if kept is None:
        return None
    if kept.model is not None and found.fingerprint == kept.fingerprint:
        if kept.reason is None:
            return kept
        return VersionStatus(kept.version, "ready", None, kept.model, kept.fingerprint)  # whole
    if kept.gone_since is not None or explicit:
        return None
    failed_before = (
        found.fingerprint == kept.refused
        if kept.model is not None
        else kept.state == "failed" and found.fingerprint == kept.fingerprint
    )
    if not failed_before or (kept.retry_at is not None and now >= kept.retry_at):
        return None
    return kept


def after_load(
    kept: VersionStatus | None,
    found: VersionFolder,
    model: LoadedModel | None,
    reason: str | None,
    now: float,
    timings: ReloadTimings,
) -> VersionStatus:
    """The version once its files were loaded (model) or failed to (reason)."""
    if model is not None:
        return VersionStatus(found.version, "ready", None, model, found.fingerprint)
    again = kept is not None and found.fingerprint == (
        kept.refused if kept.model is not None else kept.fingerprint
    )
    failures = kept.failures + 1 if again and kept is not None else 1
    retry_at = now + timings.retry_after(failures)
    if kept is not None and kept.model is not None:
        return replace(
            keep_serving(kept, str(reason)),
            refused=found.fingerprint,
            failures=failures,
            retry_at=retry_at,
            gone_since=None,
        )
    return VersionStatus(
        found.version,
        "failed",
        reason,
        fingerprint=found.fingerprint,
        failures=failures,
        retry_at=retry_at,
    )


def keep_serving(kept: VersionStatus, problem: str) -> VersionStatus:
    """A serving version whose files broke, or became unreadable, serves on from memory, and
    says why; logged once per change, not once per scan."""
    note = f"{SERVING_NOTE}; on disk: {problem}"
    if kept.reason != note and kept.model is not None:
        log.warning(
            "the files of a serving version do not load; the loaded copy serves on",
            extra={"model": kept.model.name, "version": kept.version, "reason": problem},
        )
    return replace(kept, reason=note)


def broken(kept: VersionStatus | None, number: int, reason: str) -> VersionStatus:
    """A version folder that cannot even be listed (not a folder, a link outside)."""
    if kept is not None and kept.model is not None:
        return replace(keep_serving(kept, reason), refused=None, gone_since=None)
    return VersionStatus(number, "failed", reason)


def unreadable(previous: ModelStatus | None, name: str, error: str) -> ModelStatus:
    """A model folder that cannot be read (permissions, a mount that does not answer): like a
    repository that cannot be read, what was loaded serves on, and the healthy versions say
    why they are not checked (those already serving from memory keep their own reason)."""
    if previous is None or previous.unloaded:
        return ModelStatus(name, error=error)
    versions = {
        n: keep_serving(v, error) if v.model is not None and v.reason is None else v
        for n, v in previous.versions.items()
    }
    return replace(previous, versions=versions, error=error, gone_since=None)


def vanished_version(
    kept: VersionStatus, now: float, timings: ReloadTimings
) -> VersionStatus | None:
    """A version whose folder is gone: kept serving through the grace, else dropped."""
    since = now if kept.gone_since is None else kept.gone_since
    if kept.model is None or now - since >= timings.removal_grace_s:
        return None
    if kept.gone_since is None:
        gone = f"its folder is gone: unloaded after {timings.removal_grace_s:g} s"
        return replace(keep_serving(kept, gone), gone_since=now)
    return kept


def vanished_model(status: ModelStatus, now: float, timings: ReloadTimings) -> ModelStatus | None:
    """A model whose folder is gone: kept serving through the grace, else dropped."""
    since = now if status.gone_since is None else status.gone_since
    if status.serving is None or now - since >= timings.removal_grace_s:
        return None
    if status.gone_since is None:
        log.warning(
            "a model's folder is gone; it serves on unless it stays gone",
            extra={"model": status.name, "grace_s": timings.removal_grace_s},
        )
        versions = {n: vanished_version(v, now, timings) or v for n, v in status.versions.items()}
        return replace(status, versions=versions, gone_since=now)
    return status
