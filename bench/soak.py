"""The soak test: the whole hub under a changing ERP and a fleet of stores.

``python -m bench.soak --minutes 30 --stores 1000`` starts a private FerretDB,
the ERP simulator, the pull API, the connectors' schedule, the publisher and
the monitor as child processes, and a fleet of simulated stores in this
process. For ``--minutes`` the ERP changes items and prices every
``--change-interval`` seconds, and a share of stores goes offline for a few
minutes and comes back. Every ``--sample-interval`` seconds it records the
memory of every process, the store queues' depths and each store's lag.

Then it stops the ERP changes, lets the connectors and the publisher finish,
waits for the stores to catch up, pulls once more for every store, verifies
every store's copy against the hub's documents and removes every store.
It exits 1 when a store's copy differs or is behind, or when a hub process's
memory grew after warm-up (see ``memory_verdict``), and 0 otherwise.
``docs/soak.md`` explains the output.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import random
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx
from pymongo.errors import PyMongoError

from bench.fleet import Fleet, FleetOptions, fleet_records, fleet_revision
from bench.fleet_verify import HubSnapshot, summarize, verify_fleet_store
from bench.soak_erp import PRICE_CHANGE_PATH
from bench.soak_services import (
    HubProcesses,
    ServiceOptions,
    erp_post,
    process_rss_bytes,
    rabbitmq_rss_bytes,
)
from hub.credentials import BrokerAdmin
from hub.repository import Repository
from hub.settings import Settings
from hub.verify import VerifyRow

__all__ = ["SoakOptions", "main", "memory_verdict", "percentiles", "run_soak"]

logger = logging.getLogger("bench.soak")

MIB = 1024 * 1024
LAG_ENTITIES = ("items", "prices")
"""Entities whose every change reaches every store, so lag in revisions is exact.

Stock is scoped to one store, so an AMQP store's applied revision of stock
stays at its own last document, and its lag in revisions means nothing.
"""
CHECKED_PROCESSES = ("fleet", "api", "connectors", "publisher", "monitor", "erp")
"""Processes whose memory must stay flat. FerretDB and RabbitMQ are reported
but not checked: FerretDB caches grow with its data, and the broker is shared
with other work on the machine."""
RSS_GROWTH_LIMIT_PERCENT = 10.0
RSS_GROWTH_FLOOR_MIB = 16.0
_MIN_SAMPLES_FOR_MEMORY_CHECK = 6


@dataclass
class SoakOptions:
    """The settings of one soak run; ``main`` fills them from the command line."""

    minutes: float = 30.0
    stores: int = 1000
    pull_share: float = 0.3
    offline_share: float = 0.05
    offline_minutes: tuple[float, float] = (1.0, 4.0)
    items: int = 2000
    stock_items: int = 2
    change_interval_seconds: float = 20.0
    item_edits: int = 20
    price_changes: int = 50
    sample_interval_seconds: float = 30.0
    catch_up_minutes: float = 10.0
    pull_interval_seconds: float = 30.0
    heartbeat_interval_seconds: float = 120.0
    connector_interval_seconds: float = 30.0
    monitor: bool = True
    private_broker: bool = False
    json_path: Path | None = None
    keep_logs: bool = False
    seed: int = 1
    concurrency: int = 16


@dataclass
class SoakState:
    """Counters and samples of the run so far."""

    started: float = field(default_factory=time.monotonic)
    load_started: float | None = None
    samples: list[dict[str, Any]] = field(default_factory=list)
    erp_changes: int = 0
    erp_change_errors: int = 0
    offline_events: int = 0
    move_errors: int = 0
    last_change_at: datetime | None = None
    phase: str = "setup"


def percentiles(values: Sequence[int]) -> dict[str, int]:
    """Return the nearest-rank p50, p95, p99 and max of ``values`` (zeros if empty)."""
    if not values:
        return {"p50": 0, "p95": 0, "p99": 0, "max": 0}
    ordered = sorted(values)

    def rank(share: float) -> int:
        position = max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999) - 1))
        return ordered[position]

    return {
        "p50": rank(0.50),
        "p95": rank(0.95),
        "p99": rank(0.99),
        "max": ordered[-1],
    }


def memory_verdict(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Decide whether each process's memory stayed flat during the load phase.

    The load-phase samples are cut into thirds by count; the first third is
    the warm-up. A process is flat when the mean RSS of the last third is at
    most RSS_GROWTH_LIMIT_PERCENT above that of the second third, or at most
    RSS_GROWTH_FLOOR_MIB above it (small processes move by a few MiB with
    every request). With fewer than six load samples nothing is checked.
    """
    load = [sample for sample in samples if sample["phase"] == "load"]
    result: dict[str, Any] = {
        "rule": (
            f"mean RSS of the last third of the load phase at most"
            f" {RSS_GROWTH_LIMIT_PERCENT:g}% or {RSS_GROWTH_FLOOR_MIB:g} MiB above"
            " the second third's"
        ),
        "checked": list(CHECKED_PROCESSES),
        "processes": {},
        "flat": True,
    }
    if len(load) < _MIN_SAMPLES_FOR_MEMORY_CHECK:
        result["skipped"] = f"only {len(load)} load samples"
        return result
    third = len(load) // 3
    middle, last = load[third : 2 * third], load[len(load) - third :]
    names = sorted({name for sample in load for name in sample["rss_mib"]})
    for name in names:
        second = [s["rss_mib"][name] for s in middle if name in s["rss_mib"]]
        final = [s["rss_mib"][name] for s in last if name in s["rss_mib"]]
        if not second or not final:
            continue
        second_mean = sum(second) / len(second)
        last_mean = sum(final) / len(final)
        growth = last_mean - second_mean
        percent = 100.0 * growth / second_mean if second_mean else 0.0
        flat = percent <= RSS_GROWTH_LIMIT_PERCENT or growth <= RSS_GROWTH_FLOOR_MIB
        result["processes"][name] = {
            "second_third_mib": round(second_mean, 1),
            "last_third_mib": round(last_mean, 1),
            "growth_percent": round(percent, 1),
            "flat": flat,
        }
        if name in CHECKED_PROCESSES and not flat:
            result["flat"] = False
    return result


class Soak:
    """One run of the soak test."""

    def __init__(self, options: SoakOptions) -> None:
        self.options = options
        self.state = SoakState()
        self.prefix = f"soak{uuid.uuid4().hex[:6]}-"
        self.rng = random.Random(options.seed)
        interval = options.connector_interval_seconds
        self.services = HubProcesses(
            ServiceOptions(
                stores=options.stores,
                items=options.items,
                stock_items=options.stock_items,
                store_id_prefix=self.prefix,
                connectors=False,
                monitor=options.monitor,
                private_broker=options.private_broker,
                intervals={
                    "items": interval,
                    "prices": interval,
                    "stock": 2 * interval,
                },
                keep_folder=options.keep_logs,
            )
        )
        self.settings = self.services.settings
        self.repository: Repository | None = None
        self.fleet: Fleet | None = None
        self.report: dict[str, Any] = {}
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="soak-sample")

    # Setup and teardown -----------------------------------------------------

    async def run(self) -> int:
        """Run every phase; return the exit code. Cleans up on any error."""
        options = self.options
        self.report = {
            "command": " ".join(sys.argv),
            "options": _jsonable(asdict(options)),
            "machine": describe_machine(),
            "commit": describe_commit(),
            "started_at": datetime.now(UTC).isoformat(),
            "store_id_prefix": self.prefix,
        }
        code = 1
        try:
            async with self.services:
                folder = self.services.folder / "stores"
                folder.mkdir()
                self.repository = Repository.from_settings(self.settings)
                await self.repository.ensure_indexes()
                self.fleet = Fleet(
                    self.settings,
                    self.repository,
                    self.services.api_url,
                    folder,
                    FleetOptions(
                        pull_interval_seconds=options.pull_interval_seconds,
                        heartbeat_interval_seconds=options.heartbeat_interval_seconds,
                        concurrency=options.concurrency,
                    ),
                )
                try:
                    code = await self._phases(self.fleet)
                finally:
                    self.state.phase = "cleanup"
                    await self.fleet.remove_all()
                    await self.repository.close()
        finally:
            self._reader.shutdown(wait=False)
            self.report["finished_at"] = datetime.now(UTC).isoformat()
            self.report["samples"] = self.state.samples
            self.report["log_folder"] = str(self.services.folder)
            if options.json_path is not None:
                write_json(options.json_path, self.report)
                logger.info("report and samples written to %s", options.json_path)
        return code

    async def _phases(self, fleet: Fleet) -> int:
        options = self.options
        records = fleet_records(
            self.prefix, options.stores, options.pull_share, options.seed
        )
        self.state.phase = "setup"
        progress(
            f"registering {len(records)} stores"
            f" ({sum(r.transport == 'pull' for r in records)} pull)"
        )
        await fleet.register(records)
        progress("starting the store agents")
        await fleet.start_all()
        self.services.start_connectors()
        self.state.started = time.monotonic()
        self.state.phase = "initial-sync"
        progress("initial sync: waiting for every store to hold the first runs")
        self.report["initial_sync_seconds"] = await self._initial_sync(fleet)
        self.report["load_started_at"] = datetime.now(UTC).isoformat()

        self.state.phase = "load"
        self.state.load_started = time.monotonic()
        progress(f"load phase: {options.minutes:g} minutes")
        await self._load_phase(fleet)
        self.state.phase = "catch-up"
        final = await self._catch_up_phase(fleet)
        self.report["final"] = final
        self.report["memory"] = memory_verdict(self.state.samples)
        converged = bool(final["converged"])
        flat = bool(self.report["memory"]["flat"])
        self.report["converged"] = converged
        self.report["memory_flat"] = flat
        print_summary(self.report)
        return 0 if converged and flat else 1

    async def _initial_sync(self, fleet: Fleet) -> float | None:
        """Wait until the first runs are committed and every store applied them.

        Returns the seconds it took, or None when ``catch_up_minutes`` ran
        out first; the load phase starts either way.
        """
        started = time.monotonic()
        deadline = started + self.options.catch_up_minutes * 60
        next_sample = started
        while time.monotonic() < deadline:
            if time.monotonic() >= next_sample:
                await self._sample(fleet)
                next_sample += self.options.sample_interval_seconds
            if await self._first_runs_done():
                targets = await self._targets()
                seconds = await self._wait_stores(fleet, targets, deadline)
                if seconds is not None:
                    return round(time.monotonic() - started, 1)
                break
            self.services.check_running()
            await asyncio.sleep(2.0)
        logger.warning("initial sync did not finish in time; the load phase starts")
        return None

    async def _first_runs_done(self) -> bool:
        assert self.repository is not None
        for entity in LAG_ENTITIES:
            runs = await self.repository.recent_runs(entity, limit=1)
            if not runs or runs[0]["status"] == "running":
                return False
        return True

    # Load phase ---------------------------------------------------------------

    async def _load_phase(self, fleet: Fleet) -> None:
        options = self.options
        ends = time.monotonic() + options.minutes * 60
        tasks = [
            asyncio.create_task(self._change_erp(ends)),
            asyncio.create_task(self._move_stores(fleet, ends)),
        ]
        try:
            next_sample = time.monotonic()
            while time.monotonic() < ends:
                self.services.check_running()
                for task in tasks:
                    if task.done() and task.exception() is not None:
                        raise RuntimeError("a load task failed") from task.exception()
                if time.monotonic() >= next_sample:
                    await self._sample(fleet)
                    next_sample += options.sample_interval_seconds
                await asyncio.sleep(min(1.0, max(0.0, ends - time.monotonic())))
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await self._sample(fleet)

    async def _change_erp(self, ends: float) -> None:
        options = self.options
        url = self.services.erp_admin_url
        while time.monotonic() < ends:
            try:
                await erp_post(
                    url,
                    "/_simulator/mutate",
                    {
                        "edit": options.item_edits,
                        "add": 2,
                        "mark_deleted": 1,
                        "remove": 1,
                    },
                )
                await erp_post(url, PRICE_CHANGE_PATH, {"count": options.price_changes})
                self.state.erp_changes += 1
                self.state.last_change_at = datetime.now(UTC)
            except httpx.HTTPError as error:
                self.state.erp_change_errors += 1
                logger.warning(
                    "ERP change failed (%s: %s)", type(error).__name__, error
                )
            await asyncio.sleep(options.change_interval_seconds)

    async def _move_stores(self, fleet: Fleet, ends: float) -> None:
        """Keep about ``offline_share`` of the stores offline, each for a while.

        Each start and stop runs as a task of its own, so an agent that takes
        long to start (its catch-up pull waits for a busy hub) holds up no
        other store.
        """
        options = self.options
        low, high = options.offline_minutes
        back_at: dict[str, float] = {}
        moving: set[asyncio.Task[None]] = set()
        target = round(options.stores * options.offline_share)

        def move(store_id: str, action: Coroutine[Any, Any, None]) -> None:
            task = asyncio.create_task(action, name=f"move {store_id}")
            moving.add(task)
            task.add_done_callback(moving.discard)
            task.add_done_callback(self._log_failed_move)

        try:
            while time.monotonic() < ends and target:
                now = time.monotonic()
                for store_id, at in list(back_at.items()):
                    if at <= now:
                        del back_at[store_id]
                        move(store_id, fleet.bring_online(store_id))
                online = [store.store_id for store in fleet.online()]
                missing = target - len(back_at)
                for store_id in self.rng.sample(
                    online, max(0, min(missing, len(online)))
                ):
                    back_at[store_id] = now + 60 * self.rng.uniform(low, high)
                    move(store_id, fleet.take_offline(store_id))
                    self.state.offline_events += 1
                await asyncio.sleep(10.0)
        finally:
            # Starts and stops under way finish, so no agent is left half
            # started; the catch-up phase starts every store still offline.
            await asyncio.gather(*moving, return_exceptions=True)

    def _log_failed_move(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        self.state.move_errors += 1
        error = task.exception()
        logger.error("%s failed (%s: %s)", task.get_name(), type(error).__name__, error)

    # Sampling ---------------------------------------------------------------

    async def _sample(self, fleet: Fleet) -> dict[str, Any]:
        assert self.repository is not None
        started = time.monotonic()
        rss: dict[str, float] = {}
        own = process_rss_bytes(os.getpid())
        if own is not None:
            rss["fleet"] = round(own / MIB, 1)
        for name, pid in self.services.pids().items():
            value = process_rss_bytes(pid)
            if value is not None:
                rss[name] = round(value / MIB, 1)
        broker = await asyncio.get_running_loop().run_in_executor(
            self._reader,
            rabbitmq_rss_bytes,
            urlsplit(self.settings.amqp_url).port or 5672,
        )
        if broker is not None:
            rss["rabbitmq"] = round(broker / MIB, 1)

        committed = await self._committed()
        targets = await self._targets()
        applied = await self._read_revisions(fleet)
        online = {store.store_id for store in fleet.online()}
        lag: dict[str, Any] = {}
        for entity in LAG_ENTITIES:
            values = [
                max(0, targets.get(entity, 0) - revisions.get(entity, 0))
                for store_id, revisions in applied.items()
                if store_id in online
            ]
            lag[entity] = percentiles(values)
        offline_lag = [
            max(0, targets.get(entity, 0) - revisions.get(entity, 0))
            for store_id, revisions in applied.items()
            if store_id not in online
            for entity in LAG_ENTITIES
        ]
        sample = {
            "t": round(time.monotonic() - self.state.started, 1),
            "t_load": (
                None
                if self.state.load_started is None
                else round(time.monotonic() - self.state.load_started, 1)
            ),
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "phase": self.state.phase,
            "rss_mib": rss,
            "queues": await self._sample_queues(fleet),
            "hub_revision": committed,
            "lag_online": lag,
            "lag_offline_max": max(offline_lag, default=0),
            "online": len(online),
            "offline": len(fleet.stores) - len(online),
            "erp_changes": self.state.erp_changes,
            "monitor": await self._monitor_counts(),
        }
        sample["sample_seconds"] = round(time.monotonic() - started, 2)
        self.state.samples.append(sample)
        if self.options.json_path is not None:
            # Rewritten at every sample, so a run cut short keeps its samples.
            self.report["samples"] = self.state.samples
            write_json(self.options.json_path, self.report)
        progress(describe_sample(sample, self.options.minutes))
        return sample

    async def _read_revisions(self, fleet: Fleet) -> dict[str, dict[str, int]]:
        # A thread of its own: the default executor is busy with every
        # agent's SQLite commits, and a sample would wait behind them.
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._reader, fleet.applied_revisions)

    async def _committed(self) -> dict[str, int]:
        assert self.repository is not None
        rows = await self.repository.db.revisions.find({}).to_list(None)
        return {str(row["_id"]): int(row.get("committed", 0)) for row in rows}

    async def _targets(self) -> dict[str, int]:
        """Return, per lag entity, the newest revision every store should apply."""
        assert self.repository is not None
        return {
            entity: await fleet_revision(self.repository, entity)
            for entity in LAG_ENTITIES
        }

    async def _published(self) -> dict[str, int]:
        assert self.repository is not None
        rows = await self.repository.db.revisions.find({}).to_list(None)
        return {str(row["_id"]): int(row.get("published", 0)) for row in rows}

    async def _sample_queues(self, fleet: Fleet) -> dict[str, dict[str, int]]:
        """Return the queue depths, or empty figures when the API fails."""
        try:
            return await self._queue_depths(fleet)
        except (httpx.HTTPError, ValueError, KeyError) as error:
            # A busy broker's management API may drop a request. The next
            # sample sends it again.
            logger.warning(
                "queue depths not sampled (%s: %s)", type(error).__name__, error
            )
            return {}

    async def _queue_depths(self, fleet: Fleet) -> dict[str, dict[str, int]]:
        """Return the depths of the fleet's queues, by kind of queue.

        The kinds are ``amqp`` (queues an AMQP store consumes), ``pull``
        (queues of pull stores, which nothing consumes) and ``other``
        (dead-letter queues and queues of entities the fleet does not consume).
        """
        depths: dict[str, list[int]] = {"amqp": [], "pull": [], "other": []}
        vhost = quote(BrokerAdmin.from_settings(self.settings).vhost, safe="")
        async with httpx.AsyncClient(
            base_url=self.settings.amqp_management_url.rstrip("/") + "/api",
            auth=_management_auth(self.settings),
            timeout=20,
        ) as client:
            for page in range(1, 100):
                response = await client.get(
                    f"/queues/{vhost}",
                    params={
                        "page": str(page),
                        "page_size": "500",
                        "name": f"^store\\.{self.prefix}",
                        "use_regex": "true",
                        "columns": "name,messages",
                    },
                )
                if response.status_code != httpx.codes.OK:
                    logger.warning(
                        "queue depths: management API returned %d",
                        response.status_code,
                    )
                    break
                body = response.json()
                for item in body["items"]:
                    _, store_id, entity = item["name"].split(".", 2)
                    store = fleet.stores.get(store_id)
                    kind = "other"
                    if store is not None and entity in fleet.options.entities:
                        kind = store.transport
                    depths[kind].append(int(item.get("messages") or 0))
                if page >= int(body.get("page_count", 0)):
                    break
        return {
            kind: {
                "queues": len(values),
                "messages": sum(values),
                "max": max(values, default=0),
            }
            for kind, values in depths.items()
        }

    async def _monitor_counts(self) -> dict[str, int]:
        """Return how many stores the monitor last saw in each status."""
        assert self.repository is not None
        counts: dict[str, int] = {}
        try:
            rows = self.repository.db.monitor_status.find({}, {"status": 1})
            async for row in rows:
                status = str(row.get("status"))
                counts[status] = counts.get(status, 0) + 1
        except PyMongoError as error:
            logger.warning(
                "monitor statuses not sampled (%s: %s)", type(error).__name__, error
            )
        return counts

    # Catch-up and verify ----------------------------------------------------

    async def _catch_up_phase(self, fleet: Fleet) -> dict[str, Any]:
        assert self.repository is not None
        options = self.options
        deadline = time.monotonic() + options.catch_up_minutes * 60
        final: dict[str, Any] = {"erp_changes": self.state.erp_changes}
        final["erp_change_errors"] = self.state.erp_change_errors
        final["offline_events"] = self.state.offline_events
        final["move_errors"] = self.state.move_errors

        progress("ERP changes stopped; bringing every store back online")
        await fleet.start_all()
        await self._wait_for_last_runs(deadline)
        await self.services.stop_child("connectors")
        await self._wait_published(deadline)
        await self.services.stop_child("publisher")
        await self.services.stop_child("monitor")
        committed = await self._committed()
        final["hub_revision"] = committed
        progress(f"hub frozen at {committed}; waiting for the stores")

        caught_up_after = await self._wait_stores(
            fleet, await self._targets(), deadline
        )
        final["caught_up_seconds"] = caught_up_after
        await self._sample(fleet)

        progress("pulling once more for every store")
        results = await fleet.pull_all()
        missed: dict[str, int] = {"amqp": 0, "pull": 0}
        for store_id, pulls in results.items():
            transport = fleet.stores[store_id].transport
            missed[transport] += sum(result.applied for result in pulls)
        final["documents_applied_by_final_pull"] = missed

        progress("verifying every store against the hub")
        rows = await self._verify(fleet)
        final["verify"] = summarize(rows)
        final["converged"] = final["verify"]["match"] == len(rows) and bool(rows)
        return final

    async def _wait_for_last_runs(self, deadline: float) -> None:
        """Wait until a run of each changing entity started after the last change."""
        assert self.repository is not None
        last = self.state.last_change_at
        if last is None:
            return
        for entity in LAG_ENTITIES:
            while time.monotonic() < deadline:
                runs = await self.repository.recent_runs(entity, limit=1)
                if runs and runs[0]["status"] != "running":
                    started_at = runs[0]["started_at"]
                    if started_at.tzinfo is None:
                        started_at = started_at.replace(tzinfo=UTC)
                    if started_at > last:
                        break
                await asyncio.sleep(2.0)
            else:
                logger.warning("no finished %s run after the last ERP change", entity)

    async def _wait_published(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            committed, published = await self._committed(), await self._published()
            if all(published.get(e, 0) >= rev for e, rev in committed.items()):
                return
            await asyncio.sleep(2.0)
        logger.warning("the publisher did not reach the committed revisions in time")

    async def _wait_stores(
        self, fleet: Fleet, targets: dict[str, int], deadline: float
    ) -> float | None:
        """Wait until every store applied ``targets``; return the seconds taken.

        Returns None when ``deadline`` passes first.
        """
        started = time.monotonic()
        next_sample = started + self.options.sample_interval_seconds
        while time.monotonic() < deadline:
            applied = await self._read_revisions(fleet)
            behind = [
                store_id
                for store_id, revisions in applied.items()
                if any(revisions.get(e, 0) < targets.get(e, 0) for e in LAG_ENTITIES)
            ]
            if not behind and len(applied) == len(fleet.stores):
                return round(time.monotonic() - started, 1)
            if time.monotonic() >= next_sample:
                await self._sample(fleet)
                next_sample += self.options.sample_interval_seconds
            await asyncio.sleep(1.0)
        logger.warning("stores still behind when the catch-up time ran out")
        return None

    async def _verify(self, fleet: Fleet) -> list[VerifyRow]:
        assert self.repository is not None
        rows: list[VerifyRow] = []
        for entity in fleet.options.entities:
            snapshot = await HubSnapshot.read(self.repository, entity)
            for store in fleet.stores.values():
                agent = store.agent
                if agent is None:
                    continue
                rows.append(
                    await verify_fleet_store(
                        self.repository, snapshot, store.record, agent.local_store
                    )
                )
        return rows


def _management_auth(settings: Settings) -> tuple[str, str]:
    """Return the management API user and password, as BrokerAdmin chooses them."""
    amqp = urlsplit(settings.amqp_url)
    user = settings.amqp_management_user or unquote(amqp.username or "guest")
    if settings.amqp_management_password is not None:
        return user, settings.amqp_management_password.get_secret_value()
    return user, unquote(amqp.password or "guest")


def describe_sample(sample: dict[str, Any], minutes: float) -> str:
    """Return one progress line for ``sample``."""
    lag = sample["lag_online"]
    rss = " ".join(f"{name} {value:.0f}" for name, value in sample["rss_mib"].items())
    queues = sample["queues"].get("amqp", {"messages": "?", "max": "?"})
    idle = sum(
        sample["queues"].get(kind, {}).get("messages", 0) for kind in ("pull", "other")
    )
    return (
        f"{sample['phase']} {_minutes_text(sample, minutes)}:"
        f" hub items {sample['hub_revision'].get('items', 0)}"
        f" prices {sample['hub_revision'].get('prices', 0)};"
        f" lag items p50/p99/max {lag['items']['p50']}/{lag['items']['p99']}"
        f"/{lag['items']['max']}, prices {lag['prices']['p50']}/{lag['prices']['p99']}"
        f"/{lag['prices']['max']}; offline {sample['offline']};"
        f" AMQP store queues {queues['messages']} msgs (max {queues['max']}),"
        f" unconsumed queues {idle} msgs;"
        f" RSS MiB {rss}"
    )


def _minutes_text(sample: dict[str, Any], minutes: float) -> str:
    if sample["phase"] == "load" and sample["t_load"] is not None:
        return f"{sample['t_load'] / 60:.1f}/{minutes:g} min"
    return f"at {sample['t'] / 60:.1f} min"


def print_summary(report: dict[str, Any]) -> None:
    """Print the verdict and the main figures on stdout."""
    final = report["final"]
    verify = final["verify"]
    memory = report["memory"]
    print(f"stores: {report['options']['stores']}, converged: {report['converged']}")
    print(
        f"verify: {verify['match']} of {verify['checked']} store entities match;"
        f" by entity {verify['by_entity']}"
    )
    print(f"caught up {final['caught_up_seconds']} s after the hub froze")
    applied = final["documents_applied_by_final_pull"]
    print(f"documents applied by the final pull: {applied}")
    print(f"memory flat: {report['memory_flat']} ({memory['rule']})")
    for name, figures in memory["processes"].items():
        print(
            f"  {name}: {figures['second_third_mib']} -> {figures['last_third_mib']}"
            f" MiB ({figures['growth_percent']:+.1f}%)"
        )
    if "skipped" in memory:
        print(f"  memory check skipped: {memory['skipped']}")


def describe_machine() -> dict[str, Any]:
    """Return the CPU count, memory and Python version of this machine."""
    memory = None
    with contextlib.suppress(OSError), open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpus": os.cpu_count(),
        "memory_gib": memory,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }


def describe_commit() -> str | None:
    """Return the git commit of the working tree, with ``+dirty`` if changed."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("+dirty" if dirty else "")


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Write the report as indented JSON, creating the folder if needed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(_jsonable(report), indent=2, ensure_ascii=False) + "\n")
    logger.debug("samples written to %s", path)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


def progress(text: str) -> None:
    """Print a progress line with the time on stderr."""
    print(f"{datetime.now(UTC):%H:%M:%S} {text}", file=sys.stderr, flush=True)


def _share(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"invalid share {text}: use 0 to 1")
    return value


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"invalid value {text}: must be above 0")
    return value


def parse_args(argv: Sequence[str] | None) -> SoakOptions:
    """Parse the command line into SoakOptions; exit 2 on invalid values."""
    defaults = SoakOptions()
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description="Run the hub for a while under a changing ERP and a fleet of"
        " simulated stores, sample memory, queues and lag, then verify every"
        " store. Uses a private FerretDB and the RabbitMQ of RETAIL_HUB_AMQP_URL"
        " (names unique to the run, removed at the end). Exits 1 when a store"
        " is not converged or memory grew; see docs/soak.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--minutes",
        type=_positive,
        default=defaults.minutes,
        help="length of the load phase, in minutes; catch-up and verify follow",
    )
    parser.add_argument(
        "--stores", type=int, default=defaults.stores, help="simulated stores"
    )
    parser.add_argument(
        "--pull-share",
        type=_share,
        default=defaults.pull_share,
        help="share of stores that pull over HTTP; the rest consume AMQP",
    )
    parser.add_argument(
        "--offline-share",
        type=_share,
        default=defaults.offline_share,
        help="share of stores kept offline at any time, each for 1 to 4 minutes",
    )
    parser.add_argument(
        "--items", type=int, default=defaults.items, help="items in the ERP"
    )
    parser.add_argument(
        "--change-interval",
        type=_positive,
        default=defaults.change_interval_seconds,
        help=f"seconds between ERP changes; each edits {defaults.item_edits} items,"
        f" adds 2, marks 1 for deletion, removes 1 and changes"
        f" {defaults.price_changes} retail prices",
    )
    parser.add_argument(
        "--connector-interval",
        type=_positive,
        default=defaults.connector_interval_seconds,
        help="seconds between connector runs of items and prices (stock: twice this)",
    )
    parser.add_argument(
        "--pull-interval",
        type=_positive,
        default=defaults.pull_interval_seconds,
        help="seconds between two pulls of a pull store",
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive,
        default=defaults.heartbeat_interval_seconds,
        help="seconds between two heartbeats of each store",
    )
    parser.add_argument(
        "--sample-interval",
        type=_positive,
        default=defaults.sample_interval_seconds,
        help="seconds between two samples and progress lines",
    )
    parser.add_argument(
        "--catch-up-minutes",
        type=_positive,
        default=defaults.catch_up_minutes,
        help="minutes the stores get to catch up after the load phase",
    )
    parser.add_argument(
        "--no-monitor", action="store_true", help="do not run `retail-hub monitor run`"
    )
    parser.add_argument(
        "--private-broker",
        action="store_true",
        help="start a RabbitMQ node of this run (with the management plugin)"
        " instead of using RETAIL_HUB_AMQP_URL",
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="write the report and samples here"
    )
    parser.add_argument(
        "--keep-logs",
        action="store_true",
        help="keep the children's logs and data in the temporary folder",
    )
    args = parser.parse_args(argv)
    if args.stores < 1:
        parser.error(f"invalid --stores {args.stores}: use 1 or more")
    if args.items < 100:
        parser.error(f"invalid --items {args.items}: use 100 or more")
    return SoakOptions(
        minutes=args.minutes,
        stores=args.stores,
        pull_share=args.pull_share,
        offline_share=args.offline_share,
        items=args.items,
        change_interval_seconds=args.change_interval,
        connector_interval_seconds=args.connector_interval,
        pull_interval_seconds=args.pull_interval,
        heartbeat_interval_seconds=args.heartbeat_interval,
        sample_interval_seconds=args.sample_interval,
        catch_up_minutes=args.catch_up_minutes,
        monitor=not args.no_monitor,
        private_broker=args.private_broker,
        json_path=args.json,
        keep_logs=args.keep_logs,
    )


async def run_soak(options: SoakOptions) -> int:
    """Run the soak test; return the exit code. SIGTERM cleans up like Ctrl-C."""
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    if task is not None:
        loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await Soak(options).run()
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak test from the command line."""
    options = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("bench").setLevel(logging.INFO)
    try:
        return asyncio.run(run_soak(options))
    except (KeyboardInterrupt, asyncio.CancelledError):
        progress(
            "interrupted; the stores, queues and users of the run were removed"
            " unless an error is logged above"
        )
        return 130


if __name__ == "__main__":
    sys.exit(main())
