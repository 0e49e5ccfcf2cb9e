"""The benchmark: logitserve against same-run baselines, driven by wrk over loopback.

    python -m bench [--duration 5] [--models-dir models] [--quick]

It is a benchmark, not a test: it prints figures and ratios; nothing asserts timings.
"""
