"""One package per session kind: its rules, its driver and its helpers."""
