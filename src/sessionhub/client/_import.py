"""An import answered with the server's own progress (``Accept: application/x-ndjson``).

The server sends a JSON line per chunk of events it has stored, then the session (or
the problem that ended the import) as the last line. Sans-I/O: the sync and async
clients feed it the lines they read.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
from pydantic import ValidationError

from sessionhub.client._exceptions import ProtocolError, error_from_response
from sessionhub.domain.models import Session

NDJSON = "application/x-ndjson"
ServerProgress = Callable[[int, int], None]
"""Called as ``server_progress(events_stored, events_total)`` while the server imports."""


def answers_with_progress(response: httpx.Response) -> bool:
    return str(response.headers.get("content-type", "")).startswith(NDJSON)


class ImportFeed:
    def __init__(self, progress: ServerProgress) -> None:
        self.progress = progress
        self.session: Session | None = None

    def line(self, text: str) -> None:
        if not text.strip():
            return
        try:
            item = json.loads(text)
            kind = item["type"]
            if kind == "progress":
                self.progress(int(item["events_done"]), int(item["events_total"]))
            elif kind == "session":
                self.session = Session.model_validate(item["session"], extra="ignore")
            elif kind == "error":
                problem = item["problem"]
                raise error_from_response(httpx.Response(int(problem["status"]), json=problem))
        except (ValueError, KeyError, TypeError, ValidationError) as exc:
            raise ProtocolError(f"unexpected import progress line: {text[:200]!r}") from exc

    def end(self) -> Session:
        if self.session is None:
            raise ProtocolError("the import's progress ended without the session")
        return self.session
