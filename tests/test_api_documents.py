"""The checked-in OpenAPI and AsyncAPI documents match the code."""

import json

from contracts import ENTITIES
from contracts.asyncapi import render_asyncapi
from hub.docs_export import DOCS_DIR, render_documents


def test_documents_are_current() -> None:
    for name, text in render_documents().items():
        path = DOCS_DIR / name
        assert path.is_file(), f"{path} missing; run python -m hub.docs_export"
        current = path.read_text(encoding="utf-8")
        assert current == text, f"{path} out of date; run python -m hub.docs_export"


def test_asyncapi_has_every_entity_queue() -> None:
    document = render_asyncapi()

    assert document["asyncapi"] == "3.0.0"
    for name in ENTITIES:
        assert (
            document["channels"][f"{name}Queue"]["address"]
            == f"store.{{storeId}}.{name}"
        )
        assert f"{name}Changes" in document["components"]["messages"]


def test_asyncapi_references_resolve() -> None:
    document = render_asyncapi()
    text = str(document)
    for ref in {part.split("'")[0] for part in text.split("'$ref': '")[1:]}:
        node = document
        for key in ref.removeprefix("#/").split("/"):
            node = node[key]
        assert node, ref


def test_openapi_lists_pull_routes() -> None:
    document = json.loads(render_documents()["openapi.json"])

    assert "/v1/stores/{store_id}/changes/{entity}" in document["paths"]
    responses = document["paths"]["/v1/stores/{store_id}/changes/{entity}"]["get"][
        "responses"
    ]
    for status in ("200", "401", "403", "404", "422", "503"):
        assert status in responses
