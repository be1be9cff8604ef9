"""The data a simulator serves: a generated catalogue or replayed responses."""

import logging
import os
import threading
from pathlib import Path
from typing import Literal

from erp_simulator.entity_sets import EntitySet, EntitySetRegistry
from erp_simulator.faults import Faults
from erp_simulator.generator import CatalogueState, generate_catalogue
from erp_simulator.mutations import MutationReport, apply_mutation
from erp_simulator.onec import Row
from erp_simulator.registers import DEFAULT_STOCK_ITEMS, price_rows, stock_rows
from erp_simulator.replay import fixed_rows, load_replay_registry
from erp_simulator.stats import RequestStats
from erp_simulator.stores import DEFAULT_STORE_COUNT, generate_reference_data

__all__ = [
    "BARCODES",
    "ITEMS",
    "PRICES_SLICE_LAST",
    "PRICE_TYPES",
    "STOCK_BALANCE",
    "UNITS",
    "WAREHOUSES",
    "Catalogue",
    "MutationNotSupportedError",
]

logger = logging.getLogger(__name__)

ITEMS = "Catalog_Номенклатура"
UNITS = "Catalog_ЕдиницыИзмерения"
BARCODES = "InformationRegister_ШтрихкодыНоменклатуры"
WAREHOUSES = "Catalog_Склады"
PRICE_TYPES = "Catalog_ВидыЦен"
PRICES_SLICE_LAST = "InformationRegister_ЦеныНоменклатуры25_SliceLast"
STOCK_BALANCE = "AccumulationRegister_ТоварыНаСкладах_Balance"

DEFAULT_SEED = 42
DEFAULT_ITEMS = 5000


class MutationNotSupportedError(RuntimeError):
    """Raised when a catalogue replayed from files is asked to mutate."""


class Catalogue:
    """The entity sets a simulator serves, and the counts of requests for them.

    Build one with ``generate`` or ``from_folder``. A generated catalogue
    changes through ``mutate``, and a replayed one never changes. Reading rows
    and mutating are safe from several threads.

    Attributes: ``entity_sets`` (the served sets), ``mode`` (``generated`` or
    ``replay``), ``seed`` (None in replay), ``source`` (the replayed folder,
    None when generated) and ``stats``, the counts of OData requests that
    every app serving this catalogue records, and ``faults``, the
    misbehaviour those apps show on request.
    """

    def __init__(
        self,
        entity_sets: EntitySetRegistry,
        mode: Literal["generated", "replay"],
        seed: int | None = None,
        state: CatalogueState | None = None,
        source: Path | None = None,
    ) -> None:
        self.entity_sets = entity_sets
        self.mode = mode
        self.seed = seed
        self.source = source
        self.stats = RequestStats()
        self.faults = Faults()
        self._state = state
        self._mutation_count = 0
        self._lock = threading.Lock()

    @classmethod
    def generate(
        cls,
        seed: int = DEFAULT_SEED,
        items: int = DEFAULT_ITEMS,
        stores: int = DEFAULT_STORE_COUNT,
        stock_items: int = DEFAULT_STOCK_ITEMS,
    ) -> "Catalogue":
        """Generate a catalogue of ``items`` items and ``stores`` retail stores.

        Every item gets a price under each retail price type, and every
        warehouse holds stock of up to ``stock_items`` items. Prices and
        stock are drawn once, for the items generated here. The same
        arguments always give the same rows. Raises ValueError if a count is
        out of range.
        """
        state = generate_catalogue(seed, items)
        warehouses, price_types = generate_reference_data(seed, stores)
        catalogue = cls(EntitySetRegistry(), "generated", seed=seed, state=state)
        catalogue._register_generated(state, warehouses, price_types)
        item_refs = [
            ref for ref, row in state.nomenclature.items() if not row["IsFolder"]
        ]
        registers = (
            (PRICES_SLICE_LAST, price_rows(seed, item_refs, price_types)),
            (STOCK_BALANCE, stock_rows(seed, item_refs, warehouses, stock_items)),
        )
        for name, rows in registers:
            catalogue.entity_sets.add(EntitySet(name, fixed_rows(rows)))
        logger.debug("Generated %s", catalogue.describe())
        return catalogue

    @classmethod
    def from_folder(cls, path: str | os.PathLike[str]) -> "Catalogue":
        """Load a catalogue that serves the response files in folder ``path``.

        Raises NotADirectoryError or ValueError as ``load_replay_registry``.
        """
        folder = Path(path)
        return cls(load_replay_registry(folder), "replay", source=folder)

    @property
    def mutation_count(self) -> int:
        """Number of mutations applied so far."""
        return self._mutation_count

    def rows(self, name: str) -> list[Row]:
        """Return the current rows of entity set ``name``, as a new list.

        Raises UnknownEntitySetError if no set has that name.
        """
        return self.entity_sets.get(name).rows()

    def mutate(
        self, *, edit: int = 0, add: int = 0, mark_deleted: int = 0, remove: int = 0
    ) -> MutationReport:
        """Edit, add, mark for deletion and remove items, and report which.

        Only items that are neither folders nor marked for deletion are
        picked, each for at most one kind of change. Added items get
        barcodes, and removed items lose theirs. Raises MutationError if a
        count is invalid, and MutationNotSupportedError for a replayed
        catalogue.
        """
        if self._state is None or self.seed is None:
            raise MutationNotSupportedError(
                "a catalogue replayed from files cannot be mutated. "
                "Use a generated catalogue to test changes"
            )
        counts = {"edit": edit, "add": add, "mark_deleted": mark_deleted}
        counts["remove"] = remove
        with self._lock:
            sequence = self._mutation_count + 1
            report = apply_mutation(self._state, self.seed, sequence, counts)
            self._mutation_count = sequence
        logger.info(
            "Mutation %d: edited %d, added %d, marked deleted %d, removed %d items",
            sequence,
            len(report.edited),
            len(report.added),
            len(report.marked_deleted),
            len(report.removed),
        )
        return report

    def describe(self) -> str:
        """Return a one-line description of the mode and size, for logs."""
        items = "no item catalogue"
        if ITEMS in self.entity_sets.names():
            count = sum(1 for row in self.rows(ITEMS) if not row.get("IsFolder"))
            items = f"{count} items"
        if self.mode == "replay":
            sets = len(self.entity_sets)
            return (
                f"replayed responses from {self.source} ({sets} entity sets, {items})"
            )
        return f"generated catalogue (seed {self.seed}, {items})"

    def _register_generated(
        self, state: CatalogueState, warehouses: list[Row], price_types: list[Row]
    ) -> None:
        def item_rows() -> list[Row]:
            with self._lock:
                return list(state.nomenclature.values())

        def barcode_rows() -> list[Row]:
            with self._lock:
                return list(state.barcodes)

        self.entity_sets.add(EntitySet(ITEMS, item_rows, "Ref_Key"))
        self.entity_sets.add(EntitySet(UNITS, fixed_rows(state.units), "Ref_Key"))
        self.entity_sets.add(EntitySet(BARCODES, barcode_rows))
        self.entity_sets.add(EntitySet(WAREHOUSES, fixed_rows(warehouses), "Ref_Key"))
        self.entity_sets.add(EntitySet(PRICE_TYPES, fixed_rows(price_types), "Ref_Key"))
