"""HTTP: v1 for people and scripts, v2 (the Open Inference Protocol) for other services."""
