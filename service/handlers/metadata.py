"""What the service says about itself and its models, the same for every transport: the
Open Inference Protocol's server and model metadata, and Triton's repository index. HTTP
writes these as JSON; gRPC fills its messages from the same dictionaries."""

from __future__ import annotations

from service import __version__
from service.runtime.loaded_model import OUTPUTS, LoadedModel
from service.serving.registry import ModelStatus, Registry

# Triton's names for the extensions spoken here, advertised in the server metadata.
EXTENSIONS = [
    "binary_tensor_data",
    "classification",
    "model_repository",
    "model_configuration",
    "statistics",
]


def described(registry: Registry, name: str, version: str | None) -> LoadedModel:
    """The version a metadata or configuration request describes: the one it names, or the
    default one (never a canary's draw, which only requests for predictions take part in)."""
    if version is None:
        serving = registry.status(name).serving
        if serving is not None:
            return serving
    return registry.resolve(name, version)


def server_metadata(control: bool) -> dict[str, object]:
    """`control`: a control token is configured. Without one every repository call is
    refused (403), so the extension is not advertised: a client reading the list can rely
    on what it finds there."""
    extensions = [e for e in EXTENSIONS if control or e != "model_repository"]
    return {"name": "logitserve", "version": __version__, "extensions": extensions}


def model_metadata(registry: Registry, model: LoadedModel) -> dict[str, object]:
    """The metadata of `model`, listing every ready version of its name."""
    status = registry.status(model.name)
    versions = [str(v) for v in sorted(status.versions) if status.versions[v].model]
    manifest = model.manifest
    width = manifest.output.width
    return {
        "name": model.name,
        "versions": versions,
        "platform": "onnxruntime_onnx",
        "inputs": [
            {
                "name": manifest.input.name,
                "datatype": manifest.input.datatype,
                "shape": manifest.input.shape,
            }
        ],
        "outputs": [{"name": name, "datatype": "FP32", "shape": [-1, width]} for name in OUTPUTS],
    }


def repository_index(registry: Registry, only_ready: bool) -> list[dict[str, str]]:
    """Every model version in the repository, with its state, by name and version."""
    entries = []
    for name, status in sorted(registry.models.items()):
        for number, version in sorted(status.versions.items()):
            ready = version.model is not None
            if only_ready and not ready:
                continue
            state = "READY" if ready else "UNAVAILABLE"
            entries.append(
                {
                    "name": name,
                    "version": str(number),
                    "state": "LOADING" if version.state == "loading" else state,
                    "reason": version.reason or "",
                }
            )
        if not status.versions and not only_ready:
            entries.append({"name": name, "state": "UNAVAILABLE", "reason": status.reason or ""})
    return entries


def model_statistics(
    registry: Registry, name: str | None = None, version: str | None = None
) -> dict[str, object]:
    """Triton's statistics of every ready version: of every model (no name), of a model's
    ready versions, or of one version (NotFound / NotReady when there is none to report)."""
    if not name:
        models = [m for _, status in sorted(registry.models.items()) for m in _ready(status)]
    elif version:
        models = [registry.resolve(name, version)]
    else:
        models = _ready(registry.status(name))
        if not models:
            registry.resolve(name)  # raises NotReady, with the reason
    return {"model_stats": [m.metrics.statistics.report(m.name, str(m.version)) for m in models]}


def _ready(status: ModelStatus) -> list[LoadedModel]:
    versions = [status.versions[v].model for v in sorted(status.versions)]
    return [model for model in versions if model is not None]
