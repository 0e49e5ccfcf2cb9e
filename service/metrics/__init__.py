"""What the service counts: Prometheus metrics (all workers) and Triton's statistics."""
