"""Write the API documents: docs/openapi.json and docs/asyncapi.json.

Run ``python -m hub.docs_export`` after changing a route or a contract, and
commit the files; a test fails while they are out of date. ``--check`` only
compares and exits 1 on a difference.
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.asyncapi import render_asyncapi
from hub.api import create_app
from hub.settings import Settings

__all__ = ["DOCS_DIR", "main", "render_documents"]

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"


def _text(document: dict[str, Any]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


async def _openapi() -> dict[str, Any]:
    # Defaults, not the environment, so the document is the same everywhere.
    app = create_app(Settings.model_construct())
    document = app.openapi()
    await app.state.hub.repository.close()
    return document


def render_documents() -> dict[str, str]:
    """Return the text of each API document, by file name."""
    return {
        "openapi.json": _text(asyncio.run(_openapi())),
        "asyncapi.json": _text(render_asyncapi()),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write or check the documents; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m hub.docs_export", description=__doc__
    )
    parser.add_argument(
        "--check", action="store_true", help="compare only; exit 1 if out of date"
    )
    args = parser.parse_args(argv)
    documents = render_documents()
    stale = [
        name
        for name, text in documents.items()
        if not (DOCS_DIR / name).is_file()
        or (DOCS_DIR / name).read_text(encoding="utf-8") != text
    ]
    if args.check:
        for name in stale:
            print(f"out of date: {DOCS_DIR / name}", file=sys.stderr)
        return 1 if stale else 0
    for name, text in documents.items():
        (DOCS_DIR / name).write_text(text, encoding="utf-8")
    print(f"wrote {len(stale)} changed documents to {DOCS_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
