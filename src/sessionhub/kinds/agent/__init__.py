"""The ``agent`` kind: an LLM tool-calling loop in the session's directory (Mix)."""
