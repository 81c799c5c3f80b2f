"""Fixtures: databases (SQLite and PostgreSQL), in-process apps, live servers."""

from __future__ import annotations
