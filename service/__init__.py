"""logitserve's serving half: ONNX Runtime behind HTTP.

v1 is for people and scripts; v2 is the Open Inference Protocol, for other services.
"""

__version__ = "0.1.0"
