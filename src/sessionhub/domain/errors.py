"""Domain errors: the one exception tree every layer below the API raises.

    SessionHubError
    ├── NotFound                 a resource does not exist (or is not yours)
    ├── Conflict                 the request clashes with current state
    │   ├── AlreadyExists        a unique name / id is taken
    │   ├── SeqMismatch          expected_seq differs from the session's last seq
    │   └── RunActive            the session already has a run in flight
    ├── PreconditionFailed       If-Match version differs
    ├── Invalid                  the request is well-formed but not acceptable
    │   └── PathNotAllowed       a file path would escape the session directory
    ├── TooLarge                 a body or file is over its configured limit
    ├── Unauthorized             no key, or a key that is not valid
    ├── Forbidden                a valid key without the needed scope
    ├── Unsupported              the session's driver lacks a capability
    └── Unavailable              a dependency (database, driver) cannot serve now
        └── Interrupted          work stopped unfinished (timed out, its process died)

Each API surface maps these classes to its own envelope in one table
(``sessionhub.api.problems`` for the native API).
"""

from __future__ import annotations

from typing import Any


class SessionHubError(Exception):
    """Base of every domain error; ``detail`` is safe to show to the client."""

    title = "Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(SessionHubError):
    title = "Not Found"


class Conflict(SessionHubError):
    title = "Conflict"


class AlreadyExists(Conflict):
    title = "Already Exists"


class SeqMismatch(Conflict):
    title = "Sequence Mismatch"

    def __init__(self, detail: str, *, current_seq: int) -> None:
        super().__init__(detail, current_seq=current_seq)
        self.current_seq = current_seq


class RunActive(Conflict):
    title = "Run Already Active"


class PreconditionFailed(SessionHubError):
    title = "Precondition Failed"

    def __init__(self, detail: str, *, current_version: int) -> None:
        super().__init__(detail, current_version=current_version)
        self.current_version = current_version


class Invalid(SessionHubError):
    title = "Invalid Request"


class PathNotAllowed(Invalid):
    title = "Path Not Allowed"


class TooLarge(SessionHubError):
    title = "Content Too Large"


class Unauthorized(SessionHubError):
    title = "Unauthorized"


class Forbidden(SessionHubError):
    title = "Forbidden"


class Unsupported(SessionHubError):
    title = "Unsupported"


class Unavailable(SessionHubError):
    title = "Service Unavailable"


class Interrupted(Unavailable):
    title = "Interrupted"
