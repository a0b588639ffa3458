"""Quality and speed benchmarks with their own entry points (``python -m bench.quality``)."""
