"""Fuzz the store API with schemathesis against its own OpenAPI document.

The app runs on loopback (``BackgroundServer``) on a FerretDB database of
its own, with one registered store and a few items. Generated requests
carry that store's token, and most use its id and the ``items`` entity so
they get past authentication to the handlers. Every answer must be a
documented error or conform to the response schema, and no request may get
a 5xx other than 503. The connector routes are left out because a request
there starts a run against the ERP.
"""

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
import schemathesis
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from schemathesis.specs.openapi import checks

from hub.api import create_app
from hub.repository import Repository
from hub.serving import BackgroundServer
from hub.settings import Settings
from tests.delivery_support import insert_store, item_change

pytestmark = pytest.mark.integration

MIN_REQUESTS = 1000
START_SECONDS = 30.0


@dataclass
class ServedApp:
    url: str
    store_id: str
    token: str
    stop: threading.Event = field(default_factory=threading.Event)


def _serve(settings: Settings, ready: "list[ServedApp]", up: threading.Event) -> None:
    async def run() -> None:
        repository = Repository.from_settings(settings)
        try:
            await repository.ensure_indexes()
            keys = [f"k{i}" for i in range(20)]
            await repository.write_changes("items", [item_change(k) for k in keys])
            store, token = await insert_store(repository, prefix="fz")
            app = create_app(settings, repository)
            async with BackgroundServer(app) as server:
                served = ServedApp(server.url, store.store_id, token)
                ready.append(served)
                up.set()
                await asyncio.to_thread(served.stop.wait)
        finally:
            up.set()
            await repository.client.drop_database(settings.mongo_database)
            await repository.close()

    asyncio.run(run())


@pytest.fixture
def served(settings: Settings) -> Iterator[ServedApp]:
    # A rate far above what the fuzzer sends, so responses are not all 429.
    settings = settings.model_copy(
        update={"api_rate_per_second": 100_000.0, "api_rate_burst": 100_000}
    )
    ready: list[ServedApp] = []
    up = threading.Event()
    thread = threading.Thread(target=_serve, args=(settings, ready, up), daemon=True)
    thread.start()
    assert up.wait(START_SECONDS), "the API did not start in time"
    assert ready, "the API failed to start; see the log"
    yield ready[0]
    ready[0].stop.set()
    thread.join(timeout=30)


# About 1,350 requests took 34 s against FerretDB on a busy 2-core machine.
@pytest.mark.timeout(400)
def test_fuzz_store_api(served: ServedApp) -> None:
    schema = schemathesis.openapi.from_url(f"{served.url}/openapi.json")
    operations = [
        result.ok()
        for result in schema.get_all_operations()
        if not result.ok().path.startswith("/v1/connectors")
    ]
    statuses: Counter[str] = Counter()
    undocumented: Counter[str] = Counter()
    per_operation = MIN_REQUESTS // len(operations) + 50
    headers = {"Authorization": f"Bearer {served.token}"}

    for operation in operations:
        strategy = st.tuples(operation.as_strategy(), st.booleans(), st.booleans())

        @hypothesis_settings(
            max_examples=per_operation,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(generated=strategy)
        def exercise(generated: tuple[schemathesis.Case, bool, bool]) -> None:
            case, own_store, known_entity = generated
            if "store_id" in (case.path_parameters or {}) and own_store:
                case.path_parameters["store_id"] = served.store_id
            if "entity" in (case.path_parameters or {}) and known_entity:
                case.path_parameters["entity"] = "items"
            response = case.call(base_url=served.url, headers=headers, timeout=30)
            name = f"{case.method} {case.operation.path}"
            statuses[f"{name} {response.status_code}"] += 1
            assert response.status_code < 500 or response.status_code == 503, (
                f"{name} returned {response.status_code}: {response.text[:300]}"
            )
            documented = case.operation.definition.raw.get("responses", {})
            if str(response.status_code) not in documented:
                undocumented[f"{name} {response.status_code}"] += 1
                return
            case.validate_response(
                response,
                checks=[
                    checks.response_schema_conformance,
                    checks.content_type_conformance,
                ],
            )

        exercise()

    total = sum(statuses.values())
    print(
        f"{total} requests; by operation and status: {dict(sorted(statuses.items()))}"
    )
    print(f"undocumented statuses: {dict(sorted(undocumented.items()))}")
    assert total >= MIN_REQUESTS
