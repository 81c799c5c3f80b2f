"""The missing-database error names the exact ``createdb`` line for the URL given."""

from __future__ import annotations

import pytest

from sessionhub.store.sql.db import createdb_command


@pytest.mark.parametrize(
    ("url", "command"),
    [
        ("postgresql://postgres@127.0.0.1:5432/sessionhub", "createdb -h 127.0.0.1 -U postgres sessionhub"),
        ("postgresql://u:secret@db.example:6543/app?sslmode=require", "createdb -h db.example -p 6543 -U u app"),
        ("postgresql://localhost/my%20db", "createdb -h localhost 'my db'"),
    ],
)  # fmt: skip
def test_createdb_command(url: str, command: str) -> None:
    assert createdb_command(url) == command
    assert "secret" not in createdb_command(url)
