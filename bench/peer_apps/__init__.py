"""Peer model servers serving the same ONNX model, each run by its own Python (a venv with
that framework: see BENCHMARKS.md), never imported by the benchmark itself."""
