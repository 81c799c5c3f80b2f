"""The sessionhub pytest plugin (``pytest11`` entry point).

Driver and store authors get the same fixtures the project's own suite uses;
they are defined in ``sessionhub.testing.fixtures`` and only registered here.
"""

from __future__ import annotations

from sessionhub.testing.fixtures import *  # noqa: F403
