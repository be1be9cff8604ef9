"""The store agent checks each entity's documents against that entity's contract."""

import pytest

from contracts import ChangeDocument, document_hash
from store_agent.validation import InvalidChangesError, check_documents

PRICE = {
    "item_ref": "8db26d53-b26d-4147-a278-01f492d1944a",
    "price_type_ref": "cd8f8818-ccfb-409c-9bd6-b72d1414bc2a",
    "price": 1187.86,
    "currency_ref": None,
    "valid_from": "2026-11-01T00:00:00",
}
STOCK = {
    "item_ref": "8db26d53-b26d-4147-a278-01f492d1944a",
    "store_id": "000000002",
    "warehouse_ref": "81d73902-0c78-4a7e-b91d-8d342665c318",
    "on_hand": 8.0,
    "reserved": 1.0,
}


def _document(data: dict[str, object]) -> ChangeDocument:
    return ChangeDocument(
        key="k", rev=1, deleted=False, hash=document_hash(data), data=data
    )


def test_price_valid_as_price() -> None:
    check_documents("prices", [_document(PRICE)])


def test_stock_valid_as_stock() -> None:
    check_documents("stock", [_document(STOCK)])


@pytest.mark.parametrize(
    ("entity", "data"), [("prices", STOCK), ("stock", PRICE), ("items", PRICE)]
)
def test_other_entity_document_rejected(entity: str, data: dict[str, object]) -> None:
    with pytest.raises(InvalidChangesError, match=f"not a valid {entity} document"):
        check_documents(entity, [_document(data)])
