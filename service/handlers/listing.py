"""The models as people read them: v1's listing and each model's detail (its versions, their
states, roles and metrics, which version answers and why, what an instance looks like).
Transport-free: v1 writes these as JSON, `logitserve list` prints them."""

from __future__ import annotations

from collections.abc import Mapping

from modelrepo.manifest import Manifest
from service.handlers import reports
from service.serving.decisions import serving_summary
from service.serving.model_status import ModelStatus


def summaries(models: Mapping[str, ModelStatus]) -> list[dict[str, object]]:
    """One line per model: `GET /v1/models`."""
    listed = []
    for name, status in sorted(models.items()):
        serving = status.serving
        listed.append(
            {
                "name": name,
                "ready": status.ready,
                "serving_version": serving.version if serving else None,
                "task": serving.task.name if serving else None,
                "primary_metric": primary(serving.manifest) if serving else None,
                "reason": status.reason,
            }
        )
    return listed


def detail(status: ModelStatus, only: int | None = None) -> dict[str, object]:
    """Everything about a model (or, with `only`, about one of its versions)."""
    serving = status.serving
    versions = []
    for number in sorted(status.versions, reverse=True):
        if only is not None and number != only:
            continue
        entry = status.versions[number]
        info: dict[str, object] = {
            "version": number,
            "state": entry.state,
            "reason": entry.reason,
            "role": status.role(number),
            "role_reason": status.why(number),
        }
        if entry.model is not None:
            m = entry.model
            info |= {
                "provider": m.session.provider,
                "provider_fallback": m.session.fallback,
                "cpu_below_rows": m.session.cpu_below_rows,
                "metrics": m.manifest.metrics,
                "metrics_split": m.manifest.metrics_split,
                "primary_metric": primary(m.manifest),
                "created_at": m.manifest.created_at,
                "report": reports.links(m),
            }
        versions.append(info)
    described: dict[str, object] = {
        "name": status.name,
        "ready": status.ready,
        "reason": status.reason,
        "serving_version": serving.version if serving else None,
        "versions": versions,
        "ignored": dict(status.ignored),
        "serving": serving_summary(status),
    }
    if serving is not None:
        manifest = serving.manifest
        spec = manifest.input
        described |= {
            "task": serving.task.name,
            "labels": manifest.labels,
            "default_threshold": serving.task.default_threshold(manifest.threshold),
            "input": {
                "kind": spec.kind,
                "datatype": spec.datatype,
                "shape": spec.shape,
                "image": spec.image.model_dump() if spec.image else None,
                "features": [f.model_dump() for f in spec.features] if spec.features else None,
                "accepts": accepts(manifest),
            },
        }
    return described


def accepts(manifest: Manifest) -> str:
    """What one instance is, in words."""
    spec = manifest.input
    if spec.kind == "image" and spec.image is not None:
        h, w = spec.image.height, spec.image.width
        return f"{h * w} pixel values 0-255 (light digit on dark), flat or {h} rows of {w}"
    return f"{spec.describe_row()}: a list in that order, or an object keyed by name"


def primary(manifest: Manifest) -> dict[str, object] | None:
    """The version's one metric to show alone, with the split it was measured on."""
    found = manifest.primary
    if found is None:
        return None
    name, value = found
    return {"name": name, "value": value, "split": manifest.metrics_split}
