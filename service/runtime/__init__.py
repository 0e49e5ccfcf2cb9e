"""How a model runs: ONNX Runtime sessions and providers, placement, the checks a graph must
pass, dynamic batching, the loaded model, and the process's tuning."""
