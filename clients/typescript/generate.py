"""Regenerate the TypeScript client's types from the server's OpenAPI document.

    .venv/bin/python clients/typescript/generate.py                 # from this checkout's app
    .venv/bin/python clients/typescript/generate.py --url http://127.0.0.1:8700   # a running server

Writes ``openapi.json`` (the document, as the app serves it at ``/v1/openapi.json``)
and ``src/schema.d.ts`` (openapi-typescript's types for it) beside this file. The
first run installs the pinned generator (``npm ci``) when ``node_modules`` is missing.
``tests/client/test_typescript.py`` fails while the committed files are not current.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DOCUMENT = HERE / "openapi.json"
SCHEMA = HERE / "src" / "schema.d.ts"


def app_document() -> dict[str, Any]:
    """The OpenAPI document of an app made from this checkout (nothing is started)."""
    from sessionhub.api.app import create_app
    from sessionhub.config import Settings

    with tempfile.TemporaryDirectory() as data_dir:
        document: dict[str, Any] = create_app(Settings(data_dir=Path(data_dir))).openapi()
    return document


def served_document(url: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(url.rstrip("/") + "/v1/openapi.json", timeout=30)
    response.raise_for_status()
    document: dict[str, Any] = response.json()
    return document


def document_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def generate(document: dict[str, Any], node_modules: Path, out: Path) -> None:
    """``openapi-typescript`` (from ``node_modules``) over ``document`` into ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "openapi.json"
        source.write_text(document_text(document))
        cli = node_modules / "openapi-typescript" / "bin" / "cli.js"
        # a field with a default is optional to send (not required, as openapi-typescript
        # would make it by default)
        command = ["node", str(cli), str(source), "--default-non-nullable", "false",
                   "--output", str(out)]  # fmt: skip
        subprocess.run(command, check=True, capture_output=True, text=True, timeout=300)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    parser.add_argument("--url", help="a running server (default: this checkout's app)")
    args = parser.parse_args()
    document = served_document(args.url) if args.url else app_document()
    if not (HERE / "node_modules").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True)
    DOCUMENT.write_text(document_text(document))
    generate(document, HERE / "node_modules", SCHEMA)
    print(
        f"wrote {DOCUMENT.relative_to(HERE.parents[1])} and {SCHEMA.relative_to(HERE.parents[1])}"
    )


if __name__ == "__main__":
    sys.exit(main())
