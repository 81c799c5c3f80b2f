"""The sessionhub pytest plugin: opt-in, never registered for every project.

Driver and store authors get the same fixtures the project's own suite uses by
asking for them: ``pytest_plugins = ["sessionhub.testing.plugin"]`` in their
``conftest.py``, or ``pytest -p sessionhub.testing.plugin``. The package
registers no ``pytest11`` entry point, so installing it adds no fixture (such as
``settings``) to unrelated projects. The fixtures are defined in
``sessionhub.testing.fixtures`` and only registered here.
"""

from __future__ import annotations

from sessionhub.testing.fixtures import *  # noqa: F403
