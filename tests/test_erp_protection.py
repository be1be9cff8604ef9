"""Connectors against a misbehaving ERP: they finish correctly or fail cleanly."""

from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from connectors.config import ErpLimits
from connectors.errors import ErpResponseError, ErpUnavailableError, MassDeletionError
from connectors.odata import ODataClient, ReadStats
from erp_simulator import ITEMS, Catalogue
from erp_simulator import create_app as create_erp_app
from erp_simulator.faults import FaultSettings
from hub.repository import Repository
from hub.runtime import run_entity
from hub.serving import BackgroundServer
from hub.settings import Settings

pytestmark = pytest.mark.integration

FAST_RETRIES = ErpLimits(
    retries=2, retry_backoff_seconds=0.01, max_requests_per_second=0
)


@dataclass
class Erp:
    """A served simulator and the settings that point the hub at it."""

    catalogue: Catalogue
    url: str
    settings: Settings

    def client(self, **options: object) -> ODataClient:
        limits = options.pop("limits", FAST_RETRIES)
        assert isinstance(limits, ErpLimits)
        timeout = options.pop("timeout_seconds", 10.0)
        assert isinstance(timeout, float)
        return ODataClient(
            self.url,
            "erp",
            "hub",
            "hub",
            page_size=50,
            timeout_seconds=timeout,
            limits=limits,
        )

    async def set_faults(self, **faults: object) -> None:
        async with httpx.AsyncClient(base_url=self.url) as admin:
            response = await admin.post(
                "/_simulator/faults",
                json=FaultSettings.model_validate(faults).model_dump(),
            )
            response.raise_for_status()


@pytest.fixture
async def erp(settings: Settings) -> AsyncIterator[Erp]:
    catalogue = Catalogue.generate(seed=5, items=300, stores=3, stock_items=5)
    async with BackgroundServer(create_erp_app(catalogue)) as server:
        yield Erp(
            catalogue, server.url, settings.model_copy(update={"erp_url": server.url})
        )


def _item_keys(catalogue: Catalogue) -> list[str]:
    return sorted(row["Ref_Key"] for row in catalogue.rows(ITEMS))


async def _read_items(client: ODataClient, stats: ReadStats | None = None) -> list[str]:
    try:
        rows = await client.read_all(
            ITEMS, order_by="Ref_Key", select=["Ref_Key"], key=["Ref_Key"], stats=stats
        )
    finally:
        await client.close()
    return sorted(row["Ref_Key"] for row in rows)


@pytest.mark.parametrize("form", ["json", "xml", "html", "text"])
async def test_transient_500_is_retried(erp: Erp, form: str) -> None:
    await erp.set_faults(fail_requests=2, fail_form=form)
    stats = ReadStats()

    keys = await _read_items(erp.client(), stats)

    assert keys == _item_keys(erp.catalogue)
    assert stats.retries == 2


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ("json", "Ошибка при выполнении операции"),
        ("xml", "Ошибка при выполнении операции"),
        ("html", "1C:Enterprise 8 application error"),
        ("text", "Ошибка при выполнении операции"),
    ],
)
async def test_lasting_500_fails_clearly(erp: Erp, form: str, message: str) -> None:
    await erp.set_faults(fail_requests=10, fail_form=form, fail_status=503)

    with pytest.raises(ErpResponseError) as caught:
        await _read_items(erp.client())

    error = caught.value
    assert error.status == 503
    assert message in error.message
    assert "Catalog_" in error.url
    assert "hub:hub" not in str(error)


async def test_truncated_body_is_retried(erp: Erp) -> None:
    await erp.set_faults(truncate_requests=1)

    keys = await _read_items(erp.client())

    assert keys == _item_keys(erp.catalogue)


async def test_cold_start_within_timeout(erp: Erp) -> None:
    await erp.set_faults(cold_start_seconds=0.5)

    keys = await _read_items(erp.client(timeout_seconds=5.0))

    assert keys == _item_keys(erp.catalogue)


async def test_slow_erp_times_out(erp: Erp) -> None:
    await erp.set_faults(delay_seconds=1.0)

    with pytest.raises(ErpUnavailableError, match="did not answer in time"):
        await _read_items(erp.client(timeout_seconds=0.2))


async def test_rows_added_between_pages(erp: Erp) -> None:
    await erp.set_faults(add_items_between_pages=40)
    stats = ReadStats()

    keys = await _read_items(erp.client(), stats)

    assert len(keys) == len(set(keys))
    assert keys == _item_keys(erp.catalogue)
    assert stats.rereads == 1


async def test_failed_run_writes_nothing(erp: Erp, repository: Repository) -> None:
    await run_entity(erp.settings, repository, "items")
    revision = await repository.committed_revision("items")
    erp.catalogue.mutate(edit=10)
    # More failures than the configured retries.
    await erp.set_faults(fail_requests=20, fail_form="html")

    with pytest.raises(ErpResponseError):
        await run_entity(erp.settings, repository, "items")

    assert await repository.committed_revision("items") == revision
    (last, *_) = await repository.recent_runs("items")
    assert last["status"] == "failed"


async def test_shrunken_data_set_is_guard_stopped(
    erp: Erp, repository: Repository
) -> None:
    first = await run_entity(erp.settings, repository, "items")
    revision = await repository.committed_revision("items")
    live = len(await repository.live_documents("items"))
    erp.catalogue.mutate(remove=live // 2)

    with pytest.raises(MassDeletionError):
        await run_entity(erp.settings, repository, "items")

    assert first.status == "succeeded"
    assert await repository.committed_revision("items") == revision
    assert len(await repository.live_documents("items")) == live
    (last, *_) = await repository.recent_runs("items")
    assert last["status"] == "guard_stopped"
    assert "would delete" in last["error"]
