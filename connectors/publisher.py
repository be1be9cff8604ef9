"""The outbox publisher: everything above an entity's watermark, to the broker.

Publishing follows the repository, not the connector run. The publisher reads
committed documents above the entity's watermark in revision order (from
memory when the same process just wrote them), sends them to the topic
exchange in batches bounded by count and bytes, waits for the broker's
publisher confirms, and only then moves the watermark. A crash
between writing and publishing is repaired by the next call, which resends
from the watermark; stores drop what they already hold by revision.
"""

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

import aio_pika
from aio_pika.abc import AbstractExchange

from contracts import (
    HEADER_ENTITY,
    HEADER_REV_FROM,
    HEADER_REV_TO,
    HEADER_SCHEMA_VERSION,
    HEADER_SCOPE,
    batch_message_id,
    get_entity,
    routing_key,
)
from hub.backlog import BacklogGuard
from hub.repository import ChangeRow, Repository

__all__ = ["PublishReport", "Publisher"]

logger = logging.getLogger(__name__)

_READ_CHUNK = 5000


@dataclass
class PublishReport:
    """What one call of ``publish_pending`` sent."""

    entity: str
    messages: int = 0
    documents: int = 0
    watermark: int = 0


@dataclass
class _Batch:
    scope: str
    parts: list[bytes]
    first: int
    last: int
    size: int


class Publisher:
    """Publishes the committed changes of entities to the changes exchange.

    With a ``backlog_guard``, each ``publish_pending`` first stops feeding
    store queues that hold too many messages (see hub.backlog).
    """

    def __init__(
        self,
        repository: Repository,
        exchange: AbstractExchange,
        *,
        batch_size: int = 500,
        batch_bytes: int = 1_000_000,
        backlog_guard: BacklogGuard | None = None,
    ) -> None:
        self.repository = repository
        self.backlog_guard = backlog_guard
        self.exchange = exchange
        self.batch_size = batch_size
        self.batch_bytes = batch_bytes

    async def publish_pending(self, entity: str) -> PublishReport:
        """Publish every committed change of ``entity`` above its watermark.

        Returns once the watermark reached the committed revision read at the
        start. Raises the broker's error if a publish is not confirmed; the
        watermark then stays at the last fully confirmed chunk.
        """
        report = PublishReport(entity)
        committed, watermark = await self.repository.committed_and_published(entity)
        report.watermark = watermark
        if self.backlog_guard is not None:
            # Queue depths matter only before a publish; with nothing to
            # publish the check only binds caught-up queues again.
            await self.backlog_guard.check(entity, depths=watermark < committed)

        if watermark < committed:
            chunks = self.repository.iter_changes_with_scope(
                entity, watermark, _READ_CHUNK, up_to=committed
            )
            async with contextlib.aclosing(chunks):
                async for rows in chunks:
                    batches = self._batches(rows)
                    await asyncio.gather(*(self._send(entity, b) for b in batches))
                    watermark = rows[-1].document.rev
                    await self.repository.advance_watermark(entity, watermark)
                    report.messages += len(batches)
                    report.documents += len(rows)
                    report.watermark = watermark
            # Everything up to `committed` is sent; revisions reserved by a
            # writer that crashed are simply skipped.
            if watermark < committed:
                await self.repository.advance_watermark(entity, committed)
                report.watermark = committed

        if report.documents:
            logger.info(
                "published %d documents of %s in %d messages; watermark %d",
                report.documents,
                entity,
                report.messages,
                report.watermark,
            )
        return report

    def _batches(self, rows: list[ChangeRow]) -> list[_Batch]:
        open_batches: dict[str, _Batch] = {}
        done: list[_Batch] = []
        for row in rows:
            scope, document = row.scope, row.document
            part = row.encode()
            batch = open_batches.get(scope)
            if batch is not None and (
                len(batch.parts) >= self.batch_size
                or batch.size + len(part) > self.batch_bytes
            ):
                done.append(batch)
                batch = None
            if batch is None:
                batch = _Batch(scope, [], document.rev, document.rev, 0)
                open_batches[scope] = batch
            batch.parts.append(part)
            batch.last = document.rev
            batch.size += len(part) + 1
        done.extend(open_batches.values())
        return done

    async def _send(self, entity: str, batch: _Batch) -> None:
        spec = get_entity(entity)
        head = (
            f'{{"entity":"{entity}","schema_version":{spec.schema_version},'
            f'"scope":"{batch.scope}","rev_from":{batch.first},'
            f'"rev_to":{batch.last},"documents":['
        ).encode()
        body = head + b",".join(batch.parts) + b"]}"
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            message_id=batch_message_id(entity, batch.scope, batch.first, batch.last),
            timestamp=datetime.now(UTC),
            app_id="retail-hub",
            headers={
                HEADER_ENTITY: entity,
                HEADER_SCHEMA_VERSION: spec.schema_version,
                HEADER_SCOPE: batch.scope,
                HEADER_REV_FROM: batch.first,
                HEADER_REV_TO: batch.last,
            },
        )
        await self.exchange.publish(
            message, routing_key=routing_key(entity, batch.scope)
        )
