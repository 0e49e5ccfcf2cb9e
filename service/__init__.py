"""logitserve's serving half: ONNX Runtime behind HTTP (v1 for people, v2 the Open Inference Protocol)."""

__version__ = "0.1.0"
