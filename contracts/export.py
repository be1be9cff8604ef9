"""Write the JSON Schema of every entity's contract to ``contracts/schemas``.

Run ``python -m contracts.export`` after changing a contract model, and
commit the files it writes; a test fails while they are out of date.
``python -m contracts.export --check`` only compares and exits 1 on a
difference.
"""

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from contracts.entities import ENTITIES

__all__ = ["SCHEMA_DIR", "main", "render_schemas"]

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


def render_schemas() -> dict[str, str]:
    """Return the JSON Schema text of each entity, by file name."""
    files: dict[str, str] = {}
    for name, spec in sorted(ENTITIES.items()):
        schema: dict[str, Any] = spec.model.model_json_schema(mode="serialization")
        schema["$id"] = f"retail-hub/{name}/v{spec.schema_version}"
        schema["x-entity"] = name
        schema["x-schema-version"] = spec.schema_version
        text = json.dumps(schema, ensure_ascii=False, indent=2, sort_keys=True)
        files[f"{name}.json"] = text + "\n"
    return files


def main(argv: Sequence[str] | None = None) -> int:
    """Write or check the schema files; return the exit code."""
    parser = argparse.ArgumentParser(prog="python -m contracts.export")
    parser.add_argument(
        "--check", action="store_true", help="compare only; exit 1 if out of date"
    )
    args = parser.parse_args(argv)
    stale = [
        file_name
        for file_name, text in render_schemas().items()
        if not (SCHEMA_DIR / file_name).is_file()
        or (SCHEMA_DIR / file_name).read_text(encoding="utf-8") != text
    ]
    if args.check:
        for file_name in stale:
            print(f"out of date: {SCHEMA_DIR / file_name}", file=sys.stderr)
        return 1 if stale else 0
    SCHEMA_DIR.mkdir(exist_ok=True)
    for file_name, text in render_schemas().items():
        (SCHEMA_DIR / file_name).write_text(text, encoding="utf-8")
    print(f"wrote {len(stale)} changed schema files to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
