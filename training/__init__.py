"""logitserve's training half: train the course's networks, export them to ONNX, publish them.

Run it as ``python -m training --help``. It writes the model repository described in
``docs/model-repository.md`` and never imports ``service/``.
"""
