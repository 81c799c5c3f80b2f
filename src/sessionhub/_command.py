"""The ``sessionhub`` console script: the CLI, or a clear word when it is not installed.

The base install is the Python SDK alone; the CLI and the server need the
``server`` extra. Without it the command says how to get it instead of a traceback.
"""

from __future__ import annotations

import sys

INSTALL_HINT = (
    "the sessionhub command needs the server extra, which this install lacks:\n"
    "  pip install 'sessionhub[server]'\n"
    "(`pip install sessionhub` alone installs the Python SDK: `from sessionhub import Client`)"
)


def main() -> None:
    try:
        from sessionhub.cli import main as cli_main
    except ModuleNotFoundError as exc:
        if (exc.name or "").partition(".")[0] == "sessionhub":
            raise  # our own module missing is a bug, not an install choice
        print(f"sessionhub: {INSTALL_HINT}\n(missing module: {exc.name})", file=sys.stderr)
        raise SystemExit(2) from None
    cli_main()
