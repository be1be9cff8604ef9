"""Changes to a generated catalogue, as a user of the ERP would make them.

One mutation edits, adds, marks for deletion and removes items at once.
What it picks and draws depends only on the catalogue's seed, the mutation's
sequence number and the rows it starts from, so a run that repeats the same
mutations on the same seed gets the same result.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from erp_simulator.generator import CatalogueState, format_item_code
from erp_simulator.items import (
    ItemFolder,
    draw_article,
    draw_names,
    new_barcode_rows,
    new_item_row,
)
from erp_simulator.onec import Row, new_data_version

__all__ = [
    "MAX_ADDED_ITEMS",
    "MutationError",
    "MutationReport",
    "apply_mutation",
    "live_item_refs",
    "validate_counts",
]

MAX_ADDED_ITEMS = 100_000
"""The most items one mutation adds."""

# Items added by mutation N are created on this day plus N days, so their
# creation dates follow those of the generated items.
_ADDED_FROM = datetime(2025, 7, 1)
_EDITABLE_PARTS = ("name", "article", "weight")


class MutationError(ValueError):
    """Raised when the counts of a mutation are invalid for the catalogue."""


@dataclass(frozen=True)
class MutationReport:
    """The Ref_Keys of the items one mutation changed, by kind of change.

    ``sequence`` is the mutation's number: 1 for the first on a catalogue.
    The four groups are disjoint.
    """

    sequence: int
    edited: tuple[str, ...]
    added: tuple[str, ...]
    marked_deleted: tuple[str, ...]
    removed: tuple[str, ...]

    def as_dict(self) -> dict[str, int | list[str]]:
        """Return the report as a JSON-ready dict with the same keys."""
        return {
            "sequence": self.sequence,
            "edited": list(self.edited),
            "added": list(self.added),
            "marked_deleted": list(self.marked_deleted),
            "removed": list(self.removed),
        }


def validate_counts(counts: dict[str, int], available: int) -> None:
    """Check the counts of a mutation against ``available`` live items.

    Raises MutationError if a count is not a non-negative int, if more than
    ``MAX_ADDED_ITEMS`` items would be added, or if edit, mark_deleted and
    remove together pick more items than are available.
    """
    for kind, count in counts.items():
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise MutationError(f"{kind} must be a non-negative integer, got {count!r}")
    if counts["add"] > MAX_ADDED_ITEMS:
        raise MutationError(
            f"add must be at most {MAX_ADDED_ITEMS}, got {counts['add']}"
        )
    picked = counts["edit"] + counts["mark_deleted"] + counts["remove"]
    if picked > available:
        raise MutationError(
            f"edit, mark_deleted and remove pick {picked} items together, but only "
            f"{available} items are neither folders nor marked for deletion"
        )


def live_item_refs(state: CatalogueState) -> list[str]:
    """Return the Ref_Keys of items that are not folders or marked deleted."""
    return [
        ref
        for ref, row in state.nomenclature.items()
        if not row["IsFolder"] and not row["DeletionMark"]
    ]


def _edit_item(
    rng: random.Random, state: CatalogueState, folder: ItemFolder, row: Row
) -> Row:
    """Return a copy of ``row`` with one to three parts of its content redrawn.

    The parts are the names, the article number and the weight. The copy
    differs from ``row`` in at least one of them and in its DataVersion.
    """
    edited = dict(row)
    parts = rng.sample(_EDITABLE_PARTS, rng.randint(1, len(_EDITABLE_PARTS)))
    if "name" in parts:
        name = draw_names(rng, folder, state.registry)
        edited["Description"] = name.description
        edited["НаименованиеПолное"] = name.full_name
    if "article" in parts or edited == row:
        prefix = row["Артикул"].split("-", 1)[0]
        edited["Артикул"] = draw_article(rng, prefix, state.registry)
    if "weight" in parts:
        weight = round(row["ВесЧислитель"] * rng.uniform(0.85, 1.15), 3)
        if weight == row["ВесЧислитель"]:
            weight = round(weight + 0.001, 3)
        edited["ВесЧислитель"] = weight
    edited["DataVersion"] = new_data_version(rng, old=row["DataVersion"])
    return edited


def _add_item(rng: random.Random, state: CatalogueState, sequence: int) -> str:
    folder = rng.choice(state.item_folders)
    code = format_item_code(state.next_code)
    state.next_code += 1
    created_from = _ADDED_FROM + timedelta(days=sequence)
    row = new_item_row(rng, folder, state.registry, code, created_from)
    state.nomenclature[row["Ref_Key"]] = row
    state.barcodes.extend(new_barcode_rows(rng, row["Ref_Key"], state.registry))
    ref: str = row["Ref_Key"]
    return ref


def apply_mutation(
    state: CatalogueState, seed: int, sequence: int, counts: dict[str, int]
) -> MutationReport:
    """Apply one mutation with number ``sequence`` to ``state`` and report it.

    ``counts`` has the keys edit, add, mark_deleted and remove. Raises
    MutationError, before changing anything, if the counts are invalid.
    """
    candidates = live_item_refs(state)
    validate_counts(counts, len(candidates))
    rng = random.Random(f"erp-simulator:{seed}:mutation:{sequence}")
    picked = rng.sample(
        candidates, counts["edit"] + counts["mark_deleted"] + counts["remove"]
    )
    edited = picked[: counts["edit"]]
    marked = picked[counts["edit"] : counts["edit"] + counts["mark_deleted"]]
    removed = picked[counts["edit"] + counts["mark_deleted"] :]

    folders = {folder.ref: folder for folder in state.item_folders}
    for ref in edited:
        row = state.nomenclature[ref]
        folder = folders[row["Parent_Key"]]
        state.nomenclature[ref] = _edit_item(rng, state, folder, row)
    for ref in marked:
        row = dict(state.nomenclature[ref])
        row["DeletionMark"] = True
        row["DataVersion"] = new_data_version(rng, old=row["DataVersion"])
        state.nomenclature[ref] = row
    removed_set = set(removed)
    for ref in removed:
        del state.nomenclature[ref]
    if removed_set:
        state.barcodes = [
            row for row in state.barcodes if row["Номенклатура_Key"] not in removed_set
        ]
    added = [_add_item(rng, state, sequence) for _ in range(counts["add"])]
    return MutationReport(
        sequence=sequence,
        edited=tuple(edited),
        added=tuple(added),
        marked_deleted=tuple(marked),
        removed=tuple(removed),
    )
