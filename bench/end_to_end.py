"""The end_to_end row: from an ERP change of 1,000 prices to 99% of stores holding it.

The row starts a private FerretDB, the ERP simulator and the pull API as
child processes, as the soak test does (``bench.soak_services``). A fleet of
simulated stores runs in this process (``bench.fleet``): 30% of them pull
every 10 s and the rest consume AMQP. Every store is in the group
``retail``, whose price type the change touches, so every store must apply
every changed price.

A first connector run and publish bring every store to the same revision.
Then the clock starts with the ERP change. The row runs the prices connector
and publishes in this process, as ``retail-hub connector run prices`` does,
and reports the seconds until 99% of the stores hold the connector run's
committed revision of prices. It is a report-only row, because no raw
baseline does the same. With 30% pull stores, the 99th percentile store is
a pull store, so the figure includes up to one pull interval.
"""

import asyncio
import logging
import math
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.common import BenchResult, Sizes
from bench.fleet import Fleet, FleetOptions, fleet_records, fleet_revision
from bench.soak import percentiles
from bench.soak_erp import PRICE_CHANGE_PATH
from bench.soak_services import HubProcesses, ServiceOptions, erp_post
from hub.repository import Repository
from hub.runtime import open_broker, publish, run_entity

__all__ = ["END_TO_END_STORES", "run_end_to_end"]

logger = logging.getLogger("bench")

END_TO_END_STORES = {"full": 1000, "short": 50, "smoke": 3}
"""Stores of each mode, by ``Sizes.name``."""
PRICE_CHANGES = {"full": 1000, "short": 1000, "smoke": 20}
ITEMS = {"full": 1200, "short": 1200, "smoke": 100}
"""Items of the ERP catalogue; each has a price of every retail price type."""
PULL_SHARE = 0.3
PULL_INTERVAL_SECONDS = 10.0
REACHED_SHARE = 0.99
_WAIT_LIMIT_SECONDS = {"full": 900.0, "short": 300.0, "smoke": 120.0}
_POLL_SECONDS = 0.25
ENTITY = "prices"


async def run_end_to_end(sizes: Sizes) -> BenchResult:
    """Run the row at ``sizes`` and return its result.

    Raises TimeoutError when fewer than 99% of the stores hold the change
    within the mode's wait limit, and the errors of the processes it starts.
    """
    mode = sizes.name
    stores = END_TO_END_STORES[mode]
    prefix = f"e2e{uuid.uuid4().hex[:6]}-"
    services = HubProcesses(
        ServiceOptions(
            stores=stores,
            items=ITEMS[mode],
            stock_items=1,
            store_id_prefix=prefix,
            connectors=False,
            publisher=False,
            monitor=False,
        )
    )
    async with services:
        settings = services.settings
        repository = Repository.from_settings(settings)
        await repository.ensure_indexes()
        folder = services.folder / "stores"
        folder.mkdir()
        fleet = Fleet(
            settings,
            repository,
            services.api_url,
            folder,
            FleetOptions(
                entities=[ENTITY],
                pull_interval_seconds=PULL_INTERVAL_SECONDS,
                heartbeat_interval_seconds=300.0,
            ),
        )
        try:
            await fleet.register(fleet_records(prefix, stores, PULL_SHARE))
            await fleet.start_all()
            return await _measure(services, fleet, repository, mode)
        finally:
            await fleet.remove_all()
            await repository.close()


async def _measure(
    services: HubProcesses, fleet: Fleet, repository: Repository, mode: str
) -> BenchResult:
    settings = services.settings
    limit = _WAIT_LIMIT_SECONDS[mode]
    async with open_broker(settings) as broker:
        await run_entity(settings, repository, ENTITY)
        await publish(settings, repository, broker, ENTITY)
        first = await fleet_revision(repository, ENTITY)
        await _wait_for(fleet, first, 1.0, time.monotonic(), limit)
        logger.info(
            "end_to_end: %d stores applied revision %d of %s",
            len(fleet.stores),
            first,
            ENTITY,
        )

        started = time.monotonic()
        changed = await erp_post(
            services.erp_admin_url, PRICE_CHANGE_PATH, {"count": PRICE_CHANGES[mode]}
        )
        run = await run_entity(settings, repository, ENTITY)
        ran = time.monotonic()
        sent = await publish(settings, repository, broker, ENTITY)
        published = time.monotonic()
        # Every changed price is of the fleet's group, so the run's committed
        # revision is one every store reaches (checked below, off the clock).
        target = run.committed_revision
        if target is None:
            raise RuntimeError(f"the {ENTITY} run committed nothing: {run.status}")
        reached = await _wait_for(fleet, target, REACHED_SHARE, started, limit)
    if await fleet_revision(repository, ENTITY) != target:
        raise RuntimeError(
            f"revision {target} of {ENTITY} is not meant for the fleet's stores;"
            " did the run write prices of another group?"
        )

    seconds = sorted(reached.values())
    needed = math.ceil(REACHED_SHARE * len(fleet.stores))
    by_transport: dict[str, list[float]] = {"amqp": [], "pull": []}
    for store_id, at in reached.items():
        by_transport[fleet.stores[store_id].transport].append(at)
    details: dict[str, Any] = {
        "stores": len(fleet.stores),
        "pull_share": PULL_SHARE,
        "pull_interval_seconds": PULL_INTERVAL_SECONDS,
        "prices_changed": changed.get("changed"),
        "connector_written": run.written,
        "target_revision": target,
        "connector_seconds": round(ran - started, 2),
        "publish_seconds": round(published - ran, 2),
        "published_messages": sent.messages,
        "stores_reached": len(reached),
        "seconds_to_first_store": round(seconds[0], 2),
        "seconds_by_transport": {
            transport: _figures(values) for transport, values in by_transport.items()
        },
    }
    return BenchResult(
        name="end_to_end",
        path="ERP price change -> connector -> publish -> 99% of stores applied",
        unit="seconds",
        ours=round(seconds[needed - 1], 2),
        details=details,
    )


def _figures(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    in_ms = percentiles([round(value * 1000) for value in values])
    return {name: figure / 1000 for name, figure in in_ms.items()}


async def _wait_for(
    fleet: Fleet, revision: int, share: float, started: float, limit: float
) -> dict[str, float]:
    """Wait until ``share`` of the stores applied ``revision`` of prices.

    Returns the seconds from ``started`` at which each store was first seen
    at the revision, checked every 0.25 s. Raises TimeoutError after
    ``limit`` seconds.
    """
    needed = math.ceil(share * len(fleet.stores))
    reached: dict[str, float] = {}
    loop = asyncio.get_running_loop()
    # A thread of its own: the default executor is busy with the agents'
    # SQLite commits, and a check queued behind them would see stores late.
    with ThreadPoolExecutor(1, thread_name_prefix="end-to-end") as reader:
        while len(reached) < needed:
            if time.monotonic() - started > limit:
                raise TimeoutError(
                    f"{len(reached)} of {len(fleet.stores)} stores applied revision"
                    f" {revision} of {ENTITY} within {limit:.0f} s; {needed} needed"
                )
            await asyncio.sleep(_POLL_SECONDS)
            applied = await loop.run_in_executor(reader, fleet.applied_revisions)
            now = time.monotonic() - started
            for store_id, revisions in applied.items():
                if store_id not in reached and revisions.get(ENTITY, 0) >= revision:
                    reached[store_id] = now
    return reached
