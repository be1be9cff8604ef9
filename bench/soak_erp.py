"""The ERP simulator of the soak test and the end_to_end row, run as a child process.

``python -m bench.soak_erp --port P --items N --stores S --stock-items K``
serves a generated catalogue like ``retail-hub-erp-simulator``, with two
differences: the warehouses catalogue has ``--stores`` retail stores (so
every simulated store gets its own stock), and the price register can change
through ``POST /_bench/prices`` with ``{"count": N, "price_type": "000000001"}``.
The simulator's own ``/_simulator/mutate`` changes only items.
"""

import argparse
import logging
import random
import threading
from collections.abc import Sequence

import uvicorn
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, ConfigDict, Field

from erp_simulator import Catalogue, create_app
from erp_simulator.catalogue import PRICE_TYPES, PRICES_SLICE_LAST
from erp_simulator.entity_sets import EntitySet
from erp_simulator.onec import Row

__all__ = ["PriceList", "build_app", "main"]

logger = logging.getLogger("bench.soak_erp")

PRICE_CHANGE_PATH = "/_bench/prices"
RETAIL_PRICE_TYPE = "000000001"
"""Code of the price type the hub's connectors file maps to the group ``retail``."""


class PriceChange(BaseModel):
    """The body of ``POST /_bench/prices``: how many prices of which type to change."""

    model_config = ConfigDict(extra="forbid", strict=True)

    count: int = Field(ge=1, le=100_000, description="Prices to change.")
    price_type: str = Field(
        RETAIL_PRICE_TYPE, description="Code of the price type (Catalog_ВидыЦен)."
    )


class PriceList:
    """The rows of the price register's SliceLast, which ``change`` edits.

    Readers get a new list of the current rows, and ``change`` replaces rows
    instead of editing them, so a reader never sees a half-changed row.
    """

    def __init__(self, rows: list[Row], price_types: list[Row], seed: int) -> None:
        self._rows = list(rows)
        self._type_refs = {row["Code"]: row["Ref_Key"] for row in price_types}
        self._seed = seed
        self._changes = 0
        self._lock = threading.Lock()

    def rows(self) -> list[Row]:
        """Return the current rows as a new list."""
        with self._lock:
            return list(self._rows)

    def change(self, count: int, price_type: str) -> int:
        """Change the price of ``count`` items under ``price_type``; return how many.

        The items are drawn afresh each call, so repeated calls spread over
        the catalogue. Each price moves by 1% to 10%, so it always differs
        from the old one. Raises KeyError for an unknown price type code.
        """
        type_ref = self._type_refs[price_type]
        with self._lock:
            self._changes += 1
            rng = random.Random(f"soak-prices:{self._seed}:{self._changes}")
            positions = [
                position
                for position, row in enumerate(self._rows)
                if row["ВидЦены_Key"] == type_ref
            ]
            chosen = rng.sample(positions, min(count, len(positions)))
            for position in chosen:
                row = self._rows[position]
                factor = rng.uniform(1.01, 1.10) if rng.random() < 0.5 else 0.95
                self._rows[position] = {**row, "Цена": round(row["Цена"] * factor, 2)}
        logger.info("changed %d prices of price type %s", len(chosen), price_type)
        return len(chosen)


def build_app(catalogue: Catalogue, prices: PriceList) -> FastAPI:
    """Return the simulator's app with the price change route added."""
    app = create_app(catalogue)
    router = APIRouter()

    @router.post(PRICE_CHANGE_PATH)
    async def change_prices(request: PriceChange) -> dict[str, int]:
        """Change prices and return how many changed."""
        return {"changed": prices.change(request.count, request.price_type)}

    app.include_router(router)
    return app


def generate(
    seed: int, items: int, stores: int, stock_items: int
) -> tuple[Catalogue, PriceList]:
    """Generate the catalogue and put a changeable price list in its place."""
    catalogue = Catalogue.generate(
        seed=seed, items=items, stores=stores, stock_items=stock_items
    )
    prices = PriceList(
        catalogue.rows(PRICES_SLICE_LAST), catalogue.rows(PRICE_TYPES), seed
    )
    catalogue.entity_sets.replace(EntitySet(PRICES_SLICE_LAST, prices.rows))
    return catalogue, prices


def main(argv: Sequence[str] | None = None) -> None:
    """Serve the catalogue on loopback until interrupted."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak_erp",
        description="Serve a generated ERP catalogue whose prices can change, for"
        " the soak test and the end_to_end benchmark.",
    )
    parser.add_argument("--port", type=int, required=True, help="TCP port to bind")
    parser.add_argument("--items", type=int, default=2000, help="generated items")
    parser.add_argument("--stores", type=int, default=50, help="retail stores")
    parser.add_argument(
        "--stock-items", type=int, default=2, help="items in stock at each store"
    )
    parser.add_argument("--seed", type=int, default=42, help="catalogue seed")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    catalogue, prices = generate(args.seed, args.items, args.stores, args.stock_items)
    logger.info(
        "serving %s with %d stores on 127.0.0.1:%d",
        catalogue.describe(),
        args.stores,
        args.port,
    )
    uvicorn.run(
        build_app(catalogue, prices),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
