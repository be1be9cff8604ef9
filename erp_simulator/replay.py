"""Load captured 1C responses from a folder, to serve them as they are.

Each ``<EntitySet>.json`` file holds one list response of 1C, an object with
a ``value`` list, and is served as the entity set named by the file name.
A file named for a virtual table, such as
``InformationRegister_ЦеныНоменклатуры25_SliceLast.json``, is served at
``InformationRegister_ЦеныНоменклатуры25/SliceLast(...)``. JSON files without
a ``value`` list, such as captured error responses, are skipped.
"""

import json
import logging
import unicodedata
from pathlib import Path

from erp_simulator.entity_sets import EntitySet, EntitySetRegistry, RowProvider
from erp_simulator.onec import Row

__all__ = ["fixed_rows", "load_replay_registry"]

logger = logging.getLogger(__name__)


def _read_rows(path: Path) -> list[Row] | None:
    """Return the ``value`` rows of a response file, or None if it has none.

    Raises ValueError if the file is not valid UTF-8 JSON.
    """
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path} is not a valid JSON response: {error}") from error
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        return None
    rows: list[Row] = body["value"]
    if not all(isinstance(row, dict) for row in rows):
        raise ValueError(f"{path}: every element of 'value' must be an object")
    return rows


def fixed_rows(rows: list[Row]) -> RowProvider:
    """Return a row provider that always returns a copy of ``rows``."""

    def provide() -> list[Row]:
        return list(rows)

    return provide


def load_replay_registry(folder: Path) -> EntitySetRegistry:
    """Read every response file in ``folder`` into a registry of entity sets.

    Raises NotADirectoryError if ``folder`` is not a directory, and
    ValueError if a JSON file is invalid or no file holds a response.
    """
    if not folder.is_dir():
        raise NotADirectoryError(f"replay folder {folder} is not a directory")
    registry = EntitySetRegistry()
    for path in sorted(folder.glob("*.json")):
        rows = _read_rows(path)
        if rows is None:
            logger.debug("Skipped %s: it has no 'value' list", path)
            continue
        # File names from macOS come in decomposed Unicode form (NFD), and
        # URLs name entity sets in composed form (NFC).
        name = unicodedata.normalize("NFC", path.stem)
        has_keys = bool(rows) and all("Ref_Key" in row for row in rows)
        registry.add(
            EntitySet(
                name,
                rows=fixed_rows(rows),
                key_field="Ref_Key" if has_keys else None,
            )
        )
        logger.debug("Loaded %d rows of %s from %s", len(rows), name, path)
    if len(registry) == 0:
        raise ValueError(f"replay folder {folder} has no <EntitySet>.json responses")
    return registry
