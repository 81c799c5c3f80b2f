"""The ``kernel`` kind: Jupyter kernels whose executions are the session's events."""
