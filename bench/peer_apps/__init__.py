"""Peer model servers serving the same ONNX model. The benchmark runs each as a script with
the peer's own Python (a venv with that framework, made by `python -m bench.peers`); only
`_model`, which needs nothing but ONNX Runtime, is imported here, by a test that checks it
computes what the service computes."""
