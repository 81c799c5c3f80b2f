"""The conformance suite, run against SQLite and PostgreSQL through the `store` fixture."""

from sessionhub.testing.conformance import *  # noqa: F403
