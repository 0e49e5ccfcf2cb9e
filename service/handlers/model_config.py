"""Triton's model configuration extension: a model version described as Triton's
model_config.proto describes a model (`GET /v2/models/{m}/config`, gRPC's ModelConfig), so
that Triton's clients and examples can read how to call it.

Built from the manifest and the settings, never from a config file: a model here has no
config.pbtxt, and what Triton would read from one is decided by the service (batching) or
the manifest (tensors, labels).
"""

from __future__ import annotations

from modelrepo.serving_config import ServingConfig
from service.protocol.datatypes import DATATYPES
from service.runtime.loaded_model import OUTPUTS, LoadedModel
from service.runtime.providers import CUDA
from service.settings import Settings


def model_config(
    model: LoadedModel, settings: Settings, serving: ServingConfig | None = None
) -> dict[str, object]:
    """The configuration, as Triton writes it in JSON (its protobuf's field names); the
    version policy is the model's serving.json's, if it has one."""
    manifest = model.manifest
    spec = manifest.input
    gpu = model.session.provider == CUDA
    config: dict[str, object] = {
        "name": model.name,
        "platform": "onnxruntime_onnx",
        "backend": "onnxruntime",
        "runtime": "",
        # Without serving.json every version folder is loaded and can be addressed; the
        # highest ready one serves requests that name none.
        "version_policy": serving.version_policy.as_triton() if serving else {"all": {}},
        # The most rows one request may carry: what a client needs to know to split its work.
        "max_batch_size": settings.max_instances,
        "input": [
            {
                "name": spec.name,
                "data_type": DATATYPES[spec.datatype].config,
                "format": "FORMAT_NONE",
                "dims": list(spec.row_shape),
                "is_shape_tensor": False,
                "allow_ragged_batch": False,
                "optional": False,
                "is_non_linear_format_io": False,
            }
        ],
        "output": [
            {
                "name": name,
                "data_type": "TYPE_FP32",
                "dims": [manifest.output.width],
                "label_filename": "",
                "is_shape_tensor": False,
                "is_non_linear_format_io": False,
            }
            for name in OUTPUTS
        ],
        "instance_group": [
            {
                "name": f"{model.name}_0",
                "kind": "KIND_GPU" if gpu else "KIND_CPU",
                "count": 1,
                "gpus": [0] if gpu else [],
                "secondary_devices": [],
                "profile": [],
                "passive": False,
                "host_policy": "",
            }
        ],
        "default_model_filename": "model.onnx",
        "parameters": {},
        "model_warmup": [],
    }
    if settings.batching:
        config["dynamic_batching"] = {
            "preferred_batch_size": [settings.max_batch_size],
            "max_queue_delay_microseconds": settings.max_batch_wait_us,
            "preserve_ordering": False,
            "priority_levels": 0,
            "default_priority_level": 0,
            "priority_queue_policy": {},
        }
    return config
