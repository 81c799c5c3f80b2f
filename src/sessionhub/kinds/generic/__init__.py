"""The ``generic`` kind: just a log."""
