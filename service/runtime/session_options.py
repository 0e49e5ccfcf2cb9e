"""ONNX Runtime's session options, the same for the server's sessions and the load check's
(load_check.py), so that the check folds constants and plans memory exactly as the server
will: onnxruntime only, so that the check's process starts quickly."""

from __future__ import annotations

import onnxruntime as ort


def session_options(intra_op_threads: int, no_external_data: str) -> ort.SessionOptions:
    """`no_external_data`: an empty folder of ours where ONNX Runtime looks for external
    weight files (a model loaded from bytes would look in the working directory), so that a
    model with external data fails to load and nothing outside the repository is read."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    options.add_session_config_entry(
        "session.model_external_initializers_file_folder_path", no_external_data
    )
    return options
