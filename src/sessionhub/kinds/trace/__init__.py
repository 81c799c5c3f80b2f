"""The ``trace`` kind: threads of traces with usage and cost roll-ups (Orq)."""
