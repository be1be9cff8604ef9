"""The soak test tool: a short run converges, writes samples and removes its stores."""

import json
from pathlib import Path
from typing import Any

import pytest

from bench.soak import Soak, SoakOptions, memory_verdict, percentiles
from bench.soak_erp import PriceList
from hub.credentials import BrokerAdmin, broker_user_name
from hub.settings import Settings


def test_percentiles_nearest_rank() -> None:
    values = list(range(1, 101))

    figures = percentiles(values)

    assert figures == {"p50": 50, "p95": 95, "p99": 99, "max": 100}
    assert percentiles([]) == {"p50": 0, "p95": 0, "p99": 0, "max": 0}
    assert percentiles([7]) == {"p50": 7, "p95": 7, "p99": 7, "max": 7}


def _samples(api_mib: list[float]) -> list[dict[str, Any]]:
    return [{"phase": "load", "rss_mib": {"api": value}} for value in api_mib]


def test_memory_verdict_flags_growth() -> None:
    growing = memory_verdict(_samples([100, 100, 200, 200, 300, 300]))
    flat = memory_verdict(_samples([100, 100, 200, 205, 210, 205]))

    assert growing["flat"] is False
    assert growing["processes"]["api"]["growth_percent"] == 50.0
    assert flat["flat"] is True


def test_memory_verdict_skips_short_runs() -> None:
    verdict = memory_verdict(_samples([100, 400]))

    assert verdict["flat"] is True
    assert "skipped" in verdict


def test_price_list_changes_one_type() -> None:
    price_types = [
        {"Code": "000000001", "Ref_Key": "retail"},
        {"Code": "000000004", "Ref_Key": "wholesale"},
    ]
    rows = [
        {"ВидЦены_Key": kind, "Номенклатура_Key": str(n), "Цена": 100.0}
        for n in range(10)
        for kind in ("retail", "wholesale")
    ]
    prices = PriceList(rows, price_types, seed=1)

    changed = prices.change(4, "000000001")

    after = prices.rows()
    differ = [new for old, new in zip(rows, after, strict=True) if old != new]
    assert changed == 4
    assert len(differ) == 4
    assert {row["ВидЦены_Key"] for row in differ} == {"retail"}


@pytest.mark.integration
# About 90 s on an idle 2-core machine: setup, 24 s of load, catch-up, verify.
@pytest.mark.timeout(600)
async def test_short_soak_converges(tmp_path: Path) -> None:
    json_path = tmp_path / "soak.json"
    options = SoakOptions(
        minutes=0.4,
        stores=4,
        pull_share=0.5,
        offline_share=0.25,
        offline_minutes=(0.05, 0.1),
        items=200,
        change_interval_seconds=4.0,
        item_edits=5,
        price_changes=10,
        sample_interval_seconds=6.0,
        catch_up_minutes=3.0,
        pull_interval_seconds=3.0,
        heartbeat_interval_seconds=10.0,
        connector_interval_seconds=5.0,
        json_path=json_path,
    )
    soak = Soak(options)

    code = await soak.run()

    report = json.loads(json_path.read_text())
    assert code == 0, report.get("final")
    assert report["converged"] is True
    verify = report["final"]["verify"]
    assert verify["checked"] == 4 * 3
    assert verify["match"] == 4 * 3
    assert report["final"]["erp_changes"] >= 2
    assert report["final"]["hub_revision"]["items"] > 0
    samples = report["samples"]
    assert len(samples) >= 3
    assert all(sample["rss_mib"]["fleet"] > 0 for sample in samples)
    assert any("api" in sample["rss_mib"] for sample in samples)
    assert all("lag_online" in sample for sample in samples)

    store_ids = [f"{soak.prefix}{number + 2:09d}" for number in range(4)]
    async with BrokerAdmin.from_settings(Settings()) as admin:
        for store_id in store_ids:
            assert not await admin.exists(broker_user_name(store_id)), store_id
            assert await admin.store_queues(store_id) == [], store_id
